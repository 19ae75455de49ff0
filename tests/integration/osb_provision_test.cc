// PUT /v2/service_instances/:instance_id — synchronous provisioning.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

std::string Str(std::string_view s) { return std::string(s); }

// A provision body built member by member, for the 400 table.
std::string Body(const std::string& members) { return "{" + members + "}"; }

const std::string kSvc = R"("service_id":")" + Str(kServiceId) + "\"";
const std::string kPlan = R"("plan_id":")" + Str(kStandardPlanId) + "\"";
const std::string kOrg = R"("organization_guid":")" + Str(kOrgGuid) + "\"";
const std::string kSpace = R"("space_guid":")" + Str(kSpaceGuid) + "\"";

TEST_SUITE("osb provision") {
  TEST_CASE("a new instance is created with 201 {} whatever accepts_incomplete says") {
    OsbTest t;
    struct Case {
      const char* id;
      const char* query;
    };
    for (Case c : {Case{"i-missing", ""}, Case{"i-true", "accepts_incomplete=true"},
                   Case{"i-false", "accepts_incomplete=false"}}) {
      BROKER_CAPTURE(c.id);
      Response r = t.Provision(c.id, ProvisionBody(), c.query);
      CHECK(r.status == 201);
      CheckEmptyObjectBody(r);
      CHECK(t.Scalar("SELECT count(*) FROM service_instances WHERE id = " + SqlQuote(c.id)) ==
            "1");
      CHECK(t.Get(InstancePath(c.id)).status == 200);
    }
  }

  TEST_CASE("both plans can be provisioned") {
    OsbTest t;
    CHECK(t.Provision("i-standard", ProvisionBody(kStandardPlanId)).status == 201);
    CHECK(t.Provision("i-secure", ProvisionBody(kSecurePlanId)).status == 201);
    CHECK(t.Scalar("SELECT plan_id FROM service_instances WHERE id = 'i-secure'") ==
          Str(kSecurePlanId));
  }

  TEST_CASE("an identical re-PUT answers 200 {}") {
    OsbTest t;
    REQUIRE(t.Provision("i-1", ProvisionBody()).status == 201);
    std::string other_names = ProvisionBody();
    auto replace = [](std::string s, std::string_view from, std::string_view to) {
      s.replace(s.find(from), from.size(), to);
      return s;
    };
    other_names = replace(other_names, R"("organization_name":"org")",
                          R"("organization_name":"renamed-org")");
    other_names = replace(other_names, R"("space_name":"dev")", R"("space_name":"renamed")");
    other_names = replace(other_names, R"("instance_name":"my-ssh")",
                          R"("instance_name":"renamed-ssh")");
    struct Case {
      const char* name;
      std::string body;
      const char* query;
    };
    const std::vector<Case> cases = {
        {"same body", ProvisionBody(), ""},
        {"same body with accepts_incomplete=true", ProvisionBody(), "accepts_incomplete=true"},
        {"same body with accepts_incomplete=false", ProvisionBody(), "accepts_incomplete=false"},
        {"context names changed", other_names, ""},
        {"explicit empty parameters", ProvisionBody(kStandardPlanId, R"("parameters":{})"), ""},
        {"maintenance_info of the catalog",
         ProvisionBody(kStandardPlanId, R"("maintenance_info":{"version":"1.0.0"})"), ""},
        {"unknown fields", ProvisionBody(kStandardPlanId, R"("x_vendor_extension":{"a":1})"), ""},
    };
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.name);
      Response r = t.Provision("i-1", c.body, c.query);
      CHECK(r.status == 200);
      CheckEmptyObjectBody(r);
    }
    CHECK(t.Scalar("SELECT count(*) FROM service_instances") == "1");
  }

  TEST_CASE("a re-PUT with different attributes answers 409 and changes nothing") {
    OsbTest t;
    REQUIRE(t.Provision("i-1", ProvisionBody()).status == 201);
    const std::string before = t.db.Snapshot();
    struct Case {
      const char* name;
      std::string body;
    };
    const std::vector<Case> cases = {
        {"other plan", ProvisionBody(kSecurePlanId)},
        {"other organization",
         Body(kSvc + "," + kPlan + R"(,"organization_guid":")" + Str(kOtherOrgGuid) + "\"," +
              kSpace)},
        {"other space",
         Body(kSvc + "," + kPlan + "," + kOrg + R"(,"space_guid":")" + Str(kOtherSpaceGuid) +
              "\"")},
    };
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.name);
      Response r = t.Provision("i-1", c.body);
      CHECK(r.status == 409);
      CheckErrorBody(r);
      CHECK(t.db.Snapshot() == before);
    }
  }

  TEST_CASE("organization and space may come top-level or only from the context") {
    OsbTest t;
    {  // only the context carries them
      std::string body = Body(kSvc + "," + kPlan +
                              R"(,"context":{"platform":"cloudfoundry","organization_guid":")" +
                              Str(kOrgGuid) + R"(","space_guid":")" + Str(kSpaceGuid) + "\"}");
      Response r = t.Provision("i-ctx", body);
      CHECK(r.status == 201);
      CHECK(t.Scalar("SELECT organization_guid || ' ' || space_guid FROM service_instances "
                     "WHERE id = 'i-ctx'") == Str(kOrgGuid) + " " + Str(kSpaceGuid));
      // The same instance described top-level is identical.
      CHECK(t.Provision("i-ctx", Body(kSvc + "," + kPlan + "," + kOrg + "," + kSpace)).status ==
            200);
    }
    {  // only the top level carries them
      Response r = t.Provision("i-top", Body(kSvc + "," + kPlan + "," + kOrg + "," + kSpace));
      CHECK(r.status == 201);
      CHECK(t.Scalar("SELECT organization_guid || ' ' || space_guid FROM service_instances "
                     "WHERE id = 'i-top'") == Str(kOrgGuid) + " " + Str(kSpaceGuid));
    }
  }

  TEST_CASE("invalid provision requests answer 400 and store nothing") {
    OsbTest t;
    REQUIRE(t.Provision("existing", ProvisionBody()).status == 201);
    const std::string before = t.db.Snapshot();
    const std::string unknown_svc = R"("service_id":"00000000-0000-0000-0000-000000000000")";
    const std::string unknown_plan = R"("plan_id":"00000000-0000-0000-0000-000000000000")";
    const std::string ctx_no_guids = R"("context":{"platform":"cloudfoundry"})";
    struct Case {
      const char* name;
      std::string body;
    };
    const std::vector<Case> cases = {
        {"service_id missing", Body(kPlan + "," + kOrg + "," + kSpace)},
        {"service_id empty", Body(R"("service_id":"",)" + kPlan + "," + kOrg + "," + kSpace)},
        {"service_id unknown", Body(unknown_svc + "," + kPlan + "," + kOrg + "," + kSpace)},
        {"service_id is the plan's id",
         Body(R"("service_id":")" + Str(kStandardPlanId) + "\"," + kPlan + "," + kOrg + "," +
              kSpace)},
        {"plan_id missing", Body(kSvc + "," + kOrg + "," + kSpace)},
        {"plan_id empty", Body(kSvc + R"(,"plan_id":"",)" + kOrg + "," + kSpace)},
        {"plan_id unknown", Body(kSvc + "," + unknown_plan + "," + kOrg + "," + kSpace)},
        {"plan_id is the service's id",
         Body(kSvc + R"(,"plan_id":")" + Str(kServiceId) + "\"," + kOrg + "," + kSpace)},
        {"organization_guid missing everywhere", Body(kSvc + "," + kPlan + "," + kSpace)},
        {"organization_guid empty and absent from context",
         Body(kSvc + "," + kPlan + R"(,"organization_guid":"",)" + kSpace + "," + ctx_no_guids)},
        {"space_guid missing everywhere", Body(kSvc + "," + kPlan + "," + kOrg)},
        {"space_guid empty and absent from context",
         Body(kSvc + "," + kPlan + "," + kOrg + R"(,"space_guid":"",)" + ctx_no_guids)},
        {"context guids empty",
         Body(kSvc + "," + kPlan +
              R"(,"context":{"platform":"cloudfoundry","organization_guid":"","space_guid":""})")},
        {"parameters a string", ProvisionBody(kStandardPlanId, R"("parameters":"x")")},
        {"parameters an array", ProvisionBody(kStandardPlanId, R"("parameters":[])")},
        {"parameters a number", ProvisionBody(kStandardPlanId, R"("parameters":1)")},
        {"parameters with an unknown key", ProvisionBody(kStandardPlanId, R"("parameters":{"foo":1})")},
        {"parameters with a bind-only key",
         ProvisionBody(kStandardPlanId, R"("parameters":{"ttl_minutes":30})")},
        {"context a string", Body(kSvc + "," + kPlan + "," + kOrg + "," + kSpace +
                                  R"(,"context":"cloudfoundry")")},
        {"context an array", Body(kSvc + "," + kPlan + "," + kOrg + "," + kSpace +
                                  R"(,"context":[])")},
        {"maintenance_info a string",
         ProvisionBody(kStandardPlanId, R"("maintenance_info":"1.0.0")")},
        {"maintenance_info.version a number",
         ProvisionBody(kStandardPlanId, R"("maintenance_info":{"version":1})")},
        {"organization_guid a number",
         Body(kSvc + "," + kPlan + R"(,"organization_guid":7,)" + kSpace)},
        {"space_guid an object", Body(kSvc + "," + kPlan + "," + kOrg + R"(,"space_guid":{})")},
        {"service_id a number", Body(R"("service_id":42,)" + kPlan + "," + kOrg + "," + kSpace)},
        {"plan_id an array", Body(kSvc + R"(,"plan_id":[],)" + kOrg + "," + kSpace)},
    };
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.name);
      Response r = t.Provision("i-new", c.body);
      CHECK(r.status == 400);
      CheckErrorBody(r);
      CHECK(t.db.Snapshot() == before);
    }
    // The same requests against an existing id are refused the same way.
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.name);
      Response r = t.Provision("existing", c.body);
      CHECK(r.status == 400);
      CHECK(t.db.Snapshot() == before);
    }
  }

  TEST_CASE("maintenance_info.version other than the catalog's answers 422 "
            "MaintenanceInfoConflict") {
    OsbTest t;
    const std::string before = t.db.Snapshot();
    for (const char* version : {"2.0.0", "0.9.0", "1.0.1", "1.0.0-rc1"}) {
      BROKER_CAPTURE(version);
      Response r = t.Provision(
          "i-mi", ProvisionBody(kStandardPlanId, R"("maintenance_info":{"version":")" +
                                                     std::string(version) + "\"}"));
      CHECK(r.status == 422);
      CHECK(ErrorCode(r) == "MaintenanceInfoConflict");
      CheckErrorBody(r);
      CHECK(t.db.Snapshot() == before);
    }
    // An empty maintenance_info, or the catalog's version, is no conflict.
    CHECK(t.Provision("i-empty-mi", ProvisionBody(kStandardPlanId, R"("maintenance_info":{})"))
              .status == 201);
    CHECK(t.Provision("i-same-mi",
                      ProvisionBody(kStandardPlanId, R"("maintenance_info":{"version":"1.0.0"})"))
              .status == 201);
  }

  TEST_CASE("percent-encoded instance ids and query values are decoded") {
    OsbTest t;
    // "a b%2Fc" travels as a%20b%252Fc.
    Response r = t.Provision("a%20b%252Fc", ProvisionBody());
    CHECK(r.status == 201);
    CHECK(t.Scalar("SELECT id FROM service_instances") == "a b%2Fc");
    CHECK(t.Get(InstancePath("a%20b%252Fc")).status == 200);
    CHECK(t.Get(InstancePath("a%20b%2Fc")).status == 404);  // "a b/c" is another id
    // The same id fully encoded is the same id.
    CHECK(t.Provision(PercentEncodeAll("a b%2Fc"), ProvisionBody()).status == 200);
    // Query values are decoded too: every character of the ids percent-encoded.
    std::string query = "service_id=" + PercentEncodeAll(kServiceId) +
                        "&plan_id=" + PercentEncodeAll(kStandardPlanId);
    CHECK(t.Get(InstancePath("a%20b%252Fc", query)).status == 200);
    Response del = t.Delete(InstancePath("a%20b%252Fc", query));
    CHECK(del.status == 200);
    CheckEmptyObjectBody(del);
    CHECK(t.Get(InstancePath("a%20b%252Fc")).status == 404);
  }
}

}  // namespace
}  // namespace broker::testing
