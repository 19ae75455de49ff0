// GET /v2/service_instances/:instance_id
#include <doctest/doctest.h>

#include <string>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

TEST_SUITE("osb fetch instance") {
  TEST_CASE("a provisioned instance answers 200 with its service, plan and parameters") {
    OsbTest t;
    REQUIRE(t.Provision("i-std", ProvisionBody(kStandardPlanId, R"("parameters":{})")).status ==
            201);
    REQUIRE(t.Provision("i-sec", ProvisionBody(kSecurePlanId,
                                               R"("maintenance_info":{"version":"1.0.0"})"))
                .status == 201);
    struct Case {
      const char* id;
      std::string_view plan_id;
      std::string query;
    };
    for (const Case& c : {Case{"i-std", kStandardPlanId, ""},
                          Case{"i-std", kStandardPlanId, ServicePlanQuery(kStandardPlanId)},
                          Case{"i-sec", kSecurePlanId, ""},
                          Case{"i-sec", kSecurePlanId, ServicePlanQuery(kSecurePlanId)}}) {
      BROKER_CAPTURE(c.id);
      BROKER_CAPTURE(c.query);
      Response r = t.Get(InstancePath(c.id, c.query));
      REQUIRE(r.status == 200);
      auto doc = ParseJson(r.body);
      REQUIRE(doc.IsObject());
      CHECK(StringMember(doc, "service_id") == std::string(kServiceId));
      CHECK(StringMember(doc, "plan_id") == std::string(c.plan_id));
      REQUIRE(doc.HasMember("parameters"));
      CHECK(doc["parameters"].IsObject());
      CHECK(doc["parameters"].MemberCount() == 0);
      if (doc.HasMember("maintenance_info")) {
        CHECK(StringMember(doc["maintenance_info"], "version") ==
              std::string(kMaintenanceVersion));
      }
    }
  }

  TEST_CASE("an unknown instance answers 404") {
    OsbTest t;
    t.MustProvision("i-1");
    for (const char* id : {"i-2", "I-1", "i-1%20", "i"}) {
      BROKER_CAPTURE(id);
      Response r = t.Get(InstancePath(id));
      CHECK(r.status == 404);
      CheckErrorBody(r);
    }
  }

  TEST_CASE("a deprovisioned instance answers 404") {
    OsbTest t;
    t.MustProvision("i-1");
    REQUIRE(t.Delete(InstancePath("i-1", ServicePlanQuery())).status == 200);
    Response r = t.Get(InstancePath("i-1"));
    CHECK(r.status == 404);
    CheckErrorBody(r);
  }
}

}  // namespace
}  // namespace broker::testing
