// Issue 17's corruption cases, sent to the real broker binary on a real PostgreSQL: each is a 4xx
// whose description says what is wrong and where, and none changes what is stored. Before the one
// JSON entry point (broker/base/json.h) and the checks on decoded URLs, a lone low surrogate was a
// 500, NUL in an id was cut off by libpq (X%00y created X; a bind's app_guid lost its tail and an
// identical re-send got 409), 1.7348623157e309 was stored as invalid JSON, a byte-order mark and
// duplicate members passed, equal numbers had different canonical text, and an identity header of
// 150k '[' overflowed the stack.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "broker/base/digest.h"
#include "broker/base/encoding.h"
#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

std::string Str(std::string_view s) { return std::string(s); }

// A provision body whose context holds `context_members` (",\"k\":v" pieces) after CF's own.
std::string ProvisionWithContext(std::string_view context_members) {
  return R"({"service_id":")" + Str(kServiceId) + R"(","plan_id":")" + Str(kStandardPlanId) +
         R"(","organization_guid":")" + Str(kOrgGuid) + R"(","space_guid":")" + Str(kSpaceGuid) +
         R"(","context":{"platform":"cloudfoundry")" + Str(context_members) + "}}";
}

std::string UpdateWithContext(std::string_view context_members) {
  return R"({"service_id":")" + Str(kServiceId) + R"(","context":{"platform":"cloudfoundry")" + Str(context_members) +
         "}}";
}

std::string Description(const Response& r) {
  const rapidjson::Document doc = ParseJson(r.body);
  return StringMember(doc, "description").value_or("");
}

// A 400 with an OSB error body whose description holds every one of `says`.
void Check400(const Response& r, const std::vector<std::string>& says) {
  CHECK_MESSAGE(r.status == 400, r.Describe());
  CheckErrorBody(r);
  const std::string d = Description(r);
  for (const std::string& s : says) CHECK_MESSAGE(d.find(s) != std::string::npos, "description: ", d, " lacks ", s);
}

Response Provision(OsbTest& t, std::string_view path, std::string body, Headers headers = {}) {
  Request req;
  req.method = "PUT";
  req.path = Str(path);
  req.body = std::move(body);
  req.headers = std::move(headers);
  return t.Send(req);
}

TEST_SUITE("osb json edge") {
  TEST_CASE("corrupt request bodies are 400 naming the reason and the field, and store nothing") {
    OsbTest t;
    const std::string before = t.db.Snapshot();
    struct Case {
      const char* name;
      std::string body;
      std::vector<std::string> says;
    };
    const std::vector<Case> cases = {
        // Was a 500: the surrogate became invalid UTF-8 that PostgreSQL refused.
        {"a lone low surrogate", ProvisionWithContext(R"(,"x":"\udc00")"), {"UTF-8", "context.x", "at offset"}},
        // Was stored as {"n":,...}.
        {"a number beyond a double",
         ProvisionWithContext(R"(,"n":1.7348623157e309)"),
         {"outside the range of a double", "context.n"}},
        {"NUL in a context string", ProvisionWithContext(R"(,"note":"a\u0000b")"), {"NUL", "context.note"}},
        // Both were skipped and the body accepted.
        {"a leading byte-order mark", "\xEF\xBB\xBF" + ProvisionWithContext(""), {"byte-order mark", "at offset 0"}},
        {"a stray byte-order-mark byte", "\xEF" + ProvisionWithContext(""), {"not valid JSON", "at offset 0"}},
        // The first was used, the second silently dropped.
        {"a duplicate member",
         ProvisionWithContext(R"(,"space_guid":"a","space_guid":"b")"),
         {"appears twice", "context.space_guid"}},
        {"a duplicate top-level member",
         ProvisionWithContext("").insert(1, R"("plan_id":")" + Str(kSecurePlanId) + "\","),
         {"appears twice", "plan_id"}},
        {"nesting deeper than 64",
         ProvisionWithContext(R"(,"deep":)" + std::string(100, '[') + std::string(100, ']')),
         {"nested more than 64 deep", "context.deep[0]"}},
    };
    for (const Case& c : cases) {
      BROKER_CAPTURE(c.name);
      Check400(t.Provision("i-corrupt", c.body), c.says);
    }
    CHECK(t.Scalar("SELECT count(*) FROM service_instances") == "0");
    CHECK(t.db.Snapshot() == before);
    // The broker is still fine with a clean body.
    CHECK(t.Provision("i-corrupt").status == 201);
  }

  TEST_CASE("an instance id with %00 or bytes that are not UTF-8 is a 400, and nothing is created") {
    OsbTest t;
    const std::string before = t.db.Snapshot();
    for (const char* id : {"X%00y", "%00", "X%FFy", "X%ED%B0%80"}) {
      BROKER_CAPTURE(id);
      const Response r = t.Provision(id);
      Check400(r, {"URL"});
    }
    // Was: X%00y created instance X.
    CHECK(t.Scalar("SELECT count(*) FROM service_instances") == "0");
    CHECK(t.db.Snapshot() == before);
    SUBCASE("when the id is an existing instance's followed by %00") {
      t.MustProvision("X");
      const std::string with_x = t.db.Snapshot();
      Check400(t.Delete(InstancePath("X%00y", ServicePlanQuery())), {"NUL"});
      Check400(t.Get(InstancePath("X%00y")), {"NUL"});
      CHECK(t.db.Snapshot() == with_x);
    }
  }

  TEST_CASE("a bind whose app_guid holds \\u0000 is a 400 every time, never a clone of the guid before it") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string before = t.db.Snapshot();
    const std::string body = BindBody(kStandardPlanId, Str(kAppGuid) + "\\u0000x");
    for (int attempt = 0; attempt < 2; ++attempt) {  // was 202, then 409 for the identical re-send
      BROKER_CAPTURE(attempt);
      Check400(t.Bind("i-1", "b-nul", body), {"NUL", "bind_resource.app_guid"});
    }
    const std::string top = R"({"service_id":")" + Str(kServiceId) + R"(","plan_id":")" + Str(kStandardPlanId) +
                            R"(","app_guid":")" + Str(kAppGuid) + R"(\u0000x"})";
    Check400(t.Bind("i-1", "b-nul", top), {"NUL", "app_guid"});
    CHECK(t.Scalar("SELECT count(*) FROM service_bindings") == "0");
    CHECK(t.Scalar("SELECT count(*) FROM jobs") == "0");
    CHECK(t.db.Snapshot() == before);
    // The binding id is still free.
    t.MustBind("i-1", "b-nul");
    CHECK(t.Scalar("SELECT app_guid FROM service_bindings WHERE id = 'b-nul'") == Str(kAppGuid));
  }

  TEST_CASE("numbers are stored in one canonical spelling: valid JSON, equal numbers equal text, re-sends 200") {
    OsbTest t;
    const std::string numbers =
        R"(,"big":123456789012345678901234567890,"u":18446744073709551616,"e":1e21,"h":100,"f":0.1,"z":-0)";
    const std::string body = ProvisionWithContext(numbers);
    REQUIRE(t.Provision("i-n", body).status == 201);
    const std::string stored = t.Scalar("SELECT context FROM service_instances WHERE id = 'i-n'");
    CHECK(stored == R"({"big":1.2345678901234568e+29,"e":1e+21,"f":0.1,"h":100,"platform":"cloudfoundry",)"
                    R"("u":18446744073709551616,"z":0})");
    // PostgreSQL reads it as JSON (it could not read {"n":,...}).
    CHECK(t.Scalar("SELECT (context::jsonb ->> 'h') FROM service_instances WHERE id = 'i-n'") == "100");
    // An identical re-send is identical.
    CHECK(t.Provision("i-n", body).status == 200);
    const std::string events = t.Scalar("SELECT count(*) FROM events WHERE instance_id = 'i-n'");
    // The same numbers spelt otherwise are no change: no update, no event.
    const Response r = t.Patch(InstancePath("i-n"), UpdateWithContext(R"(,"big":1.2345678901234568e29,)"
                                                                      R"("u":1.8446744073709552e19,)"
                                                                      R"("e":1000000000000000000000,"h":1e2,)"
                                                                      R"("f":1e-1,"z":0.0)"));
    CHECK_MESSAGE(r.status == 200, r.Describe());
    CHECK(t.Scalar("SELECT context FROM service_instances WHERE id = 'i-n'") == stored);
    CHECK(t.Scalar("SELECT count(*) FROM events WHERE instance_id = 'i-n'") == events);
  }

  TEST_CASE("a malformed originating identity is a 400 naming the header; 150k '[' does not bring the broker down") {
    OsbTest t;
    const std::string before = t.db.Snapshot();
    const std::string name = "X-Broker-API-Originating-Identity";
    struct Case {
      const char* name;
      std::string value;
      std::string says;
    };
    const std::vector<Case> cases = {
        {"1000 nested arrays", "cloudfoundry " + Base64Encode(std::string(1000, '[')), "nested more than 64 deep"},
        {"a lone low surrogate", "cloudfoundry " + Base64Encode(R"({"user_id":"\udc00"})"), "user_id"},
        {"NUL in the user id", "cloudfoundry " + Base64Encode(R"({"user_id":"u\u0000x"})"), "NUL"},
        {"not base64", "cloudfoundry !!!", "base64"},
        {"no platform", "garbage", name},
    };
    for (const Case& c : cases) {
      BROKER_CAPTURE(c.name);
      const Response r = Provision(t, InstancePath("i-id"), ProvisionBody(), {{name, c.value}});
      Check400(r, {name, c.says});
    }
    {  // Was a stack overflow (130,805 ParseArray frames): the broker died.
      const Response r = Provision(t, InstancePath("i-id"), ProvisionBody(),
                                   {{name, "cloudfoundry " + Base64Encode(std::string(150000, '['))}});
      CHECK_MESSAGE((r.status == 400 || r.status == 431), r.Describe());
      if (r.status == 400) CHECK(Description(r).find(name) != std::string::npos);
      CHECK(t.broker->running());
      CHECK(t.Get("/v2/catalog").status == 200);
    }
    CHECK(t.db.Snapshot() == before);
    // A well-formed identity is still accepted.
    const Response ok = Provision(t, InstancePath("i-id"), ProvisionBody(),
                                  {{name, "cloudfoundry " + Base64Encode(R"({"user_id":"u-1"})")}});
    CHECK_MESSAGE(ok.status == 201, ok.Describe());
  }

  TEST_CASE("a session report with a duplicate or unpaired-surrogate member is a 400 and changes nothing") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    const std::string token = "c10neT0kenF0rJsonEdgeTest0123456789abcdefgh";
    t.db.Query("UPDATE service_bindings SET session_token_hash = " + SqlQuote(base::Sha256Hex(token)) +
               " WHERE id = 'b-1'");
    const std::string before = t.db.Snapshot();
    const std::string ssh1 = "ssh -p2222 ZtUe8FunVPV2CcSbG4s22rK3f@tmate.example.com";
    const std::string ssh2 = "ssh u3kqnRX9CVnAdHArTFJWgL6r2@tmate2.example.com";
    struct Case {
      const char* name;
      std::string body;
      std::vector<std::string> says;
    };
    const std::vector<Case> cases = {
        {"two ssh_command members",
         R"({"ssh_command":")" + ssh1 + R"(","ssh_command":")" + ssh2 + "\"}",
         {"appears twice", "ssh_command"}},
        {"a lone surrogate in tmate_lines",
         R"({"tmate_lines":["ssh session: )" + ssh1 + R"(","\udc00"]})",
         {"UTF-8", "tmate_lines[1]"}},
        {"a leading byte-order mark", "\xEF\xBB\xBF{\"ssh_command\":\"" + ssh1 + "\"}", {"byte-order mark"}},
    };
    for (const Case& c : cases) {
      BROKER_CAPTURE(c.name);
      Request r;
      r.method = "POST";
      r.path = "/ssh-access/v1/bindings/b-1/session";
      r.auth = Auth::None();
      r.api_version = std::nullopt;
      r.headers = {{"Authorization", "Bearer " + token}};
      r.body = c.body;
      Check400(t.http->Send(r), c.says);
    }
    CHECK(t.db.Snapshot() == before);
  }
}

}  // namespace
}  // namespace broker::testing
