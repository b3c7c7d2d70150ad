// The simulator answers like the real services in the details that break
// integrations; these are the behaviours the plugin's tests rely on.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "plexapi/models.hpp"

using namespace pb;

class Sim : public ::testing::Test {
protected:
    void SetUp() override {
        sim.add_demo_world();
        sim.start();
        pms = "http://127.0.0.1:" + std::to_string(pms_port());
    }
    uint16_t pms_port() {
        // The demo's second connection is plain http on 127.0.0.1.
        auto r = caller.call("GET", sim.plextv_url() + "/api/v2/resources", "",
                             {{"Accept", "application/json"}, {"X-Plex-Token", sim.account_token()}});
        auto res = plexapi::parse_resources(r->body);
        for (auto& c : res->front().connections)
            if (c.uri.rfind("http://", 0) == 0) return static_cast<uint16_t>(c.port);
        return 0;
    }
    http::Result get(const std::string& url, http::Headers h = {}) { return caller.call("GET", url, "", std::move(h)); }
    sim::Simulator sim;
    pbtest::Caller caller;
    std::string pms;
};

TEST_F(Sim, PlexTvAnswersXmlUnlessJsonIsAsked) {
    http::Headers h{{"X-Plex-Client-Identifier", "cid"}};
    auto xml = caller.call("POST", sim.plextv_url() + "/api/v2/pins?strong=true", "", h);
    EXPECT_EQ(xml->status, 201);
    EXPECT_EQ(xml->body.rfind("<?xml", 0), 0u);
    h.emplace_back("Accept", "application/json");
    auto js = caller.call("POST", sim.plextv_url() + "/api/v2/pins?strong=true", "", h);
    EXPECT_EQ(js->status, 201);
    auto pin = plexapi::parse_pin(js->body);
    ASSERT_TRUE(pin);
    EXPECT_EQ(pin->code.size(), 25u) << "strong PINs have long codes";
    EXPECT_EQ(pin->expires_in_s, 1800);
    auto missing = caller.call("POST", sim.plextv_url() + "/api/v2/pins", "", {{"Accept", "application/json"}});
    EXPECT_EQ(missing->status, 400) << "X-Plex-Client-Identifier is required";
}

TEST_F(Sim, IdentityNeedsNoTokenButTheRootDoes) {
    EXPECT_EQ(get(pms + "/identity")->status, 200);
    EXPECT_EQ(get(pms + "/")->status, 401);
    EXPECT_EQ(get(pms + "/", {{"X-Plex-Token", sim.account_token()}})->status, 200);
}

TEST_F(Sim, GuidFilterMatchesThePrimaryGuidOnly) {
    http::Headers h{{"X-Plex-Token", sim.account_token()}, {"Accept", "application/json"}};
    auto by_plex = get(pms + "/library/sections/1/all?guid=plex%3A%2F%2Fmovie%2F5d776830f59e58002189813a", h);
    EXPECT_EQ(plexapi::parse_items(by_plex->body)->items.size(), 1u);
    auto by_imdb = get(pms + "/library/sections/1/all?guid=imdb%3A%2F%2Ftt0253556", h);
    EXPECT_TRUE(plexapi::parse_items(by_imdb->body)->items.empty())
        << "real PMS never matches Guid-array ids with guid=";
    auto without = plexapi::parse_items(get(pms + "/library/metadata/1036", h)->body);
    EXPECT_TRUE(without->items.front().guids.empty()) << "Guid array only with includeGuids=1";
    auto with = plexapi::parse_items(get(pms + "/library/metadata/1036?includeGuids=1", h)->body);
    EXPECT_EQ(with->items.front().guids.size(), 3u);
}

TEST_F(Sim, Paging) {
    http::Headers h{{"X-Plex-Token", sim.account_token()},
                    {"Accept", "application/json"},
                    {"X-Plex-Container-Start", "1"},
                    {"X-Plex-Container-Size", "1"}};
    auto page = plexapi::parse_items(get(pms + "/library/sections/1/all?type=1", h)->body);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->items.size(), 1u);
    EXPECT_EQ(page->offset, 1);
    EXPECT_EQ(page->total_size, 2);
}

TEST_F(Sim, WebhooksPostReplacesTheWholeList) {
    http::Headers h{{"X-Plex-Token", sim.account_token()},
                    {"Accept", "application/json"},
                    {"Content-Type", "application/x-www-form-urlencoded"}};
    ASSERT_TRUE(caller.call("POST", sim.plextv_url() + "/api/v2/user/webhooks",
                            "urls%5B%5D=http%3A%2F%2Fa&urls%5B%5D=http%3A%2F%2Fb", h));
    EXPECT_EQ(sim.webhooks(), (std::vector<std::string>{"http://a", "http://b"}));
    ASSERT_TRUE(caller.call("POST", sim.plextv_url() + "/api/v2/user/webhooks", "urls=", h));
    EXPECT_TRUE(sim.webhooks().empty());
}
