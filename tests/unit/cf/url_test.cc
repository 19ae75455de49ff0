// Tests for broker/cf/url.h: origins for the same-host checks, log paths, percent-coding.
#include "broker/cf/url.h"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

namespace broker::cf {
namespace {

TEST_SUITE("cf::Url") {
  TEST_CASE("OriginOf normalises scheme, host and port so same-origin URLs compare equal") {
    struct Row {
      std::string url;
      std::optional<std::string> want;
    };
    const std::vector<Row> rows = {
        {"https://api.sys.example.com", "https://api.sys.example.com:443"},
        {"https://api.sys.example.com/v3/jobs/abc?x=1", "https://api.sys.example.com:443"},
        {"HTTPS://API.Sys.Example.COM:443/", "https://api.sys.example.com:443"},
        {"http://127.0.0.1:8080/v3", "http://127.0.0.1:8080"},
        {"http://127.0.0.1/v3", "http://127.0.0.1:80"},
        {"https://api.example.com:8443", "https://api.example.com:8443"},
        {"http://[::1]:9000/x", "http://[::1]:9000"},
        {"https://[::1]/x", "https://[::1]:443"},
        {"https://api.example.com?x=1", "https://api.example.com:443"},
        {"https://api.example.com#frag", "https://api.example.com:443"},
        // Userinfo is not the host: this one goes to evil.example.
        {"https://api.example.com@evil.example/v3/jobs/x", "https://evil.example:443"},
        {"https://user:pw@api.example.com/v3", "https://api.example.com:443"},
        // Not absolute http(s).
        {"/v3/jobs/abc", std::nullopt},
        {"ftp://api.example.com/", std::nullopt},
        {"https://", std::nullopt},
        {"https://:443/", std::nullopt},
        {"https://api.example.com:0/", std::nullopt},
        {"https://api.example.com:65536/", std::nullopt},
        {"https://api.example.com:80a/", std::nullopt},
        {"http://[::1/", std::nullopt},
        {"", std::nullopt},
    };
    for (const Row& row : rows) {
      CAPTURE(row.url);
      CHECK(OriginOf(row.url) == row.want);
    }
  }

  TEST_CASE("ParseUrl keeps the path and query, without the fragment") {
    const auto u = ParseUrl("https://api.example.com:8443/v3/apps?page=2&per_page=1#top");
    REQUIRE(u.has_value());
    CHECK(u->scheme == "https");
    CHECK(u->host == "api.example.com");
    CHECK(u->port == 8443);
    CHECK(u->path_and_query == "/v3/apps?page=2&per_page=1");
    CHECK(ParseUrl("http://h")->path_and_query == "/");
    CHECK(ParseUrl("http://h?a=b")->path_and_query == "/?a=b");
  }

  TEST_CASE("PathForLog drops the query, so selectors and parameters never reach a log line") {
    CHECK(PathForLog("https://api.example.com/v3/apps?label_selector=a%3Db&per_page=5000") == "/v3/apps");
    CHECK(PathForLog("http://127.0.0.1:1/oauth/token") == "/oauth/token");
    CHECK(PathForLog("https://api.example.com") == "");
    CHECK(PathForLog("/v3/jobs/x?y=1") == "/v3/jobs/x");
    CHECK(PathForLog("https://api.example.com/a#b") == "/a");
  }

  TEST_CASE("PercentEncode leaves only unreserved characters and PercentDecode reverses it") {
    CHECK(PercentEncode("abc-._~XYZ019") == "abc-._~XYZ019");
    CHECK(PercentEncode("ssh-access.example.com/binding-guid=b1") == "ssh-access.example.com%2Fbinding-guid%3Db1");
    CHECK(PercentEncode("a b&c,d!") == "a%20b%26c%2Cd%21");
    CHECK(PercentEncode("../x") == "..%2Fx");
    CHECK(PercentEncode("\xc3\xa9") == "%C3%A9");
    const std::string all = "k=v & x/y,z+w ü%";
    CHECK(PercentDecode(PercentEncode(all), false) == all);
    CHECK(PercentDecode("a+b%20c", true) == "a b c");
    CHECK(PercentDecode("a+b", false) == "a+b");
    CHECK(PercentDecode("bad%zzescape%", false) == "bad%zzescape%");
    CHECK(PercentDecode("%4", false) == "%4");
  }

  TEST_CASE("QueryString and FormEncode encode names and values") {
    CHECK(QueryString({}) == "");
    CHECK(QueryString({{"label_selector", "a/b=c"}, {"per_page", "5000"}}) == "?label_selector=a%2Fb%3Dc&per_page=5000");
    CHECK(FormEncode({{"grant_type", "password"}, {"username", "a@b.c"}, {"password", "p&w=1 2"}}) ==
          "grant_type=password&username=a%40b.c&password=p%26w%3D1%202");
  }
}

}  // namespace
}  // namespace broker::cf
