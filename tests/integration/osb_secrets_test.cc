// Secrets never reach the broker's log: not the broker's credentials in any form, not the
// encryption key, not binding credentials, not the database password.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

constexpr const char* kDbPassword = "Pg5ecretPassw0rd4LogTest";
constexpr const char* kWrongPassword = "Wr0ngPassw0rdAttempt4LogTest";
constexpr const char* kSessionToken = "Sx3TmAteT0kEn4SecretsTest";

TEST_SUITE("osb secrets") {
  TEST_CASE("after a run of requests the log holds no password, key, credential or DB password") {
    // Give the broker a DATABASE_URL with a password when the test cluster takes one (it has
    // one already, or it trusts local connections so any password works).
    std::string db_password;
    OsbTest t([&](TestDatabase& db) -> EnvOverrides {
      db_password = PasswordOf(db.url());
      if (!db_password.empty()) return {};
      std::string with_password = WithPassword(db.url(), kDbPassword);
      if (with_password == db.url() || !CanConnect(with_password)) return {};
      db_password = kDbPassword;
      return {{"DATABASE_URL", with_password}};
    });
    if (db_password.empty()) MESSAGE("the database password part is skipped: no password in use");

    const std::string user = t.broker->username();
    const std::string password = t.broker->password();
    const std::string key = t.broker->encryption_key();
    const std::string credentials =
        std::string(R"({"ssh_command":"ssh -p 2222 )") + kSessionToken +
        R"(@tmate.example.com","uri":"ssh://)" + kSessionToken +
        R"(@tmate.example.com:2222","username":")" + kSessionToken + R"("})";

    // A run touching every endpoint, with successes and failures.
    Request with_identity;
    with_identity.path = "/v2/catalog";
    with_identity.headers = {
        {"X-Broker-API-Request-Identity", "e2b4e0d8-0c3d-4c83-a9f0-1f6c1e2b3c4d"},
        {"X-Broker-API-Originating-Identity",
         "cloudfoundry " + Base64Encode(R"({"user_id":"683ea748-3092-4ff4-b656-39cacc4d5360"})")}};
    CHECK(t.Send(with_identity).status == 200);
    t.MustProvision("i-1");
    CHECK(t.Provision("i-1").status == 200);
    CHECK(t.Get(InstancePath("i-1")).status == 200);
    CHECK(t.Patch(InstancePath("i-1"), R"({"service_id":")" + std::string(kServiceId) + "\"}")
              .status == 200);
    const std::string bind_body =
        BindBody(kStandardPlanId, kAppGuid, "{\"authorized_keys\":[\"" + std::string(kSshKey) + "\"]}");
    const std::string op = t.MustBind("i-1", "b-1", bind_body);
    CHECK(t.Bind("i-1", "b-1", bind_body).status == 202);
    CHECK(t.Get(BindingLastOperationPath("i-1", "b-1", "operation=" + op)).status == 200);
    if (CanMarkBindingSucceeded()) {
      MarkBindingSucceeded(t.db.url(), key, "b-1", credentials);
      CHECK(t.Get(BindingPath("i-1", "b-1")).status == 200);
      CHECK(t.Bind("i-1", "b-1", bind_body).status == 200);
    } else {
      MESSAGE("the binding credentials part is skipped: broker/store/pg_store.h is not available");
    }
    Request wrong;
    wrong.path = "/v2/catalog";
    wrong.auth = Auth::Basic(user, kWrongPassword);
    CHECK(t.Send(wrong).status == 401);
    wrong.auth = Auth::Basic(password, password);
    CHECK(t.Send(wrong).status == 401);
    wrong.path = InstancePath("i-1");
    wrong.method = "PUT";
    wrong.body = ProvisionBody();
    wrong.auth = Auth::Default();
    wrong.api_version = "1.0";
    CHECK(t.Send(wrong).status == 412);
    CHECK(t.Delete(InstancePath("i-1", ServicePlanQuery())).status == 422);
    CHECK(t.Unbind("i-1", "b-1").status == 202);
    CHECK(t.Get(BindingLastOperationPath("i-1", "b-1")).status == 200);
    t.broker->Stop();  // flush whatever is buffered

    const std::string log = t.broker->Log();
    REQUIRE_MESSAGE(!log.empty(), "the broker logged nothing, so there is nothing to check");
    struct Secret {
      const char* what;
      std::string value;
    };
    std::vector<Secret> secrets = {
        {"the broker password", password},
        {"the Authorization header value", BasicAuthHeaderValue(user, password)},
        {"base64(user:password)", Base64Encode(user + ":" + password)},
        {"a wrong password someone tried", kWrongPassword},
        {"base64 of a wrong login", Base64Encode(user + ":" + std::string(kWrongPassword))},
        {"the encryption key", key},
    };
    if (CanMarkBindingSucceeded()) secrets.push_back({"the tmate session token", kSessionToken});
    if (!db_password.empty()) secrets.push_back({"the database password", db_password});
    for (const auto& s : secrets) {
      BROKER_CAPTURE(s.what);
      REQUIRE(!s.value.empty());
      size_t at = log.find(s.value);
      CHECK_MESSAGE(at == std::string::npos, s.what, " appears in the log: ...",
                    log.substr(at == std::string::npos ? 0 : (at > 80 ? at - 80 : 0), 200), "...");
    }
  }
}

}  // namespace
}  // namespace broker::testing
