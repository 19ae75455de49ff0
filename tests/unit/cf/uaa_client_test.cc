// Tests for broker/cf/uaa_client.h's parsers: the API root's links, token answers, and UAA
// errors (which must never carry UAA's error_description: UAA echoes refresh tokens there).
#include "broker/cf/uaa_client.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "broker/cf/cc_json.h"

namespace broker::cf {
namespace {

TEST_SUITE("cf::UaaClient") {
  TEST_CASE("ParseRootLinks finds V3, the token endpoint and log-cache") {
    SUBCASE("a full root, login preferred over uaa") {
      const auto e = ParseRootLinks(R"({"links":{
          "self":{"href":"https://api.sys.example.com"},
          "cloud_controller_v2":{"href":"https://api.sys.example.com/v2","meta":{"version":"2.260.0"}},
          "cloud_controller_v3":{"href":"https://api.sys.example.com/v3","meta":{"version":"3.195.0"}},
          "login":{"href":"https://login.sys.example.com"},
          "uaa":{"href":"https://uaa.sys.example.com/"},
          "log_cache":{"href":"https://log-cache.sys.example.com"},
          "credhub":null,"app_ssh":null}})",
                                    "https://api.sys.example.com");
      REQUIRE(e.ok());
      CHECK(e->cloud_controller_v3 == "https://api.sys.example.com/v3");
      CHECK(e->token_url == "https://login.sys.example.com/oauth/token");
      CHECK(e->log_cache == "https://log-cache.sys.example.com");
    }
    SUBCASE("no login link: uaa, trailing slash dropped") {
      const auto e = ParseRootLinks(R"({"links":{"cloud_controller_v3":{"href":"https://api.x/v3"},
          "login":null,"uaa":{"href":"https://uaa.x/"},"log_cache":{"href":"https://log-cache.x"}}})",
                                    "https://api.x");
      REQUIRE(e.ok());
      CHECK(e->token_url == "https://uaa.x/oauth/token");
    }
    SUBCASE("an older CC without log_cache: derived from the api. host") {
      const auto e = ParseRootLinks(R"({"links":{"cloud_controller_v3":{"href":"https://api.sys.example.com/v3"},
          "login":{"href":"https://login.sys.example.com"}}})",
                                    "https://api.sys.example.com");
      REQUIRE(e.ok());
      CHECK(e->log_cache == "https://log-cache.sys.example.com");
      const auto odd = ParseRootLinks(R"({"links":{"cloud_controller_v3":{"href":"http://cc:9022/v3"},
          "login":{"href":"http://cc:9022"}}})",
                                      "http://cc:9022");
      REQUIRE(odd.ok());
      CHECK(odd->log_cache.empty());  // nothing to derive from
      const auto port = ParseRootLinks(R"({"links":{"cloud_controller_v3":{"href":"https://api.x:8443/v3"},
          "uaa":{"href":"https://uaa.x"}}})",
                                       "https://api.x:8443");
      REQUIRE(port.ok());
      CHECK(port->log_cache == "https://log-cache.x:8443");
    }
    SUBCASE("a root without V3 or without UAA") {
      CHECK(ParseRootLinks(R"({"links":{"login":{"href":"https://login.x"}}})", "https://api.x").status().code() ==
            base::Code::kFailedPrecondition);
      CHECK(ParseRootLinks(R"({"links":{"cloud_controller_v3":{"href":"https://api.x/v3"}}})", "https://api.x")
                .status()
                .code() == base::Code::kFailedPrecondition);
      CHECK(ParseRootLinks("<html>", "https://api.x").status().code() == base::Code::kUnavailable);
      CHECK(ParseRootLinks("<html>", "https://api.x").status().reason() == kMalformedResponse);
    }
  }

  TEST_CASE("CheckApiUrl accepts CF_API_URL only when it is the URL CC calls itself") {
    CHECK(ParseRootLinks(R"({"links":{"self":{"href":"https://api.sys.example.com/"},
        "cloud_controller_v3":{"href":"https://api.sys.example.com/v3"},"login":{"href":"https://login.x"}}})",
                         "https://api.sys.example.com")
              ->self == "https://api.sys.example.com");
    struct Row {
      const char* configured;
      const char* self;
      bool ok;
    };
    const Row rows[] = {
        {"https://api.sys.example.com", "https://api.sys.example.com", true},
        {"https://api.sys.example.com/", "https://api.sys.example.com", true},
        {"https://API.sys.example.com", "https://api.sys.example.com:443", true},
        {"https://api.sys.example.com", "", true},  // a root without links.self: nothing to compare
        {"https://10.0.0.5", "https://api.sys.example.com", false},
        {"http://api.sys.example.com", "https://api.sys.example.com", false},
        {"https://api.sys.example.com:8443", "https://api.sys.example.com", false},
        {"https://api.internal", "https://api.sys.example.com", false},
        {"https://api.sys.example.com/cc", "https://api.sys.example.com", false},
    };
    for (const Row& r : rows) {
      CAPTURE(r.configured);
      CAPTURE(r.self);
      const base::Status s = CheckApiUrl(r.configured, r.self);
      CHECK(s.ok() == r.ok);
      if (!r.ok) {
        CHECK(s.code() == base::Code::kFailedPrecondition);
        CHECK(s.reason() == "ApiUrlMismatch");
        CHECK(s.message().find(std::string("set CF_API_URL=") + r.self) != std::string::npos);
      }
    }
  }

  TEST_CASE("ParseTokenResponse reads access token, refresh token and lifetime") {
    const auto cc = ParseTokenResponse(
        R"({"access_token":"tok-1","token_type":"bearer","expires_in":599,"scope":"cloud_controller.admin","jti":"j"})");
    REQUIRE(cc.ok());
    CHECK(cc->access_token == "tok-1");
    CHECK(cc->refresh_token.empty());
    CHECK(cc->expires_in == std::chrono::seconds(599));
    const auto pw = ParseTokenResponse(
        R"({"access_token":"tok-2","token_type":"Bearer","expires_in":600,"refresh_token":"rt-1","id_token":"x"})");
    REQUIRE(pw.ok());
    CHECK(pw->refresh_token == "rt-1");
    CHECK(ParseTokenResponse(R"({"token_type":"bearer"})").status().code() == base::Code::kInvalidArgument);
    CHECK(ParseTokenResponse(R"({"access_token":"t","token_type":"mac"})").status().code() ==
          base::Code::kInvalidArgument);
    CHECK(ParseTokenResponse("nope").status().code() == base::Code::kUnavailable);
    // A malformed token answer never puts the token in the Status.
    const auto dup = ParseTokenResponse(R"({"access_token":"tok-secret","access_token":"tok-other"})");
    CHECK(dup.status().code() == base::Code::kUnavailable);
    CHECK(dup.status().message().find("tok-") == std::string::npos);
    // expires_in out of any integer's range: checked, not an undefined conversion.
    const auto huge = ParseTokenResponse(R"({"access_token":"t","expires_in":1e300})");
    REQUIRE(huge.ok());
    CHECK(huge->expires_in > std::chrono::hours(24 * 365));
    CHECK(ParseTokenResponse(R"({"access_token":"t","expires_in":-5})")->expires_in == std::chrono::seconds(0));
  }

  TEST_CASE("StatusFromUaaResponse keeps the OAuth error code and never the description") {
    struct Row {
      long http;
      std::string body;
      base::Code code;
      std::string reason;
    };
    const std::vector<Row> rows = {
        {401, R"({"error":"unauthorized","error_description":"Bad credentials"})", base::Code::kUnauthenticated,
         "unauthorized"},
        {401, R"({"error":"invalid_token","error_description":"Invalid refresh token: rt-SECRET-42"})",
         base::Code::kUnauthenticated, "invalid_token"},
        {400, R"({"error":"invalid_scope","error_description":"Invalid scope"})", base::Code::kUnauthenticated,
         "invalid_scope"},
        // Retryable: reason() says what kept failing (the OAuth code stays in the message).
        {429, R"({"error":"too_many"})", base::Code::kUnavailable, "UAA HTTP 429"},
        {503, "<html>down</html>", base::Code::kUnavailable, "UAA HTTP 503"},
        {401, R"({"error":"rt-SECRET-42 has spaces and: colons"})", base::Code::kUnauthenticated, ""},
    };
    for (const Row& row : rows) {
      CAPTURE(row.body);
      const base::Status s = StatusFromUaaResponse(row.http, row.body);
      CHECK(s.code() == row.code);
      CHECK(s.reason() == row.reason);
      CHECK(s.message().find("SECRET") == std::string::npos);
      CHECK(s.message().find("Bad credentials") == std::string::npos);
    }
  }
}

}  // namespace
}  // namespace broker::cf
