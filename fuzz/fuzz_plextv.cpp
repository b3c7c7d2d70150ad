// plex.tv's answers, JSON or XML (plexapi/models.hpp): resources (the
// servers and their connections), PINs, the user, the webhook list and the
// error codes of error answers.
//
// Input: the first byte picks the parser (byte % 5: resources, PIN, user,
// webhooks, error code), the rest is the answer's body.
#include "fuzz_common.hpp"
#include "plexapi/models.hpp"
#include "plexapi/wire.hpp"

using namespace pb;
using fuzz::valid_utf8;

template <class R>
static void check_failure(const R& r, std::string_view body) {
    if (r) {
        // Whatever a model reads, the tree under it reads too.
        PB_FUZZ_CHECK(plexapi::parse_wire(body));
        return;
    }
    PB_FUZZ_CHECK(r.error().code == common::Errc::bad_answer);
    PB_FUZZ_CHECK(!r.error().message.empty());
}

static void resources(std::string_view body) {
    auto r = plexapi::parse_resources(body);
    check_failure(r, body);
    if (!r) return;
    for (const auto& res : *r) {
        PB_FUZZ_CHECK(valid_utf8(res.name) && valid_utf8(res.client_identifier) && valid_utf8(res.access_token));
        PB_FUZZ_CHECK(valid_utf8(res.source_title) && valid_utf8(res.public_address));
        (void)res.is_server();
        for (const auto& c : res.connections) PB_FUZZ_CHECK(valid_utf8(c.uri) && valid_utf8(c.address));
    }
}

static void pin(std::string_view body) {
    auto p = plexapi::parse_pin(body);
    check_failure(p, body);
    if (!p) return;
    // Strict about what matters: an id, a code, and a token only when one was given.
    PB_FUZZ_CHECK(p->id > 0 && !p->code.empty());
    PB_FUZZ_CHECK(!p->auth_token || !p->auth_token->empty());
    PB_FUZZ_CHECK(valid_utf8(p->code) && valid_utf8(p->client_identifier));
}

static void user(std::string_view body) {
    auto a = plexapi::parse_account(body);
    check_failure(a, body);
    if (!a) return;
    PB_FUZZ_CHECK(valid_utf8(a->username) && valid_utf8(a->email) && valid_utf8(a->title) && valid_utf8(a->uuid));
    for (const auto& f : a->features) PB_FUZZ_CHECK(valid_utf8(f));
    if (a->subscription_active || a->plexpass_role) PB_FUZZ_CHECK(a->has_plex_pass());
}

static void webhooks(std::string_view body) {
    auto w = plexapi::parse_webhooks(body);
    check_failure(w, body);
    if (!w) return;
    for (const auto& h : *w) PB_FUZZ_CHECK(!h.url.empty() && valid_utf8(h.url));
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    auto [selector, body] = fuzz::split(data, size);
    switch (selector % 5) {
        case 0: resources(body); break;
        case 1: pin(body); break;
        case 2: user(body); break;
        case 3: webhooks(body); break;
        case 4: (void)plexapi::plextv_error_code(body); break;
    }
    return 0;
}
