// GET /v2/catalog: the catalog from catalog/catalog.json, unchanged.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

TEST_SUITE("osb catalog") {
  TEST_CASE("the catalog answers 200 with exactly the services of catalog/catalog.json") {
    OsbTest t;
    Response r = t.Get("/v2/catalog");
    REQUIRE(r.status == 200);
    auto served = ParseJson(r.body);
    REQUIRE(!served.HasParseError());

    std::ifstream in(std::string(BROKER_SOURCE_DIR) + "/catalog/catalog.json");
    std::stringstream file;
    file << in.rdbuf();
    auto expected = ParseJson(file.str());
    REQUIRE(!expected.HasParseError());
    CHECK_MESSAGE(served == expected, "served catalog differs from catalog/catalog.json: ",
                  r.body);

    const auto& services = Member(served, "services");
    REQUIRE(services.IsArray());
    REQUIRE(services.Size() == 1);
    const auto& service = services[0];
    CHECK(StringMember(service, "id") == std::string(kServiceId));
    CHECK(StringMember(service, "name") == std::string("ssh-access"));
    const auto& plans = Member(service, "plans");
    REQUIRE(plans.IsArray());
    CHECK(plans.Size() == 2);
    for (const auto& plan : plans.GetArray()) {
      CHECK(StringMember(Member(plan, "maintenance_info"), "version") ==
            std::string(kMaintenanceVersion));
    }
  }
}

}  // namespace
}  // namespace broker::testing
