// The fault matrix, plex.tv side: each way plex.tv fails, at each step
// that calls it (starting a sign-in, checking the token, listing servers).
// Every cell: a plain answer that says plex.tv is at fault (never an
// internal error, never an HTML page passed on), the saved sign-in kept and
// never declared dead, and the same step working once plex.tv is back.
// The PMS side and the plugin's own files have their cells in the other
// suites; docs/reliability.md lists the whole matrix.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace bj = boost::json;
using pb::sim::PlexTvFault;

namespace {

enum class Fault { unavailable = 1, http_500, garbage, slow, rate_limited, refused };
enum class Step { start_sign_in = 1, check_token, list_servers };

std::string name_of(Fault f) {
    switch (f) {
        case Fault::unavailable: return "503";
        case Fault::http_500: return "500";
        case Fault::garbage: return "garbage";
        case Fault::slow: return "slow";
        case Fault::rate_limited: return "429";
        case Fault::refused: return "refused";
    }
    return "?";
}
std::string name_of(Step s) {
    switch (s) {
        case Step::start_sign_in: return "StartSignIn";
        case Step::check_token: return "CheckToken";
        case Step::list_servers: return "ListServers";
    }
    return "?";
}

class PlexTvFaults : public ::testing::TestWithParam<std::tuple<Fault, Step>> {
protected:
    void SetUp() override {
        sim.add_connection(pbtest::add_home_server(sim, "faults-machine-0001"), pb::sim::ConnectionSpec{});
        sim.start();
        rig = std::make_unique<pbtest::HostRig>(sim);
        ASSERT_TRUE(rig->start()) << rig->error;
        ASSERT_TRUE(rig->sign_in());
        sealed = std::string(rig->settings_object().at("token").as_string());
    }
    void break_plextv(Fault f) {
        switch (f) {
            case Fault::unavailable: return sim.set_plextv_down(true);
            case Fault::http_500: return sim.set_plextv_fault(PlexTvFault::http_500);
            case Fault::garbage: return sim.set_plextv_fault(PlexTvFault::garbage);
            case Fault::slow: return sim.set_plextv_fault(PlexTvFault::slow);
            case Fault::rate_limited: return sim.set_plextv_rate_limit(1000, 120);  // longer than the plugin waits
            case Fault::refused:
                ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"plextv_url": "http://127.0.0.1:1"})").status,
                          200);
                return;
        }
    }
    void mend_plextv(Fault f) {
        sim.set_plextv_down(false);
        sim.set_plextv_fault(PlexTvFault::none);
        sim.set_plextv_rate_limit(0, 1);
        if (f == Fault::refused) {
            ASSERT_EQ(
                rig->api("PATCH", "/api/settings/plex", R"({"plextv_url": ")" + sim.plextv_url() + R"("})").status,
                200);
        }
    }
    pbtest::ApiAnswer run(Step s) {
        switch (s) {
            case Step::start_sign_in: return rig->api("POST", "/api/plex/oauth/pin");
            case Step::check_token: return rig->api("GET", "/api/plex/oauth/validate");
            case Step::list_servers: return rig->api("GET", "/api/plex/oauth/servers?refresh=1");
        }
        return {};
    }
    // What "it worked" looks like for each step.
    static bool worked(Step s, const pbtest::ApiAnswer& a) {
        if (a.status != 200 || !a.json.is_object()) return false;
        const auto& d = a.json.at("data");
        switch (s) {
            case Step::start_sign_in: return d.as_object().contains("code");
            case Step::check_token: return d.at("valid") == bj::value(true);
            case Step::list_servers: return d.is_array() && !d.as_array().empty();
        }
        return false;
    }

    pb::sim::Simulator sim;
    std::unique_ptr<pbtest::HostRig> rig;
    std::string sealed;
};

}  // namespace

TEST_P(PlexTvFaults, SaidInWordsNothingLostAndWorksWhenPlexTvIsBack) {
    const auto [fault, step] = GetParam();
    break_plextv(fault);
    auto a = run(step);
    if (fault == Fault::slow) {
        EXPECT_TRUE(worked(step, a)) << "slow is not broken: " << a.status << " " << a.body;
    } else {
        EXPECT_FALSE(worked(step, a)) << a.body;
        EXPECT_NE(a.status, 500) << "not an internal error: " << a.body;
        EXPECT_EQ(a.body.find("<html"), std::string::npos) << "plex.tv's page is not passed on: " << a.body;
        ASSERT_TRUE(a.json.is_object()) << a.body;
        // The words name plex.tv, wherever the step puts them.
        const auto* error = a.json.as_object().if_contains("error");
        const auto* message = a.json.as_object().contains("data") && a.json.at("data").is_object()
                                  ? a.json.at("data").as_object().if_contains("message")
                                  : nullptr;
        const bj::value* words = error ? error : message;
        ASSERT_TRUE(words && words->is_string()) << a.body;
        EXPECT_NE(std::string(words->as_string()).find("plex.tv"), std::string::npos) << a.body;
        if (step == Step::check_token && a.json.as_object().contains("data")) {
            EXPECT_NE(a.json.at("data").at("valid"), bj::value(false)) << "plex.tv failing is not a bad token";
        }
    }
    // Nothing lost: the sign-in is kept, and not declared dead.
    EXPECT_EQ(std::string(rig->settings_object().at("token").as_string()), sealed);
    auto status = rig->api("GET", "/api/plex/status");
    EXPECT_NE(status.json.at("data").at("account").at("state"), bj::value("rejected")) << status.body;
    mend_plextv(fault);
    auto again = run(step);
    EXPECT_TRUE(worked(step, again)) << "works again once plex.tv is back: " << again.body;
}

INSTANTIATE_TEST_SUITE_P(
    Matrix, PlexTvFaults,
    ::testing::Combine(::testing::Values(Fault::unavailable, Fault::http_500, Fault::garbage, Fault::slow,
                                         Fault::rate_limited, Fault::refused),
                       ::testing::Values(Step::start_sign_in, Step::check_token, Step::list_servers)),
    [](const auto& info) { return name_of(std::get<1>(info.param)) + "_" + name_of(std::get<0>(info.param)); });

// ---- Plex Media Server side, while refreshes are queued -----------------------

namespace {

constexpr const char* kPmsMachine = "faults-pms-machine-01";

class PmsFaults : public ::testing::Test {
protected:
    void SetUp() override {
        server = pbtest::add_home_server(sim, kPmsMachine);
        first = sim.add_connection(server, pb::sim::ConnectionSpec{});
        second = sim.add_connection(server, pb::sim::ConnectionSpec{});
        sim.start();
        rig = std::make_unique<pbtest::HostRig>(sim);
        ASSERT_TRUE(
            rig->start({{"update_movie_library", "true"}, {"set_movie_added", "true"}, {"connect_timeout_ms", "500"}}))
            << rig->error;
        ASSERT_TRUE(rig->sign_in());
        ASSERT_EQ(rig->api("GET", "/api/plex/oauth/servers").status, 200);
        ASSERT_EQ(rig->api("POST", "/api/plex/select-server",
                           R"({"machineIdentifier":")" + std::string(kPmsMachine) + R"(","uri":"http://127.0.0.1:)" +
                               std::to_string(first) + R"("})")
                      .status,
                  200);
    }
    void fire(const std::string& media) {
        auto r = rig->api("POST", "/api/host/events", R"({"event":"subtitle.downloaded","media":)" + media + "}");
        ASSERT_EQ(r.status, 202) << r.body;
    }
    bj::value status() { return rig->api("GET", "/api/plex/status").json.at("data"); }
    int depth() { return static_cast<int>(status().at("queue").at("depth").as_int64()); }

    pb::sim::Simulator sim;
    std::size_t server = 0;
    uint16_t first = 0, second = 0;
    std::unique_ptr<pbtest::HostRig> rig;
};

const char* kInterstate60 = R"({"type":"movie","imdb":"tt0165832"})";

}  // namespace

// Plex answers 500 to the edit that sets the added date (a busy database):
// the status says so in words, the job is retried, and the date is set.
TEST_F(PmsFaults, A500OnTheAddedDateEditIsSaidRetriedAndTheDateSet) {
    sim.fail_next(server, "PUT", "/library/sections/1/all", 500);
    fire(pbtest::kReignOfFire);
    ASSERT_TRUE(pbtest::eventually([&] { return !status().at("last_error").is_null(); }));
    const std::string said(status().at("last_error").at("message").as_string());
    EXPECT_NE(said.find("setting the added date failed"), std::string::npos) << said;
    ASSERT_TRUE(pbtest::eventually(
        [&] {
            auto edits = sim.requests_matching("PUT", "/library/sections/1/all");
            return edits.size() == 2 && edits.back().status == 200 && depth() == 0;
        },
        std::chrono::seconds(15)))
        << "retried once, then set";
    EXPECT_EQ(sim.requests_matching("PUT", "/library/sections/1/all").front().status, 500);
}

// The connection in use dies while refreshes wait in the queue: they go out
// through the server's other connection, none is lost, and the new address
// is the one in use.
TEST_F(PmsFaults, TheConnectionInUseDiesMidQueueAndTheRefreshesGoOutThroughAnother) {
    sim.set_slow_answers(server, std::chrono::milliseconds(300));
    fire(pbtest::kReignOfFire);
    ASSERT_TRUE(pbtest::eventually([&] { return !sim.requests_matching("PUT", "/library/metadata/").empty(); }))
        << "the first refresh is on its way";
    fire(kInterstate60);
    sim.kill_connection(first);
    ASSERT_TRUE(pbtest::eventually(
        [&] {
            return !sim.requests_matching("PUT", "/library/metadata/108/refresh").empty() &&
                   !sim.requests_matching("PUT", "/library/metadata/1036/refresh").empty() && depth() == 0;
        },
        std::chrono::seconds(20)))
        << status();
    EXPECT_EQ(std::string(rig->settings_object().at("server_url").as_string()),
              "http://127.0.0.1:" + std::to_string(second));
}
