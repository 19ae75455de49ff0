// The OSB prelude every /v2 route runs before anything else: basic auth, then
// X-Broker-API-Version, request-identity echo, JSON on every response, the body size limit.
// Black-box: the real broker binary against a real PostgreSQL.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

struct Route {
  const char* name;
  std::string method;
  std::string path;
};

// Every /v2 route, aimed at resources that exist (so only the prelude can refuse).
std::vector<Route> AllRoutes() {
  std::string q = ServicePlanQuery();
  return {
      {"catalog", "GET", "/v2/catalog"},
      {"provision", "PUT", InstancePath("i-1", "accepts_incomplete=true")},
      {"update", "PATCH", InstancePath("i-1")},
      {"fetch instance", "GET", InstancePath("i-1")},
      {"deprovision", "DELETE", InstancePath("i-1", q)},
      {"instance last_operation", "GET", InstanceLastOperationPath("i-1")},
      {"bind", "PUT", BindingPath("i-1", "b-1", "accepts_incomplete=true")},
      {"fetch binding", "GET", BindingPath("i-1", "b-1")},
      {"unbind", "DELETE", BindingPath("i-1", "b-1", "accepts_incomplete=true&" + q)},
      {"binding last_operation", "GET", BindingLastOperationPath("i-1", "b-1")},
  };
}

std::optional<std::string> BodyFor(const Route& route, std::string garbage) {
  if (route.method == "GET" || route.method == "DELETE") return std::nullopt;
  return garbage;
}

TEST_SUITE("osb prelude") {
  TEST_CASE("every /v2 route answers 401 to missing or wrong credentials before looking at the "
            "version header or the body") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    const std::string before = t.db.Snapshot();
    const std::string user = t.broker->username();
    const std::string password = t.broker->password();

    struct AuthCase {
      const char* name;
      Auth auth;
      Headers headers;
    };
    const std::vector<AuthCase> auth_cases = {
        {"no Authorization header", Auth::None(), {}},
        {"wrong password", Auth::Basic(user, password + "x"), {}},
        {"wrong user", Auth::Basic(user + "x", password), {}},
        {"empty user and password", Auth::Basic("", ""), {}},
        {"password of a prefix", Auth::Basic(user, password.substr(0, password.size() - 1)), {}},
        {"user and password swapped", Auth::Basic(password, user), {}},
        {"bearer token", Auth::None(), {{"Authorization", "Bearer " + password}}},
        {"not base64", Auth::None(), {{"Authorization", "Basic !!!not-base64!!!"}}},
        {"base64 without a colon", Auth::None(),
         {{"Authorization", "Basic " + Base64Encode(user + password)}}},
        {"scheme only", Auth::None(), {{"Authorization", "Basic"}}},
    };
    for (const auto& route : AllRoutes()) {
      for (const auto& ac : auth_cases) {
        for (bool with_version : {true, false}) {
          BROKER_CAPTURE(route.name);
          BROKER_CAPTURE(ac.name);
          BROKER_CAPTURE(with_version);
          Request req;
          req.method = route.method;
          req.path = route.path;
          req.auth = ac.auth;
          req.headers = ac.headers;
          req.body = BodyFor(route, "{this is not json");
          if (!with_version) req.api_version = std::nullopt;
          Response r = t.Send(req);
          CHECK(r.status == 401);
          CheckErrorBody(r);
        }
      }
    }
    CHECK(t.db.Snapshot() == before);
  }

  TEST_CASE("a missing, empty, malformed or unsupported X-Broker-API-Version answers 412 naming "
            "the supported versions") {
    OsbTest t;
    t.MustProvision("i-1");
    t.MustBind("i-1", "b-1");
    const std::string before = t.db.Snapshot();
    const std::vector<std::optional<std::string>> versions = {
        std::nullopt, "", " ", "abc", "v2.17", "2.x", "two", "3.0", "3.17", "1.17",
        "1.14", "0.0", "2.13", "2.9", "2.0", "2.1", "-2.17", "2..17"};
    for (const auto& route : AllRoutes()) {
      for (const auto& version : versions) {
        BROKER_CAPTURE(route.name);
        BROKER_CAPTURE(version.value_or("<missing>"));
        Request req;
        req.method = route.method;
        req.path = route.path;
        req.api_version = version;
        req.body = BodyFor(route, "{garbage");  // the version is checked before the body
        Response r = t.Send(req);
        CHECK(r.status == 412);
        CheckErrorBody(r);
        auto doc = ParseJson(r.body);
        auto description = StringMember(doc, "description").value_or("");
        CHECK_MESSAGE(description.find("2.14") != std::string::npos,
                      "412 description does not name the lowest supported version 2.14: ",
                      description);
      }
    }
    CHECK(t.db.Snapshot() == before);
  }

  TEST_CASE("X-Broker-API-Version 2.14, 2.15, 2.16 and 2.17 are all accepted") {
    OsbTest t;
    t.MustProvision("i-1");
    for (const char* version : {"2.14", "2.15", "2.16", "2.17"}) {
      BROKER_CAPTURE(version);
      Request catalog;
      catalog.path = "/v2/catalog";
      catalog.api_version = version;
      CHECK(t.Send(catalog).status == 200);

      Request fetch;
      fetch.path = InstancePath("i-1");
      fetch.api_version = version;
      CHECK(t.Send(fetch).status == 200);
    }
  }

  TEST_CASE("X-Broker-API-Request-Identity is echoed in the response") {
    OsbTest t;
    struct Case {
      const char* name;
      std::string method;
      std::string path;
      std::optional<std::string> body;
      Auth auth;
      std::optional<std::string> version;
      long status;
    };
    const std::vector<Case> cases = {
        {"catalog 200", "GET", "/v2/catalog", std::nullopt, Auth::Default(), "2.17", 200},
        {"provision 201", "PUT", InstancePath("i-echo"), ProvisionBody(), Auth::Default(), "2.17",
         201},
        {"provision 200", "PUT", InstancePath("i-echo"), ProvisionBody(), Auth::Default(), "2.17",
         200},
        {"bind 202", "PUT", BindingPath("i-echo", "b-echo", "accepts_incomplete=true"),
         BindBody(), Auth::Default(), "2.17", 202},
        {"fetch instance 404", "GET", InstancePath("nope"), std::nullopt, Auth::Default(), "2.17",
         404},
        {"provision 400", "PUT", InstancePath("i-bad"), "{", Auth::Default(), "2.17", 400},
        {"version 412", "GET", "/v2/catalog", std::nullopt, Auth::Default(), std::nullopt, 412},
        {"auth 401", "GET", "/v2/catalog", std::nullopt, Auth::None(), "2.17", 401},
    };
    int n = 0;
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.name);
      std::string identity = "4b1d2c3e-0000-4000-8000-00000000000" + std::to_string(n++);
      Request req;
      req.method = c.method;
      req.path = c.path;
      req.body = c.body;
      req.auth = c.auth;
      req.api_version = c.version;
      req.headers = {{"X-Broker-API-Request-Identity", identity}};
      Response r = t.Send(req);
      CHECK(r.status == c.status);
      CHECK(r.Header("X-Broker-API-Request-Identity").value_or("<absent>") == identity);
    }
  }

  TEST_CASE("header names and the Basic scheme are matched case-insensitively") {
    // Cloud Controller sends "X-Broker-Api-Version"; HTTP header names are case-insensitive
    // (RFC 9110) and so is the auth scheme (RFC 7617).
    OsbTest t;
    const std::string auth = Base64Encode(t.broker->username() + ":" + t.broker->password());
    struct Case {
      const char* name;
      Headers headers;
    };
    const std::vector<Case> cases = {
        {"Cloud Controller's spelling",
         {{"X-Broker-Api-Version", "2.14"}, {"Authorization", "Basic " + auth}}},
        {"lower case", {{"x-broker-api-version", "2.17"}, {"authorization", "Basic " + auth}}},
        {"upper case", {{"X-BROKER-API-VERSION", "2.17"}, {"AUTHORIZATION", "Basic " + auth}}},
        {"lower-case scheme", {{"X-Broker-API-Version", "2.17"}, {"Authorization", "basic " + auth}}},
    };
    for (const auto& c : cases) {
      BROKER_CAPTURE(c.name);
      Request req;
      req.path = "/v2/catalog";
      req.api_version = std::nullopt;
      req.headers = c.headers;
      CHECK(t.Send(req).status == 200);
    }
    Request echo;
    echo.path = "/v2/catalog";
    echo.headers = {{"x-broker-api-request-identity", "5d6b1c2a-lower-case"}};
    Response r = t.Send(echo);
    CHECK(r.status == 200);
    CHECK(r.Header("X-Broker-API-Request-Identity").value_or("<absent>") == "5d6b1c2a-lower-case");
  }

  TEST_CASE("an originating identity header is accepted and never required; a malformed one is a 400 naming it") {
    OsbTest t;
    Request req;
    req.method = "PUT";
    req.path = InstancePath("i-origin");
    req.body = ProvisionBody();
    req.headers = {{"X-Broker-API-Originating-Identity",
                    "cloudfoundry " + Base64Encode(R"({"user_id":"683ea748-3092-4ff4-b656-39cacc4d5360"})")}};
    CHECK(t.Send(req).status == 201);
    // What the header holds is recorded with the request's events, so it must be what it claims.
    req.headers = {{"X-Broker-API-Originating-Identity", "garbage"}};
    const Response r = t.Send(req);
    CHECK(r.status == 400);
    CHECK_MESSAGE(r.body.find("X-Broker-API-Originating-Identity") != std::string::npos, r.body);
    req.headers = {};
    CHECK(t.Send(req).status == 200);
  }

  TEST_CASE("unknown /v2 routes answer 404 with a JSON body") {
    OsbTest t;
    for (const char* path : {"/v2/nothing", "/v2/service_instances/i/unknown", "/v3/catalog"}) {
      BROKER_CAPTURE(path);
      Response r = t.Get(path);
      CHECK(r.status == 404);
    }
  }

  TEST_CASE("request bodies up to 64 KiB are read and larger ones are refused with 413") {
    OsbTest t;
    // A valid provision whose context carries a large annotation.
    auto body_of_size = [](size_t size) {
      std::string head = ProvisionBody(kStandardPlanId, R"("padding":{"note":")");
      std::string tail = "\"}}";
      // ProvisionBody ends with "}"; reopen it to put the padding inside.
      head.pop_back();
      std::string pad(size - head.size() - tail.size(), 'x');
      return head + pad + tail;
    };
    {  // just under 64 KiB: processed
      std::string body = body_of_size(60 * 1024);
      REQUIRE(!ParseJson(body).HasParseError());
      Response r = t.Provision("i-big", body);
      CHECK(r.status == 201);
      CHECK(t.Scalar("SELECT count(*) FROM service_instances") == "1");
    }
    {  // over 64 KiB: refused with 413, nothing stored
      const std::string before = t.db.Snapshot();
      for (size_t size : {64 * 1024 + 1, 100 * 1024, 1024 * 1024}) {
        BROKER_CAPTURE(size);
        std::string body = body_of_size(size);
        Request req;
        req.method = "PUT";
        req.path = InstancePath("i-huge");
        req.body = body;
        Response r = t.http->Send(req);
        INFO("response: ", r.Describe());
        CHECK(r.status == 413);
        CheckJsonObjectResponse(r);
        CHECK(t.db.Snapshot() == before);
      }
      // The broker is still serving.
      CHECK(t.Get("/v2/catalog").status == 200);
    }
  }
}

}  // namespace
}  // namespace broker::testing
