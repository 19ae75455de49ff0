// GET /v2/service_instances/:instance_id/last_operation — provisioning is synchronous, so a
// known instance has succeeded; only an async deprovision is ever in progress (see
// osb_deprovision_test.cc).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

TEST_SUITE("osb instance last_operation") {
  TEST_CASE("a provisioned instance answers 200 {\"state\":\"succeeded\"} with or without hints") {
    OsbTest t;
    t.MustProvision("i-1");
    for (const std::string& query : std::vector<std::string>{std::string(), ServicePlanQuery(),
                              ServicePlanQuery() + "&operation=provision",
                              std::string("operation=anything%20at%20all")}) {
      BROKER_CAPTURE(query);
      Response r = t.Get(InstanceLastOperationPath("i-1", query));
      CHECK(r.status == 200);
      auto doc = ParseJson(r.body);
      CHECK(StringMember(doc, "state") == std::string("succeeded"));
      if (doc.IsObject() && doc.HasMember("description")) {
        CHECK(!StringMember(doc, "description").value_or("").empty());
      }
    }
  }

  TEST_CASE("an unknown instance answers 404") {
    OsbTest t;
    t.MustProvision("i-1");
    for (const std::string& query : std::vector<std::string>{std::string(), ServicePlanQuery()}) {
      BROKER_CAPTURE(query);
      Response r = t.Get(InstanceLastOperationPath("i-2", query));
      CHECK(r.status == 404);
      CheckErrorBody(r);
    }
  }
}

}  // namespace
}  // namespace broker::testing
