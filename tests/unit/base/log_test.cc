// Tests for broker/base/log.h: RedactUri, SecretTag, LogQuote and the logger registry.
#include "broker/base/log.h"

#include <doctest/doctest.h>

#include <string_view>
#include <set>
#include <string>
#include <vector>

namespace broker::base {
namespace {

// True when `s` has `shape`'s form: 'd' stands for a decimal digit, 'h' for a lowercase hex
// digit, anything else for itself. (No std::regex: GCC 12 warns inside it under ASan.)
bool MatchesShape(std::string_view s, std::string_view shape) {
  if (s.size() != shape.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool digit = c >= '0' && c <= '9';
    if (shape[i] == 'd') {
      if (!digit) return false;
    } else if (shape[i] == 'h') {
      if (!digit && !(c >= 'a' && c <= 'f')) return false;
    } else if (c != shape[i]) {
      return false;
    }
  }
  return true;
}

TEST_SUITE("base::Log") {
  TEST_CASE("RedactUri replaces the password and leaves everything else alone") {
    struct Row {
      std::string in;
      std::string want;
    };
    const std::vector<Row> rows = {
        // With a password.
        {"postgres://broker:s3cr3t@db.example.com:5432/broker", "postgres://broker:***@db.example.com:5432/broker"},
        {"postgresql://u:pw@host/db?sslmode=require", "postgresql://u:***@host/db?sslmode=require"},
        {"https://admin:hunter2@api.example.com", "https://admin:***@api.example.com"},
        {"postgres://u:pw@host/db@archive", "postgres://u:***@host/db@archive"},  // '@' in the path too
        // Without a password.
        {"postgres://broker@db.example.com/broker", "postgres://broker@db.example.com/broker"},
        // Without userinfo.
        {"postgres://db.example.com:5432/broker", "postgres://db.example.com:5432/broker"},
        {"postgres://db.example.com", "postgres://db.example.com"},
        // '@' only in the path or query: not userinfo.
        {"postgres://db.example.com/db@archive", "postgres://db.example.com/db@archive"},
        {"https://api.example.com/v3/users/me@example.com", "https://api.example.com/v3/users/me@example.com"},
        // Not a URI at all.
        {"", ""},
        {"not a uri", "not a uri"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.in);
      CHECK(RedactUri(row.in) == row.want);
    }
  }

  TEST_CASE("RedactUri hides all of a password that contains '@'") {
    // Userinfo ends at the last '@' before the path (RFC 3986 parsers, WHATWG URL, Python's
    // urlsplit); a raw '@' in a generated password must not leave its tail in the log.
    const std::string got = RedactUri("postgres://broker:p@ss@db.example.com/broker");
    CAPTURE(got);
    CHECK(got == "postgres://broker:***@db.example.com/broker");
    CHECK(got.find("ss@") == std::string::npos);
  }

  TEST_CASE("RedactUri hides a password given as a query parameter") {
    // libpq accepts "?password=..." in a connection URI.
    const std::string got = RedactUri("postgres://broker@db.example.com/broker?password=s3cr3t&sslmode=require");
    CAPTURE(got);
    CHECK(got.find("s3cr3t") == std::string::npos);
  }

  TEST_CASE("SecretTag is a short stable tag that never contains the secret") {
    const std::vector<std::string> secrets = {
        "hunter2",
        "s3cr3t-broker-password",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "postgres://broker:s3cr3t@db.example.com/broker",
        "ssh r7JqLz2xCkS9yTb4@nyc1.tmate.example.com",
        std::string(10000, 'x'),
    };
    std::set<std::string> tags;
    for (const std::string& secret : secrets) {
      CAPTURE(secret.substr(0, 50));
      const std::string tag = SecretTag(secret);
      CAPTURE(tag);
      CHECK(tag.rfind("sha:", 0) == 0);
      CHECK(MatchesShape(std::string_view(tag).substr(4), "hhhhhhhh"));
      CHECK(tag.find(secret) == std::string::npos);
      CHECK(SecretTag(secret) == tag);  // stable: two lines can be correlated
      tags.insert(tag);
    }
    CHECK(tags.size() == secrets.size());
    CHECK(SecretTag("hunter2") != SecretTag("hunter3"));
  }

  TEST_CASE("SecretTag of an empty secret is \"none\"") { CHECK(SecretTag("") == "none"); }

  TEST_CASE("LogQuote wraps text in quotes and escapes what would break the field") {
    struct Row {
      std::string in;
      std::string want;
    };
    const std::vector<Row> rows = {
        {"", R"("")"},
        {"a b", R"("a b")"},
        {"plain", R"("plain")"},
        {R"(say "hi")", R"("say \"hi\"")"},
        {R"(C:\dir)", R"("C:\\dir")"},
        {"line1\nline2", R"("line1\nline2")"},
        {"cr\r\nlf", R"("cr\r\nlf")"},
        {"key=value x=\"y\"", R"("key=value x=\"y\"")"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.in);
      const std::string got = LogQuote(row.in);
      CHECK(got == row.want);
      CHECK(got.find('\n') == std::string::npos);
      CHECK(got.find('\r') == std::string::npos);
    }
  }

  TEST_CASE("LogQuote escapes every control byte, NUL and DEL included") {
    struct Row {
      std::string in;
      std::string want;
    };
    const std::vector<Row> rows = {
        {std::string("a\0b", 3), R"("a\x00b")"}, {"tab\there", R"("tab\there")"},
        {"\x01\x1f\x7f", R"("\x01\x1f\x7f")"},   {"esc\x1b[31m", R"("esc\x1b[31m")"},
        {"caf\xc3\xa9", "\"caf\xc3\xa9\""},  // UTF-8 stays as it is
    };
    for (const Row& row : rows) {
      CAPTURE(row.want);
      const std::string got = LogQuote(row.in);
      CHECK(got == row.want);
      for (const char c : got) CHECK((static_cast<unsigned char>(c) >= 0x20 && c != 0x7f));
    }
  }

  TEST_CASE("LogId leaves well-formed ids bare and quotes anything else") {
    CHECK(LogId("3f2a9c1e-0b6a-4c4e-9a59-1d5a3c1e0f01") == "3f2a9c1e-0b6a-4c4e-9a59-1d5a3c1e0f01");
    CHECK(LogId("cf:user_1.x~y") == "cf:user_1.x~y");
    CHECK(LogId(std::string(128, 'a')) == std::string(128, 'a'));
    CHECK(LogId(std::string(129, 'a')) == "\"" + std::string(129, 'a') + "\"");
    CHECK(LogId("") == R"("")");
    // What would forge a field or a line: a space, '=', a quote, a newline (a decoded %0a), NUL.
    CHECK(LogId("id status=200") == R"("id status=200")");
    CHECK(LogId("x\n2026-01-01T00:00:00Z info http http.request") ==
          R"("x\n2026-01-01T00:00:00Z info http http.request")");
    CHECK(LogId(R"(a"b)") == R"("a\"b")");
    CHECK(LogId(std::string("X\0y", 3)) == R"("X\x00y")");
    CHECK(LogId("/v2/service_instances/a%0ab") == R"("/v2/service_instances/a%0ab")");
  }

  TEST_CASE("Logger returns one shared logger per module") {
    const auto a = Logger("log_test.module");
    const auto b = Logger("log_test.module");
    const auto c = Logger("log_test.other");
    REQUIRE(a != nullptr);
    REQUIRE(c != nullptr);
    CHECK(a.get() == b.get());
    CHECK(a.get() != c.get());
    CHECK(a->name() == "log_test.module");
  }

  TEST_CASE("InitLogging sets the level by name and falls back to info for unknown names") {
    SUBCASE("when the name is known") {
      InitLogging("debug");
      CHECK(Logger("log_test.level_a")->level() == spdlog::level::debug);
      InitLogging("error");
      CHECK(Logger("log_test.level_a")->level() == spdlog::level::err);
    }
    SUBCASE("when the name is unknown") {
      InitLogging("verbose");
      CHECK(Logger("log_test.level_b")->level() == spdlog::level::info);
    }
    SUBCASE("when the name is off") {
      InitLogging("off");
      CHECK(Logger("log_test.level_c")->level() == spdlog::level::off);
    }
    InitLogging("info");
  }
}

}  // namespace
}  // namespace broker::base
