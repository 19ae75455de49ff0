// Configuration comes from the environment and is validated at startup: a bad variable stops the
// broker with a non-zero exit and a line naming it; DATABASE_URL may come from VCAP_SERVICES.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

// True when some line of `output` contains `needle`.
bool SomeLineNames(const std::string& output, const std::string& needle) {
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string Base64OfBytes(size_t n) { return Base64Encode(std::string(n, '\x5a')); }

TEST_SUITE("osb config") {
  TEST_CASE("the broker refuses to start with a line naming the invalid variable") {
    TestDatabase db;
    struct Case {
      const char* name;
      EnvOverrides overrides;
      const char* variable;   // the line must name it
      std::string not_shown;  // the output must not repeat it (a secret), when non-empty
    };
    const std::string short_key = Base64OfBytes(16);
    const std::vector<Case> cases = {
        {"encryption key missing", {{"BROKER_ENCRYPTION_KEY", std::nullopt}}, "BROKER_ENCRYPTION_KEY", ""},
        {"encryption key empty", {{"BROKER_ENCRYPTION_KEY", ""}}, "BROKER_ENCRYPTION_KEY", ""},
        {"encryption key of 16 bytes", {{"BROKER_ENCRYPTION_KEY", short_key}}, "BROKER_ENCRYPTION_KEY",
         short_key},
        {"encryption key of 31 bytes", {{"BROKER_ENCRYPTION_KEY", Base64OfBytes(31)}},
         "BROKER_ENCRYPTION_KEY", Base64OfBytes(31)},
        {"encryption key of 33 bytes", {{"BROKER_ENCRYPTION_KEY", Base64OfBytes(33)}},
         "BROKER_ENCRYPTION_KEY", Base64OfBytes(33)},
        {"encryption key not base64", {{"BROKER_ENCRYPTION_KEY", "this is not base64 at all!!!!!!!!!!!!!!!!!"}},
         "BROKER_ENCRYPTION_KEY", "this is not base64 at all"},
        {"encryption key as 32 raw characters",
         {{"BROKER_ENCRYPTION_KEY", "0123456789abcdef0123456789abcdef"}}, "BROKER_ENCRYPTION_KEY",
         "0123456789abcdef0123456789abcdef"},
        {"password missing", {{"SECURITY_USER_PASSWORD", std::nullopt}}, "SECURITY_USER_PASSWORD", ""},
        {"port not a number", {{"PORT", "http"}}, "PORT", ""},
        {"port with trailing junk", {{"PORT", "80abc"}}, "PORT", ""},
        {"database url missing and no VCAP_SERVICES", {{"DATABASE_URL", std::nullopt}},
         "DATABASE_URL", ""},
        // cloud_controller_ng app/messages/metadata_validator_helper.rb: a key prefix is a DNS
        // name with a dot, so CC would refuse every clone and every label_selector.
        {"metadata prefix without a dot", {{"CLONE_METADATA_PREFIX", "ssh-access"}}, "CLONE_METADATA_PREFIX", ""},
        // A step retry budget as long as the shipped plans' 1800 s bind deadline: an outage would
        // end a bind as "not ready in time" instead of naming what kept failing.
        {"step retry budget past the plans' deadline", {{"CLONE_STEP_RETRY_BUDGET_SECONDS", "1800"}},
         "CLONE_STEP_RETRY_BUDGET_SECONDS", ""},
    };
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.name);
      ExitResult r = RunBrokerUntilExit(MakeBrokerEnv(db.url(), c.overrides));
      INFO("output:\n", r.output);
      CHECK_FALSE(r.timed_out);
      CHECK(r.exited);
      CHECK(r.exit_code != 0);
      CHECK_MESSAGE(SomeLineNames(r.output, c.variable), "no line names ", c.variable);
      if (!c.not_shown.empty()) CHECK(r.output.find(c.not_shown) == std::string::npos);
    }
  }

  TEST_CASE("without a postgres service in VCAP_SERVICES a missing DATABASE_URL stops the broker") {
    TestDatabase db;
    const std::string vcap =
        R"({"p-mysql":[{"name":"db","credentials":{"uri":"mysql://u:p@h:3306/d"}}],)"
        R"("user-provided":[{"name":"x","credentials":{"url":"https://example.com"}}]})";
    ExitResult r = RunBrokerUntilExit(
        MakeBrokerEnv(db.url(), {{"DATABASE_URL", std::nullopt}, {"VCAP_SERVICES", vcap}}));
    INFO("output:\n", r.output);
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code != 0);
    CHECK((SomeLineNames(r.output, "DATABASE_URL") || SomeLineNames(r.output, "VCAP_SERVICES")));
  }

  TEST_CASE("DATABASE_URL may come from the first postgres credentials.uri in VCAP_SERVICES") {
    struct Case {
      const char* name;
      const char* scheme;  // replaces the URL's scheme
      bool decoys;         // other services come first
    };
    for (Case c : {Case{"postgresql:// uri", "postgresql://", false},
                   Case{"postgres:// uri", "postgres://", false},
                   Case{"after other services", "postgresql://", true}}) {
      BROKER_CAPTURE(c.name);
      TestDatabase db;
      std::string url = db.url();
      url = c.scheme + url.substr(url.find("://") + 3);
      std::string vcap = "{";
      if (c.decoys) {
        vcap += R"("p-redis":[{"name":"cache","credentials":{"uri":"redis://h:6379"}}],)"
                R"("user-provided":[{"name":"nouri","credentials":{"password":"x"}}],)";
      }
      vcap += R"("postgres":[{"name":"broker-db","credentials":{"uri":")" + url +
              R"("}},{"name":"second-db","credentials":{"uri":"postgresql://nobody@127.0.0.1:1/none"}}]})";
      BrokerProcess broker(db.url(), {{"DATABASE_URL", std::nullopt}, {"VCAP_SERVICES", vcap}});
      HttpClient http(broker.base_url(), broker.username(), broker.password());
      Response r = http.Put(InstancePath("i-vcap"), ProvisionBody());
      INFO("provision: ", r.Describe());
      CHECK(r.status == 201);
      // It really used that database (and schema).
      auto rows = db.Query("SELECT id FROM service_instances");
      REQUIRE(rows.size() == 1);
      CHECK(rows[0][0] == "i-vcap");
    }
  }

  TEST_CASE("BROKER_USERNAME and BROKER_PASSWORD are accepted instead of SECURITY_USER_*") {
    TestDatabase db;
    BrokerProcess broker(db.url(), {{"SECURITY_USER_NAME", std::nullopt},
                                    {"SECURITY_USER_PASSWORD", std::nullopt},
                                    {"BROKER_USERNAME", "alt-user"},
                                    {"BROKER_PASSWORD", "alt-Passw0rd-123"}});
    HttpClient http(broker.base_url(), "alt-user", "alt-Passw0rd-123");
    CHECK(http.Get("/v2/catalog").status == 200);
    HttpClient wrong(broker.base_url(), "alt-user", "other");
    CHECK(wrong.Get("/v2/catalog").status == 401);
  }
}

}  // namespace
}  // namespace broker::testing
