// PUT /v2/service_instances/:instance_id/service_bindings/:binding_id — asynchronous bind: the
// request records the binding and one clone job and answers 202; a worker does the rest.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

std::string Str(std::string_view s) { return std::string(s); }
const std::string kSvc = R"("service_id":")" + Str(kServiceId) + "\"";
const std::string kPlan = R"("plan_id":")" + Str(kStandardPlanId) + "\"";
const std::string kKey = "\"" + Str(kSshKey) + "\"";

const char* kCredentials =
    R"({"ssh_command":"ssh -p 2222 Bq7xTmAteT0kEn4Tests@tmate.example.com",)"
    R"("uri":"ssh://Bq7xTmAteT0kEn4Tests@tmate.example.com:2222",)"
    R"("host":"tmate.example.com","port":2222,"username":"Bq7xTmAteT0kEn4Tests",)"
    R"("clone_app_name":"spring-music-ssh"})";

TEST_SUITE("osb bind") {
  TEST_CASE("bind without accepts_incomplete=true answers 422 AsyncRequired and stores nothing") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string before = t.db.Snapshot();
    for (const char* query : {"", "accepts_incomplete=false", "accepts_incomplete="}) {
      BROKER_CAPTURE(query);
      Response r = t.Bind("i-1", "b-1", BindBody(), query);
      CHECK(r.status == 422);
      CHECK(ErrorCode(r) == "AsyncRequired");
      CheckErrorBody(r);
      CHECK(t.db.Snapshot() == before);
    }
  }

  TEST_CASE("bind without an app answers 422 RequiresApp and stores nothing") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string before = t.db.Snapshot();
    struct Case {
      const char* name;
      std::string body;
    };
    const std::vector<Case> cases = {
        {"service key",
         "{" + kSvc + "," + kPlan +
             R"(,"bind_resource":{"credential_client_id":"cc_service_key_client"},)" +
             R"("context":{"platform":"cloudfoundry"}})"},
        {"empty bind_resource", "{" + kSvc + "," + kPlan + R"(,"bind_resource":{}})"},
        {"no bind_resource", "{" + kSvc + "," + kPlan + "}"},
        {"empty app_guid everywhere",
         "{" + kSvc + "," + kPlan + R"(,"app_guid":"","bind_resource":{"app_guid":""}})"},
    };
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.name);
      Response r = t.Bind("i-1", "b-1", c.body);
      CHECK(r.status == 422);
      CHECK(ErrorCode(r) == "RequiresApp");
      CheckErrorBody(r);
      CHECK(t.db.Snapshot() == before);
    }
  }

  TEST_CASE("the app may come as bind_resource.app_guid, as top-level app_guid, or as both") {
    OsbTest t;
    t.MustProvision("i-1");
    struct Case {
      const char* bid;
      std::string body;
    };
    const std::vector<Case> cases = {
        {"b-resource", "{" + kSvc + "," + kPlan + R"(,"bind_resource":{"app_guid":")" +
                           Str(kAppGuid) + "\"}}"},
        {"b-top-level", "{" + kSvc + "," + kPlan + R"(,"app_guid":")" + Str(kAppGuid) + "\"}"},
        {"b-top-level-empty-resource", "{" + kSvc + "," + kPlan + R"(,"app_guid":")" +
                                           Str(kAppGuid) + R"(","bind_resource":{}})"},
        {"b-both", "{" + kSvc + "," + kPlan + R"(,"app_guid":")" + Str(kAppGuid) +
                       R"(","bind_resource":{"app_guid":")" + Str(kAppGuid) +
                       R"(","space_guid":")" + Str(kSpaceGuid) + "\"}}"},
    };
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.bid);
      Response r = t.Bind("i-1", c.bid, c.body);
      CHECK(r.status == 202);
      CHECK(IsOperationToken(OperationOf(r), "bind"));
      CHECK(t.Scalar("SELECT app_guid FROM service_bindings WHERE id = " + SqlQuote(c.bid)) ==
            Str(kAppGuid));
    }
  }

  TEST_CASE("a new bind answers 202 with only an operation and records the binding and one "
            "clone job") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustProvision("i-sec", kSecurePlanId);
    struct Case {
      const char* iid;
      const char* bid;
      std::string body;
    };
    const std::vector<Case> cases = {
        {"i-1", "b-plain", BindBody()},
        {"i-1", "b-all-params",
         BindBody(kStandardPlanId, kAppGuid,
                  "{\"authorized_keys\":[" + kKey +
                      R"(],"ttl_minutes":480,"memory_mb":1024,"strict":true})")},
        {"i-1", "b-min-params",
         BindBody(kStandardPlanId, kAppGuid,
                  R"({"authorized_keys":[],"ttl_minutes":5,"memory_mb":64,"strict":false})")},
        {"i-1", "b-empty-params", BindBody(kStandardPlanId, kAppGuid, "{}")},
        {"i-1", "b-unknown-fields", BindBody(kStandardPlanId, kAppGuid, "", R"("x_vendor":{"a":[]})")},
        {"i-sec", "b-secure", BindBody(kSecurePlanId, kAppGuid, "{\"authorized_keys\":[" + kKey + "]}")},
        {"i-sec", "b-secure-ttl",
         BindBody(kSecurePlanId, kAppGuid, "{\"authorized_keys\":[" + kKey + R"(],"ttl_minutes":60})")},
    };
    std::vector<std::string> operations;
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.bid);
      Response r = t.Bind(c.iid, c.bid, c.body);
      REQUIRE(r.status == 202);
      auto doc = ParseJson(r.body);
      REQUIRE(doc.IsObject());
      CHECK_MESSAGE(doc.MemberCount() == 1, "a 202 bind body carries only the operation: ", r.body);
      CHECK(!doc.HasMember("credentials"));
      const std::string op = OperationOf(r);
      CHECK_MESSAGE(IsOperationToken(op, "bind"), "operation: ", op);
      for (const auto& seen : operations) CHECK(seen != op);
      operations.push_back(op);

      auto rows = t.db.Query("SELECT instance_id, app_guid, operation, state, deleted_at IS NULL "
                             "FROM service_bindings WHERE id = " + SqlQuote(c.bid));
      REQUIRE(rows.size() == 1);
      CHECK(rows[0][0] == c.iid);
      CHECK(rows[0][1] == Str(kAppGuid));
      CHECK(rows[0][2] == "bind");
      CHECK(rows[0][3] == "in progress");
      CHECK(rows[0][4] == "t");
      CHECK(t.CountJobs(c.bid, "clone") == 1);
      CHECK(t.CountJobs(c.bid, "teardown") == 0);
      CHECK(t.Scalar("SELECT count(*) FROM jobs WHERE binding_id = " + SqlQuote(c.bid) +
                     " AND status IN ('available', 'running', 'retryable')") == "1");
    }
  }

  TEST_CASE("an identical bind while it is in progress answers 202 with the same operation") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string body =
        BindBody(kStandardPlanId, kAppGuid, R"({"ttl_minutes":30,"memory_mb":256})");
    const std::string op = t.MustBind("i-1", "b-1", body);
    // Key order and whitespace do not make a request different.
    const std::string reordered =
        BindBody(kStandardPlanId, kAppGuid, R"({ "memory_mb" : 256, "ttl_minutes" : 30 })");
    for (const std::string& again : {body, body, reordered}) {
      Response r = t.Bind("i-1", "b-1", again);
      CHECK(r.status == 202);
      CHECK(OperationOf(r) == op);
      CHECK(!HasMember(ParseJson(r.body), "credentials"));
    }
    CHECK(t.CountJobs("b-1", "clone") == 1);
    CHECK(t.Scalar("SELECT count(*) FROM service_bindings") == "1");
  }

  TEST_CASE("a bind with another app, plan or parameters than the existing one answers 409 and "
            "changes nothing") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1", BindBody(kStandardPlanId, kAppGuid, R"({"ttl_minutes":30})"));
    const std::string before = t.db.Snapshot();
    struct Case {
      const char* name;
      std::string body;
    };
    const std::vector<Case> cases = {
        {"other app", BindBody(kStandardPlanId, kOtherAppGuid, R"({"ttl_minutes":30})")},
        {"other parameter value", BindBody(kStandardPlanId, kAppGuid, R"({"ttl_minutes":31})")},
        {"extra parameter",
         BindBody(kStandardPlanId, kAppGuid, R"({"ttl_minutes":30,"strict":true})")},
        {"no parameters", BindBody(kStandardPlanId, kAppGuid)},
    };
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.name);
      Response r = t.Bind("i-1", "b-1", c.body);
      CHECK(r.status == 409);
      CheckErrorBody(r);
      CHECK(t.db.Snapshot() == before);
    }
  }

  TEST_CASE("a bind reusing a binding id under another instance answers 409 and changes nothing") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustProvision("i-2");
    t.MustBind("i-1", "b-1");
    const std::string before = t.db.Snapshot();
    Response r = t.Bind("i-2", "b-1", BindBody());
    CHECK(r.status == 409);
    CheckErrorBody(r);
    CHECK(t.db.Snapshot() == before);
  }

  TEST_CASE("invalid bind requests answer 400, say what is wrong and store nothing") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustProvision("i-sec", kSecurePlanId);
    const std::string before = t.db.Snapshot();
    const std::string app = R"("bind_resource":{"app_guid":")" + Str(kAppGuid) + "\"}";
    struct Case {
      const char* name;
      const char* iid;
      std::string body;
      const char* mentions;  // the description names this, when non-empty
    };
    auto std_params = [](const std::string& p) { return BindBody(kStandardPlanId, kAppGuid, p); };
    auto sec_params = [](const std::string& p) { return BindBody(kSecurePlanId, kAppGuid, p); };
    const std::vector<Case> cases = {
        {"service_id missing", "i-1", "{" + kPlan + "," + app + "}", ""},
        {"service_id empty", "i-1", R"({"service_id":"",)" + kPlan + "," + app + "}", ""},
        {"service_id unknown", "i-1",
         R"({"service_id":"00000000-0000-0000-0000-000000000000",)" + kPlan + "," + app + "}", ""},
        {"plan_id missing", "i-1", "{" + kSvc + "," + app + "}", ""},
        {"plan_id empty", "i-1", "{" + kSvc + R"(,"plan_id":"",)" + app + "}", ""},
        {"plan_id unknown", "i-1", "{" + kSvc + R"(,"plan_id":"no-such-plan",)" + app + "}", ""},
        {"ttl_minutes below 5", "i-1", std_params(R"({"ttl_minutes":4})"), "ttl_minutes"},
        {"ttl_minutes above 480", "i-1", std_params(R"({"ttl_minutes":481})"), "ttl_minutes"},
        {"ttl_minutes a string", "i-1", std_params(R"({"ttl_minutes":"30"})"), "ttl_minutes"},
        {"ttl_minutes a fraction", "i-1", std_params(R"({"ttl_minutes":30.5})"), "ttl_minutes"},
        {"ttl_minutes null", "i-1", std_params(R"({"ttl_minutes":null})"), "ttl_minutes"},
        {"memory_mb below 64", "i-1", std_params(R"({"memory_mb":63})"), "memory_mb"},
        {"memory_mb above 1024", "i-1", std_params(R"({"memory_mb":1025})"), "memory_mb"},
        {"memory_mb negative", "i-1", std_params(R"({"memory_mb":-1})"), "memory_mb"},
        {"strict a string", "i-1", std_params(R"({"strict":"true"})"), "strict"},
        {"strict a number", "i-1", std_params(R"({"strict":1})"), "strict"},
        {"authorized_keys a string", "i-1", std_params("{\"authorized_keys\":" + kKey + "}"),
         "authorized_keys"},
        {"authorized_keys holding a number", "i-1", std_params(R"({"authorized_keys":[123]})"),
         "authorized_keys"},
        {"authorized_keys holding a non-key", "i-1",
         std_params(R"({"authorized_keys":["not a key"]})"), "authorized_keys"},
        {"authorized_keys holding a private key header", "i-1",
         std_params(R"({"authorized_keys":["-----BEGIN OPENSSH PRIVATE KEY-----"]})"),
         "authorized_keys"},
        {"authorized_keys with a newline inside", "i-1",
         std_params("{\"authorized_keys\":[\"" + Str(kSshKey) + "\\nssh-rsa AAAA\"]}"),
         "authorized_keys"},
        {"unknown parameter", "i-1", std_params(R"({"foo":1})"), "foo"},
        {"parameters a string", "i-1", std_params(R"("x")"), "parameters"},
        {"parameters an array", "i-1", std_params(R"([])"), "parameters"},
        {"secure plan without authorized_keys", "i-sec", sec_params(R"({"ttl_minutes":30})"),
         "authorized_keys"},
        {"secure plan without parameters", "i-sec", BindBody(kSecurePlanId, kAppGuid),
         "authorized_keys"},
        {"secure plan with no keys", "i-sec", sec_params(R"({"authorized_keys":[]})"),
         "authorized_keys"},
        {"secure plan with ttl_minutes above 60", "i-sec",
         sec_params("{\"authorized_keys\":[" + kKey + R"(],"ttl_minutes":61})"), "ttl_minutes"},
        {"bind_resource a string", "i-1", "{" + kSvc + "," + kPlan + R"(,"bind_resource":"app"})",
         ""},
        {"bind_resource.app_guid a number", "i-1",
         "{" + kSvc + "," + kPlan + R"(,"bind_resource":{"app_guid":5}})", ""},
        {"app_guid a number", "i-1", "{" + kSvc + "," + kPlan + R"(,"app_guid":5})", ""},
        {"context a string", "i-1", "{" + kSvc + "," + kPlan + "," + app + R"(,"context":"cf"})",
         ""},
        {"malformed JSON", "i-1", "{" + kSvc + "," + kPlan, ""},
        {"a JSON array", "i-1", "[]", ""},
        {"empty body", "i-1", "", ""},
    };
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.name);
      Response r = t.Bind(c.iid, "b-new", c.body);
      CHECK(r.status == 400);
      CheckErrorBody(r);
      if (*c.mentions != '\0') {
        auto description = StringMember(ParseJson(r.body), "description").value_or("");
        CHECK_MESSAGE(description.find(c.mentions) != std::string::npos,
                      "description does not mention ", c.mentions, ": ", description);
      }
      CHECK(t.db.Snapshot() == before);
    }
  }

  TEST_CASE("bind to an unknown instance answers 404 and stores nothing") {
    OsbTest t;
    t.MustProvision("i-1");
    const std::string before = t.db.Snapshot();
    Response r = t.Bind("i-unknown", "b-1", BindBody());
    CHECK(r.status == 404);
    CheckErrorBody(r);
    CHECK(t.db.Snapshot() == before);
  }

  TEST_CASE("percent-encoded binding ids are decoded") {
    OsbTest t;
    t.MustProvision("i%201");
    const std::string op = [&] {
      Response r = t.Bind("i%201", "b%201%252F", BindBody());
      REQUIRE(r.status == 202);
      return OperationOf(r);
    }();
    CHECK(t.Scalar("SELECT instance_id || '|' || id FROM service_bindings") == "i 1|b 1%2F");
    Response again = t.Bind(PercentEncodeAll("i 1"), PercentEncodeAll("b 1%2F"), BindBody());
    CHECK(again.status == 202);
    CHECK(OperationOf(again) == op);
    Response poll = t.Get(BindingLastOperationPath("i%201", "b%201%252F",
                                                   "operation=" + PercentEncodeAll(op)));
    CHECK(poll.status == 200);
    CHECK(StringMember(ParseJson(poll.body), "state") == std::string("in progress"));
  }

  TEST_CASE("an identical bind after the bind succeeded answers 200 with the credentials") {
    if (!CanMarkBindingSucceeded()) {
      MESSAGE("skipped: broker/store/pg_store.h is not available to record a finished bind");
      return;
    }
    OsbTest t;
    t.MustProvision("i-1");
    const std::string body = BindBody(kStandardPlanId, kAppGuid, R"({"ttl_minutes":30})");
    t.MustBind("i-1", "b-1", body);
    MarkBindingSucceeded(t.db.url(), t.broker->encryption_key(), "b-1", kCredentials);

    Response r = t.Bind("i-1", "b-1", body);
    CHECK(r.status == 200);
    auto doc = ParseJson(r.body);
    REQUIRE(doc.IsObject());
    REQUIRE(doc.HasMember("credentials"));
    CHECK(doc["credentials"] == ParseJson(kCredentials));
    CHECK(!doc.HasMember("operation"));
    // Still different requests conflict.
    CHECK(t.Bind("i-1", "b-1", BindBody(kStandardPlanId, kOtherAppGuid, R"({"ttl_minutes":30})"))
              .status == 409);
    CHECK(t.CountJobs("b-1", "clone") == 1);
  }
}

}  // namespace
}  // namespace broker::testing
