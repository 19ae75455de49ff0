// GET /v2/service_instances/:instance_id/service_bindings/:binding_id — 404 until the bind has
// succeeded, then the credentials (the only way they reach the platform after an async bind).
#include <doctest/doctest.h>

#include <regex>
#include <string>
#include <vector>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

const char* kCredentials =
    R"({"ssh_command":"ssh -p 2222 Fx9TmAteT0kEn4Fetch@tmate.example.com",)"
    R"("uri":"ssh://Fx9TmAteT0kEn4Fetch@tmate.example.com:2222","host":"tmate.example.com",)"
    R"("port":2222,"username":"Fx9TmAteT0kEn4Fetch","clone_app_name":"spring-music-ssh"})";

TEST_SUITE("osb fetch binding") {
  TEST_CASE("a binding whose bind is in progress answers 404") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    for (const std::string& query : std::vector<std::string>{std::string(), ServicePlanQuery()}) {
      BROKER_CAPTURE(query);
      Response r = t.Get(BindingPath("i-1", "b-1", query));
      CHECK(r.status == 404);
      CheckErrorBody(r);
      CHECK(!HasMember(ParseJson(r.body), "credentials"));
    }
  }

  TEST_CASE("an unknown binding answers 404") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustProvision("i-2");
    t.MustBind("i-1", "b-1");
    struct Case {
      const char* iid;
      const char* bid;
    };
    for (Case c : {Case{"i-1", "b-unknown"}, Case{"i-unknown", "b-unknown"},
                   Case{"i-2", "b-1"} /* a binding of another instance */}) {
      BROKER_CAPTURE(c.iid);
      BROKER_CAPTURE(c.bid);
      Response r = t.Get(BindingPath(c.iid, c.bid));
      CHECK(r.status == 404);
      CheckErrorBody(r);
    }
  }

  TEST_CASE("a binding whose bind succeeded answers 200 with its credentials") {
    if (!CanMarkBindingSucceeded()) {
      MESSAGE("skipped: broker/store/pg_store.h is not available to record a finished bind");
      return;
    }
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1", BindBody(kStandardPlanId, kAppGuid, R"({"ttl_minutes":30})"));
    MarkBindingSucceeded(t.db.url(), t.broker->encryption_key(), "b-1", kCredentials);
    for (const std::string& query : std::vector<std::string>{std::string(), ServicePlanQuery()}) {
      BROKER_CAPTURE(query);
      Response r = t.Get(BindingPath("i-1", "b-1", query));
      REQUIRE(r.status == 200);
      auto doc = ParseJson(r.body);
      REQUIRE(doc.IsObject());
      REQUIRE(HasMember(doc, "credentials"));
      CHECK(doc["credentials"] == ParseJson(kCredentials));
      if (HasMember(doc, "parameters")) CHECK(doc["parameters"] == ParseJson(R"({"ttl_minutes":30})"));
      // OSB: metadata.expires_at / renew_before, when sent, are yyyy-mm-ddThh:mm:ss.sZ and
      // renew_before is not later than expires_at.
      const auto& metadata = Member(doc, "metadata");
      auto expires_at = StringMember(metadata, "expires_at");
      auto renew_before = StringMember(metadata, "renew_before");
      for (const auto& stamp : {expires_at, renew_before}) {
        if (!stamp) continue;
        BROKER_CAPTURE(*stamp);
        CHECK(std::regex_match(*stamp, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z)")));
      }
      if (expires_at && renew_before) CHECK(*renew_before <= *expires_at);
      if (HasMember(metadata, "expires_at")) CHECK(expires_at.has_value());
    }
    // Credentials are encrypted at rest: the plaintext token is nowhere in the database.
    CHECK(t.db.Snapshot().find("Fx9TmAteT0kEn4Fetch") == std::string::npos);
  }

  TEST_CASE("a binding whose unbind finished answers 404") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    REQUIRE(t.Unbind("i-1", "b-1").status == 202);
    t.FinishTeardown("b-1");
    Response r = t.Get(BindingPath("i-1", "b-1"));
    CHECK(r.status == 404);
    CheckErrorBody(r);
  }
}

}  // namespace
}  // namespace broker::testing
