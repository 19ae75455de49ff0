// Tests for broker/http/prelude.h: basic auth, the API version check, the originating identity
// header and percent-decoding.
#include "broker/http/prelude.h"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "broker/base/encoding.h"

namespace broker::http {
namespace {

std::string Basic(const std::string& user_colon_password) {
  return "Basic " + base::Base64Encode(user_colon_password);
}

TEST_SUITE("http::Prelude") {
  TEST_CASE("CheckBasicAuth accepts only an accepted user:password pair") {
    const std::vector<BasicCredential> one = {{"broker", "s3cr3t"}};
    const std::vector<BasicCredential> two = {{"broker", "s3cr3t"}, {"rotated", "n3w-pa55"}};
    struct Row {
      std::string name;
      std::optional<std::string> header;
      const std::vector<BasicCredential>* accepted;
      bool ok;
    };
    const std::vector<Row> rows = {
        {"right credentials", Basic("broker:s3cr3t"), &one, true},
        {"wrong user", Basic("admin:s3cr3t"), &one, false},
        {"wrong password", Basic("broker:s3cr3"), &one, false},
        {"password with a suffix", Basic("broker:s3cr3tX"), &one, false},
        {"user with a prefix", Basic("xbroker:s3cr3t"), &one, false},
        {"no header", std::nullopt, &one, false},
        {"empty header", std::string(), &one, false},
        {"bearer token", std::string("Bearer x"), &one, false},
        {"bearer with the right base64", "Bearer " + base::Base64Encode("broker:s3cr3t"), &one, false},
        {"scheme only", std::string("Basic"), &one, false},
        {"scheme and space only", std::string("Basic "), &one, false},
        {"bad base64", std::string("Basic !!!not-base64!!!"), &one, false},
        {"no colon", Basic("brokers3cr3t"), &one, false},
        {"empty password", Basic("broker:"), &one, false},
        {"empty user", Basic(":s3cr3t"), &one, false},
        {"swapped", Basic("s3cr3t:broker"), &one, false},
        {"first of two pairs", Basic("broker:s3cr3t"), &two, true},
        {"second of two pairs", Basic("rotated:n3w-pa55"), &two, true},
        {"user of one pair, password of the other", Basic("broker:n3w-pa55"), &two, false},
        {"user of the other pair, password of one", Basic("rotated:s3cr3t"), &two, false},
    };
    for (const Row& row : rows) {
      CAPTURE(row.name);
      const base::Status s = CheckBasicAuth(row.header, DigestCredentials(*row.accepted));
      CHECK(s.ok() == row.ok);
      if (!row.ok) CHECK(s.code() == base::Code::kUnauthenticated);
    }
  }

  TEST_CASE("DecodeBearerToken returns the token of a well-formed Bearer header only") {
    struct Row {
      std::string name;
      std::optional<std::string> header;
      std::optional<std::string> token;
    };
    const std::vector<Row> rows = {
        {"hex token", std::string("Bearer 0123abcdef"), std::string("0123abcdef")},
        {"scheme in lower case", std::string("bearer tok"), std::string("tok")},
        {"scheme in upper case", std::string("BEARER tok"), std::string("tok")},
        {"b64token characters", std::string("Bearer aZ09-._~+/=="), std::string("aZ09-._~+/==")},
        {"no header", std::nullopt, std::nullopt},
        {"empty header", std::string(), std::nullopt},
        {"scheme only", std::string("Bearer"), std::nullopt},
        {"scheme and space only", std::string("Bearer "), std::nullopt},
        {"two spaces", std::string("Bearer  tok"), std::nullopt},
        {"trailing space", std::string("Bearer tok "), std::nullopt},
        {"space inside", std::string("Bearer to k"), std::nullopt},
        {"padding only", std::string("Bearer =="), std::nullopt},
        {"padding in the middle", std::string("Bearer a=b"), std::nullopt},
        {"other characters", std::string("Bearer tok;x"), std::nullopt},
        {"basic scheme", Basic("b1:key"), std::nullopt},
        {"scheme without a space", std::string("Bearertok"), std::nullopt},
    };
    for (const Row& row : rows) {
      CAPTURE(row.name);
      CHECK(DecodeBearerToken(row.header) == row.token);
    }
  }

  TEST_CASE("DecodeBasicAuth splits user and password at the first colon") {
    struct Row {
      std::string name;
      std::optional<std::string> header;
      bool ok;
      std::string user;
      std::string password;
    };
    const std::vector<Row> rows = {
        {"plain", Basic("b-1:k3y"), true, "b-1", "k3y"},
        {"scheme in lower case", "basic " + base::Base64Encode("b-1:k3y"), true, "b-1", "k3y"},
        {"colon in the password", Basic("b-1:k:e:y"), true, "b-1", "k:e:y"},
        {"empty password", Basic("b-1:"), true, "b-1", ""},
        {"no colon", Basic("b-1"), false, "", ""},
        {"not base64", std::string("Basic %%%"), false, "", ""},
        {"bearer", std::string("Bearer abc"), false, "", ""},
        {"no header", std::nullopt, false, "", ""},
    };
    for (const Row& row : rows) {
      CAPTURE(row.name);
      const auto got = DecodeBasicAuth(row.header);
      REQUIRE(got.has_value() == row.ok);
      if (!row.ok) continue;
      CHECK(got->username == row.user);
      CHECK(got->password == row.password);
    }
  }

  TEST_CASE("CheckBasicAuth splits at the first colon, so a password may contain colons") {
    const std::vector<BasicCredential> accepted = {{"broker", "pa:ss:word"}};
    CHECK(CheckBasicAuth(Basic("broker:pa:ss:word"), DigestCredentials(accepted)).ok());
    CHECK_FALSE(CheckBasicAuth(Basic("broker:pa:ss"), DigestCredentials(accepted)).ok());
  }

  TEST_CASE("CheckBasicAuth rejects everything when no pair is accepted") {
    const std::vector<BasicCredential> none;
    CHECK(CheckBasicAuth(Basic("broker:s3cr3t"), DigestCredentials(none)).code() == base::Code::kUnauthenticated);
    CHECK(CheckBasicAuth(Basic(":"), DigestCredentials(none)).code() == base::Code::kUnauthenticated);
  }

  TEST_CASE("CheckBasicAuth's error never echoes the credentials it was given") {
    const std::vector<BasicCredential> accepted = {{"broker", "s3cr3t"}};
    const base::Status s = CheckBasicAuth(Basic("broker:guessed-password"), DigestCredentials(accepted));
    REQUIRE_FALSE(s.ok());
    CHECK(s.message().find("guessed-password") == std::string::npos);
    CHECK(s.message().find("s3cr3t") == std::string::npos);
  }

  TEST_CASE("CheckApiVersion accepts 2.14 and every later 2.x") {
    for (const std::string v : {"2.14", "2.15", "2.16", "2.17", "2.18", "2.99"}) {
      CAPTURE(v);
      const base::Status s = CheckApiVersion(v);
      CHECK_MESSAGE(s.ok(), s.ToString());
    }
  }

  TEST_CASE("CheckApiVersion rejects a missing, old, other-major or malformed version with kOutOfRange") {
    const std::vector<std::optional<std::string>> bad = {
        std::nullopt, "",     "2.13", "2.0",    "2.1",    "1.99", "3.0",   "3.17",  "2",    "2.",
        ".14",        "2.14.1", "abc",  " 2.17", "2.17 ", "2,17", "v2.17", "2.x",   "-2.14", "2.-14",
        "2.+14",      "+2.14",  "02.1", "2.17\n",
    };
    for (const auto& v : bad) {
      CAPTURE(v.value_or("<missing>"));
      const base::Status s = CheckApiVersion(v);
      REQUIRE_FALSE(s.ok());
      CHECK(s.code() == base::Code::kOutOfRange);
      CAPTURE(s.message());
      CHECK(s.message().find("2.14") != std::string::npos);  // names the supported range
    }
  }

  TEST_CASE("DecodeOriginatingIdentity reads Cloud Foundry's user_id") {
    const auto id = DecodeOriginatingIdentity(
        "cloudfoundry eyJ1c2VyX2lkIjoiNjgzZWE3NDgtMzA5Mi00ZmY0LWI2NTYtMzljYWNjNGQ1MzYwIn0=");
    REQUIRE(id.ok());
    CHECK(id->platform == "cloudfoundry");
    CHECK(id->user_id == "683ea748-3092-4ff4-b656-39cacc4d5360");
    SUBCASE("when the base64 is unpadded") {
      const auto unpadded = DecodeOriginatingIdentity(
          "cloudfoundry eyJ1c2VyX2lkIjoiNjgzZWE3NDgtMzA5Mi00ZmY0LWI2NTYtMzljYWNjNGQ1MzYwIn0");
      REQUIRE(unpadded.ok());
      CHECK(unpadded->user_id == "683ea748-3092-4ff4-b656-39cacc4d5360");
    }
    SUBCASE("when the JSON has other fields too") {
      const auto more = DecodeOriginatingIdentity(
          "cloudfoundry " + base::Base64Encode(R"({"user_name":"dev","user_id":"u-1","extra":[1]})"));
      REQUIRE(more.ok());
      CHECK(more->user_id == "u-1");
    }
  }

  TEST_CASE("DecodeOriginatingIdentity returns the decoded JSON text for other platforms") {
    // prelude.h: "Returns the platform and the user_id (for Cloud Foundry) or the decoded JSON text".
    const std::string json = R"({"username":"duke","uid":"c2dde242-5ce4-11e7-988c-000c2946f14f","groups":["admin"]})";
    const auto id = DecodeOriginatingIdentity("kubernetes " + base::Base64Encode(json));
    REQUIRE(id.ok());
    CHECK(id->platform == "kubernetes");
    CHECK(id->user_id == json);
  }

  TEST_CASE("DecodeOriginatingIdentity refuses malformed headers with kInvalidArgument naming the header") {
    const std::vector<std::string> bad = {
        "",
        "cloudfoundry",                                                // no value
        "cloudfoundry ",                                               // empty value
        " eyJ1c2VyX2lkIjoiYWJjIn0=",                                   // no platform
        "cloudfoundry !!!",                                            // not base64
        "cloudfoundry " + base::Base64Encode("not json"),              // not JSON
        "cloudfoundry " + base::Base64Encode("[\"user\"]"),            // not an object
        "cloudfoundry " + base::Base64Encode("\"683ea748\""),          // a bare string
        "cloudfoundry " + base::Base64Encode(R"({"user_id":"a"} x)"),  // trailing junk
        "cloudfoundry " + base::Base64Encode(R"({"user_id":"a\u0000b"})"),  // NUL
        "cloudfoundry " + base::Base64Encode(R"({"user_id":"\udc00"})"),    // a lone low surrogate
        "cloudfoundry " + base::Base64Encode(std::string(150000, '[')),      // deeper than any stack
        // The platform word must be printable ASCII (tests/fuzz/regressions/identity/invalid_utf8_platform).
        "cloud\xff\xfe " + base::Base64Encode(R"({"user_id":"a"})"),
        "cloud\x01foundry " + base::Base64Encode(R"({"user_id":"a"})"),
    };
    for (const std::string& header : bad) {
      CAPTURE(header.substr(0, 80));
      const auto id = DecodeOriginatingIdentity(header);
      REQUIRE_FALSE(id.ok());
      CHECK(id.status().code() == base::Code::kInvalidArgument);
      CHECK(id.status().message().rfind("X-Broker-API-Originating-Identity", 0) == 0);
      CHECK(OriginatingActor(header).status().message() == id.status().message());
    }
  }

  TEST_CASE("OriginatingActor is the platform and user id of a valid header") {
    const auto actor = OriginatingActor("cloudfoundry " + base::Base64Encode(R"({"user_id":"u-1"})"));
    REQUIRE(actor.ok());
    CHECK(*actor == "cloudfoundry:u-1");
  }

  TEST_CASE("a 150k-deep originating identity is refused at the depth cap, naming the field path and offset") {
    const auto id = DecodeOriginatingIdentity("cloudfoundry " + base::Base64Encode(std::string(150000, '[')));
    REQUIRE_FALSE(id.ok());
    CAPTURE(id.status().message());
    CHECK(id.status().message().find("nested more than 64 deep in [0][0]") != std::string::npos);
    CHECK(id.status().message().find("at offset 64") != std::string::npos);
  }

  TEST_CASE("PercentDecode decodes escapes and treats '+' by context") {
    struct Row {
      std::string in;
      bool plus_is_space;
      std::string want;
    };
    const std::vector<Row> rows = {
        {"", false, ""},
        {"plain-id_1.2~3", false, "plain-id_1.2~3"},
        {"%2F", false, "/"},
        {"%2f", false, "/"},
        {"%20", false, " "},
        {"a%2Fb%2Fc", false, "a/b/c"},
        {"bind-42", false, "bind-42"},
        {"100%25", false, "100%"},
        {"%25%32%46", false, "%2F"},  // decoded once, not twice
        {"%C3%A9", false, "\xc3\xa9"},
        {"+", false, "+"},
        {"a+b", false, "a+b"},
        {"+", true, " "},
        {"a+b%2Bc", true, "a b+c"},
        {"%20+%20", true, "   "},
    };
    for (const Row& row : rows) {
      CAPTURE(row.in);
      CAPTURE(row.plus_is_space);
      std::string out = "left over";
      const base::Status s = PercentDecode(row.in, row.plus_is_space, &out);
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      CHECK(out == row.want);
    }
  }

  TEST_CASE("PercentDecode refuses NUL and bytes that are not UTF-8, which an id cannot hold") {
    for (const std::string in : {"X%00y", "%00", "a%C3", "%C3%28", "%ED%B0%80", "%FF", "%C0%80", "%F4%90%80%80"}) {
      for (bool plus_is_space : {false, true}) {
        CAPTURE(in);
        std::string out = "untouched";
        const base::Status s = PercentDecode(in, plus_is_space, &out);
        CHECK(s.code() == base::Code::kInvalidArgument);
        CHECK(out == "untouched");
      }
    }
    std::string out;
    CHECK(PercentDecode("X%00y", false, &out).message().find("NUL") != std::string::npos);
    CHECK(PercentDecode("%FF", false, &out).message().find("UTF-8") != std::string::npos);
    // Raw bytes are checked too, not only escapes.
    CHECK(PercentDecode(std::string("a\xff"), false, &out).code() == base::Code::kInvalidArgument);
    CHECK(PercentDecode("%F0%9F%98%80", false, &out).ok());  // a 4-byte character is fine
    CHECK(out == "\xF0\x9F\x98\x80");
  }

  TEST_CASE("PercentDecode rejects malformed escapes with kInvalidArgument") {
    for (const std::string in : {"%", "%4", "%G0", "%0G", "%GG", "abc%", "abc%2", "%%", "%%41", "%-1", "% 1",
                                 "a%2Fb%"}) {
      for (bool plus_is_space : {false, true}) {
        CAPTURE(in);
        CAPTURE(plus_is_space);
        std::string out;
        const base::Status s = PercentDecode(in, plus_is_space, &out);
        CHECK(s.code() == base::Code::kInvalidArgument);
      }
    }
  }
}

}  // namespace
}  // namespace broker::http
