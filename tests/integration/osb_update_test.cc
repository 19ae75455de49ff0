// PATCH /v2/service_instances/:instance_id — plans are not updateable and instances take no
// parameters, so every valid update is a no-op.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

std::string Str(std::string_view s) { return std::string(s); }
const std::string kSvc = R"("service_id":")" + Str(kServiceId) + "\"";
const std::string kPlan = R"("plan_id":")" + Str(kStandardPlanId) + "\"";

TEST_SUITE("osb update") {
  TEST_CASE("an update without effect answers 200 {} and changes nothing") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string instance_before =
        t.Scalar("SELECT service_id || plan_id || organization_guid || space_guid || parameters "
                 "|| maintenance_version || state FROM service_instances WHERE id = 'i-1'");
    struct Case {
      const char* name;
      std::string body;
      const char* query;
    };
    const std::vector<Case> cases = {
        {"service_id only", "{" + kSvc + "}", ""},
        {"same plan_id", "{" + kSvc + "," + kPlan + "}", ""},
        {"empty previous_values", "{" + kSvc + R"(,"previous_values":{}})", ""},
        {"full previous_values",
         "{" + kSvc + "," + kPlan + R"(,"previous_values":{"plan_id":")" + Str(kStandardPlanId) +
             R"(","service_id":")" + Str(kServiceId) + R"(","organization_id":")" +
             Str(kOrgGuid) + R"(","space_id":")" + Str(kSpaceGuid) +
             R"(","maintenance_info":{"version":"1.0.0"}}})",
         ""},
        {"empty parameters", "{" + kSvc + R"(,"parameters":{}})", ""},
        {"cf context", "{" + kSvc +
                           R"(,"context":{"platform":"cloudfoundry","organization_guid":")" +
                           Str(kOrgGuid) + R"(","space_guid":")" + Str(kSpaceGuid) +
                           R"(","instance_name":"renamed"}})",
         ""},
        {"empty maintenance_info", "{" + kSvc + R"(,"maintenance_info":{}})", ""},
        {"catalog's maintenance_info", "{" + kSvc + R"(,"maintenance_info":{"version":"1.0.0"}})",
         ""},
        {"unknown fields", "{" + kSvc + R"(,"x_vendor":[1,2,3]})", ""},
        {"accepts_incomplete=true", "{" + kSvc + "}", "accepts_incomplete=true"},
        {"accepts_incomplete=false", "{" + kSvc + "}", "accepts_incomplete=false"},
    };
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.name);
      Response r = t.Patch(InstancePath("i-1", c.query), c.body);
      CHECK(r.status == 200);
      CheckEmptyObjectBody(r);
    }
    CHECK(t.Scalar("SELECT service_id || plan_id || organization_guid || space_guid || parameters "
                   "|| maintenance_version || state FROM service_instances WHERE id = 'i-1'") ==
          instance_before);
    Response fetch = t.Get(InstancePath("i-1"));
    CHECK(fetch.status == 200);
    CHECK(StringMember(ParseJson(fetch.body), "plan_id") == Str(kStandardPlanId));
  }

  TEST_CASE("invalid updates answer 400 and change nothing") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string before = t.db.Snapshot();
    struct Case {
      const char* name;
      std::string body;
    };
    const std::vector<Case> cases = {
        {"service_id missing", "{" + kPlan + "}"},
        {"empty object", "{}"},
        {"service_id empty", R"({"service_id":""})"},
        {"service_id unknown", R"({"service_id":"00000000-0000-0000-0000-000000000000"})"},
        {"service_id a number", R"({"service_id":5})"},
        {"plan change to secure", "{" + kSvc + R"(,"plan_id":")" + Str(kSecurePlanId) + "\"}"},
        {"plan change to an unknown plan", "{" + kSvc + R"(,"plan_id":"no-such-plan"})"},
        {"plan_id a number", "{" + kSvc + R"(,"plan_id":1})"},
        {"parameters with an unknown key", "{" + kSvc + R"(,"parameters":{"foo":1}})"},
        {"parameters a string", "{" + kSvc + R"(,"parameters":"x"})"},
        {"previous_values a string", "{" + kSvc + R"(,"previous_values":"x"})"},
        {"context an array", "{" + kSvc + R"(,"context":[]})"},
        {"malformed JSON", "{" + kSvc},
        {"a JSON array", "[]"},
        {"empty body", ""},
    };
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.name);
      Response r = t.Patch(InstancePath("i-1"), c.body);
      CHECK(r.status == 400);
      CheckErrorBody(r);
      CHECK(t.db.Snapshot() == before);
    }
  }

  TEST_CASE("an update with another maintenance_info.version answers 422 MaintenanceInfoConflict") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string before = t.db.Snapshot();
    Response r = t.Patch(InstancePath("i-1"),
                         "{" + kSvc + R"(,"maintenance_info":{"version":"2.0.0"}})");
    CHECK(r.status == 422);
    CHECK(ErrorCode(r) == "MaintenanceInfoConflict");
    CheckErrorBody(r);
    CHECK(t.db.Snapshot() == before);
  }

  TEST_CASE("an update of an unknown instance answers 404") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string before = t.db.Snapshot();
    Response r = t.Patch(InstancePath("i-unknown"), "{" + kSvc + "}");
    CHECK(r.status == 404);
    CheckErrorBody(r);
    CHECK(t.db.Snapshot() == before);
  }
}

}  // namespace
}  // namespace broker::testing
