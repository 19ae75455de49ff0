// Tests for broker/base/json.h: the one JSON entry point for remote input (each refusal, with
// its field path and offset) and canonical JSON as a fixed point.
#include "broker/base/json.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace broker::base {
namespace {

std::string Canonical(std::string_view text) {
  auto doc = ParseJson(text, "test input");
  REQUIRE_MESSAGE(doc.ok(), doc.status().ToString());
  return CanonicalJson(*doc);
}

TEST_SUITE("base::Json") {
  TEST_CASE("ParseJson refuses each corruption with kInvalidArgument naming the reason, field and offset") {
    struct Row {
      std::string name;
      std::string text;
      std::string want;  // the whole message after "the body is not valid JSON: "
    };
    const std::vector<Row> rows = {
        {"a lone low surrogate", R"({"context":{"x":"\udc00"}})",
         "a string is not valid UTF-8 (or holds an unpaired surrogate) in context.x at offset 24"},
        {"a lone high surrogate", R"({"a":"\ud800"})", "The surrogate pair in string is invalid. in a at offset 6"},
        {"a high surrogate followed by a non-surrogate", R"({"a":"\ud800\u0041"})",
         "The surrogate pair in string is invalid. in a at offset 6"},
        {"a lone low surrogate in a member name", R"({"context":{"\udc00":1}})",
         "a member name is not valid UTF-8 (or holds an unpaired surrogate) in context at offset 20"},
        {"an escaped NUL", R"({"bind_resource":{"app_guid":"g\u0000x"}})",
         "a string holds a NUL character in bind_resource.app_guid at offset 39"},
        {"a raw NUL in a string", std::string("{\"a\":\"x\0y\"}", 11), "a raw NUL character in a at offset 7"},
        {"a raw NUL after the value", std::string("{}\0{}", 5),
         "something other than whitespace follows the value at offset 2"},
        {"raw invalid UTF-8", "{\"a\":[\"\xff\"]}",
         "a string is not valid UTF-8 (or holds an unpaired surrogate) in a[0] at offset 9"},
        {"an encoded surrogate (CESU-8)", "{\"a\":\"\xed\xb0\x80\"}",
         "a string is not valid UTF-8 (or holds an unpaired surrogate) in a at offset 10"},
        {"an overlong NUL", "{\"a\":\"\xc0\x80\"}",
         "a string is not valid UTF-8 (or holds an unpaired surrogate) in a at offset 9"},
        {"a number beyond a double", R"({"context":{"n":1.7348623157e309}})",
         "a number is outside the range of a double in context.n at offset 32"},
        {"a huge integer", "[" + std::string(400, '9') + "]",
         "a number is outside the range of a double in [0] at offset 1"},
        {"a number below a double's range", R"({"n":1e-400})",
         "a number is outside the range of a double in n at offset 11"},
        {"a byte-order mark", "\xEF\xBB\xBF{}", "a byte-order mark is not allowed at offset 0"},
        {"a stray BOM byte", "\xEF{}", "Invalid value. at offset 0"},
        {"a duplicate member", R"({"a":1,"b":{"c":1,"c":2}})", "a member name appears twice in b.c at offset 21"},
        {"junk after the value", R"({"a":1} x)", "something other than whitespace follows the value at offset 8"},
        {"a second value", R"({}{})", "something other than whitespace follows the value at offset 2"},
        {"a grammar error inside a member", R"({"parameters":{"x":[1,tru]}})",
         "Invalid value. in parameters.x[1] at offset 25"},
        {"empty text", "", "The document is empty. at offset 0"},
        {"65 nested arrays", std::string(65, '[') + std::string(65, ']'),
         "values are nested more than 64 deep in " +
             [] {
               std::string p;
               for (int i = 0; i < 53; ++i) p += "[0]";  // whole segments up to 160 bytes
               return p + "...";
             }() +
             " at offset 64"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.name);
      const auto doc = ParseJson(row.text, "the body");
      REQUIRE_FALSE(doc.ok());
      CHECK(doc.status().code() == Code::kInvalidArgument);
      CHECK(doc.status().message() == "the body is not valid JSON: " + row.want);
      // ValidateJson checks the same, without a document.
      CHECK(ValidateJson(row.text, "the body").message() == doc.status().message());
    }
  }

  TEST_CASE("ParseJson accepts what the refusals border on") {
    for (const std::string& text : std::vector<std::string>{
             std::string(R"({"a":"\ud83d\ude00"})"),          // a surrogate pair
             std::string("{\"a\":\"\xf0\x9f\x98\x80\"}"),     // the same character, raw
             std::string(R"({"a":1.7976931348623157e308})"),  // the largest double
             std::string(R"({"a":-9223372036854775808,"b":18446744073709551615,"c":18446744073709551616})"),
             std::string(R"({"a":5e-324})"),  // the smallest subnormal
             std::string(64, '[') + std::string(64, ']'), std::string(" \t\r\n{} \t\r\n"),
             std::string(R"({"a":{"a":1},"b":[{"a":1},{"a":2}]})"),  // the same name in different objects
         }) {
      CAPTURE(text);
      const auto doc = ParseJson(text, "the body");
      CHECK_MESSAGE(doc.ok(), doc.status().ToString());
      CHECK(ValidateJson(text, "the body").ok());
    }
  }

  TEST_CASE("150k opening brackets are refused at the cap without recursing") {
    for (const char open : {'[', '{'}) {
      std::string text;
      if (open == '[') {
        text = std::string(150000, '[');
      } else {
        for (int i = 0; i < 150000; ++i) text += "{\"a\":";
      }
      CAPTURE(open);
      const auto doc = ParseJson(text, "the header");
      REQUIRE_FALSE(doc.ok());
      CHECK(doc.status().message().find("nested more than 64 deep") != std::string::npos);
      CHECK(doc.status().message().size() < 300);
    }
  }

  TEST_CASE("ParseJson keeps 64-bit integers exact and reads other numbers as doubles") {
    const auto doc = ParseJson(R"([9007199254740993,-9223372036854775808,18446744073709551615,1e2,0.5,-0])", "t");
    REQUIRE(doc.ok());
    const auto& a = *doc;
    CHECK(a[0].GetInt64() == 9007199254740993);
    CHECK(a[1].GetInt64() == INT64_MIN);
    CHECK(a[2].GetUint64() == UINT64_MAX);
    CHECK(a[3].IsDouble());
    CHECK(a[3].GetDouble() == 100.0);
    CHECK(a[4].GetDouble() == 0.5);
    CHECK(a[5].GetInt64() == 0);
  }

  TEST_CASE("canonical JSON spells each number one way") {
    struct Row {
      std::string in, want;
    };
    const std::vector<Row> rows = {
        {"[100, 1e2, 100.0, 1E+2, 10000e-2]", "[100,100,100,100,100]"},
        {"[0, -0, 0.0, -0.0, 0e5]", "[0,0,0,0,0]"},
        {"[0.1, 1e-7, 1.5e300, -2.5]", "[0.1,1e-07,1.5e+300,-2.5]"},
        {"[9223372036854775807, 9223372036854775808, 18446744073709551615, 18446744073709551616]",
         "[9223372036854775807,9223372036854775808,18446744073709551615,18446744073709551616]"},
        {"[1e19, 10000000000000000000]", "[10000000000000000000,10000000000000000000]"},
        {"[1.7976931348623157e308, 5e-324]", "[1.7976931348623157e+308,5e-324]"},
        {"[123456789012345678901234567890]", "[1.2345678901234568e+29]"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.in);
      CHECK(Canonical(row.in) == row.want);
    }
  }

  TEST_CASE("canonical JSON is a fixed point") {
    for (const std::string& text : std::vector<std::string>{
             std::string(R"({"z":[{"b":true,"a":1.5}],"y":"s","x":{"q":null,"p":-3}})"),
             std::string(R"({"n":[1e21,1.7976931348623157e308,4.9e-324,0.30000000000000004,123e-20,1e300]})"),
             std::string(R"({"s":"\u0001\u001f\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\u2028"})"),
             std::string(R"({"big":[18446744073709551616,99999999999999999999999,-9223372036854775809]})"),
             std::string(R"({"b":{"d":[{}],"c":[]},"a":"","":0})"),
         }) {
      CAPTURE(text);
      const std::string once = Canonical(text);
      CHECK(Canonical(once) == once);
    }
  }

  TEST_CASE("canonical JSON of a non-finite double, which ParseJson never makes, is null") {
    rapidjson::Document doc;
    doc.SetArray();
    doc.PushBack(rapidjson::Value(std::numeric_limits<double>::infinity()), doc.GetAllocator());
    CHECK(CanonicalJson(doc) == "[null]");
  }

  TEST_CASE("IsJsonSafeUtf8 accepts well-formed UTF-8 and nothing else") {
    CHECK(IsJsonSafeUtf8(""));
    CHECK(IsJsonSafeUtf8("plain ascii"));
    CHECK(IsJsonSafeUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"));  // é € 😀 U+10FFFF
    CHECK(IsJsonSafeUtf8("\xed\x9f\xbf\xee\x80\x80"));                              // U+D7FF U+E000
    for (const std::string& bad :
         std::vector<std::string>{std::string(1, '\0'), std::string("\x80"), std::string("\xc3"),
                                  std::string("\xc1\xbf"), std::string("\xe0\x9f\xbf"), std::string("\xed\xa0\x80"),
                                  std::string("\xed\xbf\xbf"), std::string("\xf4\x90\x80\x80"), std::string("\xf5"),
                                  std::string("\xff"), std::string("\xe2\x82"), std::string("\xe2\x28\xa1")}) {
      CAPTURE(bad);
      CHECK_FALSE(IsJsonSafeUtf8(bad));
    }
  }
}

}  // namespace
}  // namespace broker::base
