// A table of malformed requests across every endpoint: each gets its 4xx, a JSON error body, and
// leaves the database exactly as it was.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

std::string Str(std::string_view s) { return std::string(s); }

struct Malformed {
  std::string name;
  std::string method;
  std::string path;
  std::optional<std::string> body;
  long status;  // 0: any 4xx
  Auth auth = Auth::Default();
  std::optional<std::string> version = "2.17";
  Headers headers = {};
};

std::vector<Malformed> Table(const std::string& user, const std::string& password) {
  const std::string svc = R"("service_id":")" + Str(kServiceId) + "\"";
  const std::string plan = R"("plan_id":")" + Str(kStandardPlanId) + "\"";
  const std::string org = R"("organization_guid":")" + Str(kOrgGuid) + "\"";
  const std::string space = R"("space_guid":")" + Str(kSpaceGuid) + "\"";
  const std::string app = R"("bind_resource":{"app_guid":")" + Str(kAppGuid) + "\"}";
  const std::string q = ServicePlanQuery();
  const std::string new_instance = InstancePath("i-new");
  const std::string existing = InstancePath("i-1");
  const std::string new_binding = BindingPath("i-1", "b-new", "accepts_incomplete=true");
  const std::string existing_binding = BindingPath("i-1", "b-1", "accepts_incomplete=true");
  auto provision = [&](std::string members) { return "{" + members + "}"; };
  auto valid_provision = [&](std::string extra) {
    return provision(svc + "," + plan + "," + org + "," + space + (extra.empty() ? "" : ",") + extra);
  };
  auto valid_bind = [&](std::string extra) {
    return "{" + svc + "," + plan + "," + app + (extra.empty() ? "" : ",") + extra + "}";
  };
  std::string deep(30000, '[');
  deep += std::string(30000, ']');
  std::string huge = valid_provision(R"("context":{"note":")" + std::string(80 * 1024, 'x') + "\"}");

  std::vector<Malformed> t = {
      // Authentication comes first, whatever else is wrong.
      {"no credentials", "PUT", new_instance, valid_provision(""), 401, Auth::None()},
      {"wrong password", "PUT", new_instance, valid_provision(""), 401, Auth::Basic(user, "nope")},
      {"wrong user", "PUT", new_instance, valid_provision(""), 401, Auth::Basic("admin", password)},
      {"bearer token", "PUT", new_instance, valid_provision(""), 401, Auth::None(), "2.17",
       {{"Authorization", "Bearer " + password}}},
      {"Authorization not base64", "PUT", new_instance, valid_provision(""), 401, Auth::None(),
       "2.17", {{"Authorization", "Basic %%%%"}}},
      {"no credentials and garbage body", "PUT", new_instance, "\x01\x02garbage", 401,
       Auth::None()},
      {"no credentials and no version", "DELETE", InstancePath("i-1", q), std::nullopt, 401,
       Auth::None(), std::nullopt},
      {"wrong password on unbind", "DELETE", BindingPath("i-1", "b-1", "accepts_incomplete=true&" + q),
       std::nullopt, 401, Auth::Basic(user, password + password)},
      // Then the version header.
      {"version missing", "PUT", new_instance, valid_provision(""), 412, Auth::Default(),
       std::nullopt},
      {"version empty", "PUT", new_instance, valid_provision(""), 412, Auth::Default(), ""},
      {"version not a number", "PUT", new_instance, valid_provision(""), 412, Auth::Default(),
       "latest"},
      {"version 3.0", "PATCH", existing, "{" + svc + "}", 412, Auth::Default(), "3.0"},
      {"version 1.14", "DELETE", InstancePath("i-1", q), std::nullopt, 412, Auth::Default(), "1.14"},
      {"version 2.13", "PUT", existing_binding, valid_bind(""), 412, Auth::Default(), "2.13"},
      {"version 2.9", "PUT", new_instance, valid_provision(""), 412, Auth::Default(), "2.9"},
      {"bad version and garbage body", "PUT", new_instance, "{{{", 412, Auth::Default(), "x"},
      // Bodies that are not a JSON object.
      {"provision: truncated JSON", "PUT", new_instance, "{" + svc, 400},
      {"provision: not JSON", "PUT", new_instance, "service_id=abc", 400},
      {"provision: empty body", "PUT", new_instance, "", 400},
      {"provision: no body", "PUT", new_instance, std::nullopt, 400},
      {"provision: array", "PUT", new_instance, "[" + valid_provision("") + "]", 400},
      {"provision: null", "PUT", new_instance, "null", 400},
      {"provision: number", "PUT", new_instance, "42", 400},
      {"provision: string", "PUT", new_instance, "\"{}\"", 400},
      {"provision: trailing garbage", "PUT", new_instance, valid_provision("") + "x", 400},
      {"provision: two objects", "PUT", new_instance, valid_provision("") + "{}", 400},
      {"provision: deeply nested array", "PUT", new_instance, deep, 400},
      {"provision: invalid UTF-8 in a string", "PUT", new_instance,
       valid_provision(R"("context":{"x":")" + std::string("\xff\xfe") + "\"}"), 400},
      {"provision: body over 64 KiB", "PUT", new_instance, huge, 413},
      // Wrong types and empty values, one field at a time.
      {"provision: service_id a number", "PUT", new_instance,
       provision(R"("service_id":42,)" + plan + "," + org + "," + space), 400},
      {"provision: service_id null", "PUT", new_instance,
       provision(R"("service_id":null,)" + plan + "," + org + "," + space), 400},
      {"provision: service_id empty", "PUT", new_instance,
       provision(R"("service_id":"",)" + plan + "," + org + "," + space), 400},
      {"provision: plan_id an array", "PUT", new_instance,
       provision(svc + R"(,"plan_id":[],)" + org + "," + space), 400},
      {"provision: plan_id empty", "PUT", new_instance,
       provision(svc + R"(,"plan_id":"",)" + org + "," + space), 400},
      {"provision: plan_id unknown", "PUT", new_instance,
       provision(svc + R"(,"plan_id":"e87ec4cb-9b71-4136-a471-6904dbc038e8",)" + org + "," + space),
       400},
      {"provision: organization_guid true", "PUT", new_instance,
       provision(svc + "," + plan + R"(,"organization_guid":true,)" + space), 400},
      {"provision: space_guid empty", "PUT", new_instance,
       provision(svc + "," + plan + "," + org + R"(,"space_guid":"")"), 400},
      {"provision: parameters a string", "PUT", new_instance, valid_provision(R"("parameters":"{}")"),
       400},
      {"provision: parameters an array", "PUT", new_instance, valid_provision(R"("parameters":[{}])"),
       400},
      {"provision: parameters not in the schema", "PUT", new_instance,
       valid_provision(R"("parameters":{"memory_mb":256})"), 400},
      {"provision: context a number", "PUT", new_instance, valid_provision(R"("context":1)"), 400},
      {"provision: maintenance_info an array", "PUT", new_instance,
       valid_provision(R"("maintenance_info":["1.0.0"])"), 400},
      {"provision: maintenance_info conflict", "PUT", new_instance,
       valid_provision(R"("maintenance_info":{"version":"9.9.9"})"), 422},
      {"re-provision: different plan", "PUT", existing,
       provision(svc + R"(,"plan_id":")" + Str(kSecurePlanId) + "\"," + org + "," + space), 409},
      // Empty ids.
      {"provision: empty instance id", "PUT", "/v2/service_instances/", valid_provision(""), 0},
      {"bind: empty instance id", "PUT",
       "/v2/service_instances//service_bindings/b-x?accepts_incomplete=true", valid_bind(""), 0},
      {"bind: empty binding id", "PUT",
       "/v2/service_instances/i-1/service_bindings/?accepts_incomplete=true", valid_bind(""), 0},
      // Update.
      {"update: array body", "PATCH", existing, "[]", 400},
      {"update: truncated JSON", "PATCH", existing, "{\"service_id\":", 400},
      {"update: service_id missing", "PATCH", existing, "{" + plan + "}", 400},
      {"update: service_id empty", "PATCH", existing, R"({"service_id":""})", 400},
      {"update: plan change", "PATCH", existing,
       "{" + svc + R"(,"plan_id":")" + Str(kSecurePlanId) + "\"}", 400},
      {"update: parameters not in the schema", "PATCH", existing,
       "{" + svc + R"(,"parameters":{"ttl_minutes":5}})", 400},
      {"update: previous_values an array", "PATCH", existing,
       "{" + svc + R"(,"previous_values":[]})", 400},
      {"update: unknown instance", "PATCH", InstancePath("i-unknown"), "{" + svc + "}", 404},
      // Deprovision.
      {"deprovision: no query", "DELETE", existing, std::nullopt, 400},
      {"deprovision: empty service_id", "DELETE",
       InstancePath("i-1", "service_id=&plan_id=" + Str(kStandardPlanId)), std::nullopt, 400},
      {"deprovision: empty plan_id", "DELETE",
       InstancePath("i-1", "service_id=" + Str(kServiceId) + "&plan_id="), std::nullopt, 400},
      {"deprovision: live bindings, synchronous", "DELETE", InstancePath("i-1", q), std::nullopt,
       422},
      // Bind.
      {"bind: not JSON", "PUT", new_binding, "<xml/>", 400},
      {"bind: null", "PUT", new_binding, "null", 400},
      {"bind: service_id empty", "PUT", new_binding,
       R"({"service_id":"",)" + plan + "," + app + "}", 400},
      {"bind: plan_id a number", "PUT", new_binding, "{" + svc + R"(,"plan_id":7,)" + app + "}",
       400},
      {"bind: bind_resource an array", "PUT", new_binding,
       "{" + svc + "," + plan + R"(,"bind_resource":[]})", 400},
      {"bind: parameters an array", "PUT", new_binding, valid_bind(R"("parameters":[])"), 400},
      {"bind: ttl_minutes too small", "PUT", new_binding,
       valid_bind(R"("parameters":{"ttl_minutes":1})"), 400},
      {"bind: ttl_minutes a string", "PUT", new_binding,
       valid_bind(R"("parameters":{"ttl_minutes":"60"})"), 400},
      {"bind: memory_mb too large", "PUT", new_binding,
       valid_bind(R"("parameters":{"memory_mb":4096})"), 400},
      {"bind: strict not a boolean", "PUT", new_binding,
       valid_bind(R"("parameters":{"strict":"no"})"), 400},
      {"bind: authorized_keys not keys", "PUT", new_binding,
       valid_bind(R"("parameters":{"authorized_keys":["hello"]})"), 400},
      {"bind: unknown parameter", "PUT", new_binding,
       valid_bind(R"("parameters":{"shell":"/bin/sh"})"), 400},
      {"bind: without accepts_incomplete", "PUT", BindingPath("i-1", "b-new"), valid_bind(""), 422},
      {"bind: service key", "PUT", new_binding,
       "{" + svc + "," + plan + R"(,"bind_resource":{"credential_client_id":"key"}})", 422},
      {"bind: unknown instance", "PUT", BindingPath("i-unknown", "b-new", "accepts_incomplete=true"),
       valid_bind(""), 404},
      {"bind: different app", "PUT", existing_binding,
       "{" + svc + "," + plan + R"(,"bind_resource":{"app_guid":")" + Str(kOtherAppGuid) + "\"}}",
       409},
      // Unbind.
      {"unbind: no query", "DELETE", BindingPath("i-1", "b-1", "accepts_incomplete=true"),
       std::nullopt, 400},
      {"unbind: empty plan_id", "DELETE",
       BindingPath("i-1", "b-1", "accepts_incomplete=true&service_id=" + Str(kServiceId) + "&plan_id="),
       std::nullopt, 400},
      {"unbind: synchronous", "DELETE", BindingPath("i-1", "b-1", q), std::nullopt, 422},
      {"unbind: unknown binding", "DELETE", BindingPath("i-1", "b-unknown", q), std::nullopt, 410},
      // Reads of things that do not exist.
      {"fetch: unknown instance", "GET", InstancePath("i-unknown"), std::nullopt, 404},
      {"fetch: binding in progress", "GET", BindingPath("i-1", "b-1"), std::nullopt, 404},
      {"last_operation: unknown instance", "GET", InstanceLastOperationPath("i-unknown"),
       std::nullopt, 404},
      {"last_operation: unknown binding", "GET", BindingLastOperationPath("i-1", "b-unknown"),
       std::nullopt, 410},
  };
  return t;
}

TEST_SUITE("osb malformed requests") {
  TEST_CASE("malformed and refused requests get their 4xx and leave the database unchanged") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    const std::string before = t.db.Snapshot();
    auto table = Table(t.broker->username(), t.broker->password());
    REQUIRE(table.size() >= 30);
    for (const auto& m : table) {
      BROKER_CAPTURE(m.name);
      Request req;
      req.method = m.method;
      req.path = m.path;
      req.body = m.body;
      req.auth = m.auth;
      req.api_version = m.version;
      req.headers = m.headers;
      Response r = t.Send(req);
      INFO("response: ", r.Describe());
      if (m.status == 0) {
        CHECK(r.status >= 400);
        CHECK(r.status < 500);
      } else {
        CHECK(r.status == m.status);
      }
      if (r.status != 410) CheckErrorBody(r);
      CHECK(t.db.Snapshot() == before);
    }
    // Nothing above hurt the broker.
    CHECK(t.broker->running());
    CHECK(t.Get(InstancePath("i-1")).status == 200);
    CHECK(t.Bind("i-1", "b-1", BindBody()).status == 202);
  }
}

}  // namespace
}  // namespace broker::testing
