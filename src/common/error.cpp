#include "common/error.hpp"

namespace pb::common {

std::string_view peer_name(Peer peer) {
    switch (peer) {
        case Peer::plextv: return "plex.tv";
        case Peer::pms: return "Plex Media Server";
        case Peer::other: return "server";
        case Peer::local: return "plexbridge";
    }
    return "server";
}

std::string_view to_string(Errc code) {
    switch (code) {
        case Errc::invalid_request: return "invalid_request";
        case Errc::resolve: return "resolve";
        case Errc::refused: return "refused";
        case Errc::unreachable: return "unreachable";
        case Errc::connect_timed_out: return "connect_timed_out";
        case Errc::timed_out: return "timed_out";
        case Errc::tls: return "tls";
        case Errc::reset: return "reset";
        case Errc::too_large: return "too_large";
        case Errc::parse: return "parse";
        case Errc::cancelled: return "cancelled";
        case Errc::http_status: return "http_status";
        case Errc::token_rejected: return "token_rejected";
        case Errc::forbidden: return "forbidden";
        case Errc::not_found: return "not_found";
        case Errc::bad_answer: return "bad_answer";
        case Errc::rate_limited: return "rate_limited";
        case Errc::bad_request: return "bad_request";
        case Errc::not_signed_in: return "not_signed_in";
        case Errc::no_server: return "no_server";
        case Errc::storage: return "storage";
        case Errc::unavailable: return "unavailable";
        case Errc::internal: return "internal";
        case Errc::secret_not_sealed: return "secret_not_sealed";
        case Errc::secret_damaged: return "secret_damaged";
        case Errc::secret_wrong_key: return "secret_wrong_key";
        case Errc::pin_not_found: return "pin_not_found";
        case Errc::pin_expired: return "pin_expired";
        case Errc::state_missing: return "state_missing";
        case Errc::state_mismatch: return "state_mismatch";
        case Errc::unknown_address: return "unknown_address";
        case Errc::server_not_found: return "server_not_found";
        case Errc::plex_pass_required: return "plex_pass_required";
        case Errc::webhook_unset: return "webhook_unset";
        case Errc::webhook_unauthorized: return "webhook_unauthorized";
        case Errc::webhook_malformed: return "webhook_malformed";
        case Errc::webhook_content_type: return "webhook_content_type";
        case Errc::webhook_not_found: return "webhook_not_found";
        case Errc::media_unknown: return "media_unknown";
        case Errc::search_refused: return "search_refused";
        case Errc::token_expired: return "token_expired";
        case Errc::wrong_pin: return "wrong_pin";
        case Errc::profile_unknown: return "profile_unknown";
        case Errc::profile_limit: return "profile_limit";
    }
    return "unknown";
}

Error Error::context(std::string_view what) const {
    Error e = *this;
    e.message = std::string(what) + ": " + message;
    return e;
}

std::string answered_http(std::string_view who, int status) {
    std::string out(who);
    if (!out.empty()) out += ' ';
    return out + "answered HTTP " + std::to_string(status);
}

// A peer's failure, by who failed. plex.tv and the server have names of
// their own so that a page can tell "plex.tv is down" from "your server is".
static RouteAnswer peer_answer(Errc code, Peer peer) {
    const bool tv = peer == Peer::plextv;
    switch (code) {
        case Errc::connect_timed_out:
        case Errc::timed_out: return {504, tv ? "PLEX_TV_TIMEOUT" : "PLEX_SERVER_UNREACHABLE"};
        case Errc::invalid_request:
        case Errc::resolve:
        case Errc::refused:
        case Errc::unreachable:
        case Errc::tls:
        case Errc::reset: return {503, tv ? "PLEX_TV_UNREACHABLE" : "PLEX_SERVER_UNREACHABLE"};
        case Errc::too_large:
        case Errc::parse:
        case Errc::http_status:
        case Errc::bad_answer: return {502, tv ? "PLEX_TV_BAD_ANSWER" : "PLEX_SERVER_BAD_ANSWER"};
        default: return {500, "PLEX_INTERNAL"};
    }
}

RouteAnswer route_answer(const Error& e) {
    switch (e.code) {
        case Errc::cancelled:
        case Errc::unavailable: return {503, "PLEX_UNAVAILABLE"};
        case Errc::token_rejected: return {401, "PLEX_TOKEN_INVALID"};
        case Errc::forbidden: return {403, "PLEX_FORBIDDEN"};
        case Errc::not_found: return {404, "PLEX_NOT_FOUND"};
        case Errc::bad_request: return {400, "PLEX_BAD_REQUEST"};
        case Errc::not_signed_in:
        case Errc::secret_not_sealed:
        case Errc::secret_damaged:
        case Errc::secret_wrong_key: return {401, "PLEX_NOT_SIGNED_IN"};
        case Errc::no_server: return {409, "PLEX_NO_SERVER"};
        case Errc::storage: return {500, "PLEX_STORAGE"};
        case Errc::internal: return {500, "PLEX_INTERNAL"};
        case Errc::pin_not_found: return {404, "PLEX_PIN_NOT_FOUND"};
        case Errc::pin_expired: return {410, "PLEX_PIN_EXPIRED"};
        case Errc::state_missing: return {400, "PLEX_STATE_MISSING"};
        case Errc::state_mismatch: return {403, "PLEX_STATE_MISMATCH"};
        case Errc::unknown_address: return {403, "PLEX_UNKNOWN_ADDRESS"};
        case Errc::server_not_found: return {404, "PLEX_SERVER_NOT_FOUND"};
        case Errc::plex_pass_required: return {403, "PLEX_PASS_REQUIRED"};
        case Errc::webhook_unset: return {400, "PLEX_WEBHOOK_URL_UNSET"};
        case Errc::webhook_unauthorized: return {401, "PLEX_WEBHOOK_UNAUTHORIZED"};
        case Errc::webhook_malformed: return {400, "PLEX_WEBHOOK_MALFORMED"};
        case Errc::webhook_content_type: return {415, "PLEX_WEBHOOK_CONTENT_TYPE"};
        case Errc::webhook_not_found: return {404, "PLEX_WEBHOOK_NOT_FOUND"};
        case Errc::media_unknown: return {404, "PLEX_MEDIA_UNKNOWN"};
        case Errc::search_refused: return {503, "PLEX_SEARCH_REFUSED"};
        case Errc::rate_limited: return {429, "PLEX_RATE_LIMITED"};
        case Errc::token_expired: return {401, "PLEX_TOKEN_EXPIRED"};
        case Errc::wrong_pin: return {403, "PLEX_HOME_PIN_WRONG"};
        case Errc::profile_unknown: return {404, "PLEX_PROFILE_UNKNOWN"};
        case Errc::profile_limit: return {409, "PLEX_PROFILE_LIMIT"};
        default:
            if (e.peer == Peer::local && e.code == Errc::too_large) return {413, "PLEX_BODY_TOO_LARGE"};
            return peer_answer(e.code, e.peer);
    }
}

}  // namespace pb::common
