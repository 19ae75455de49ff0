// Tests for broker/osb/json_util.h: canonical JSON and parsing with error offsets.
#include "broker/osb/json_util.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace broker::osb {
namespace {

rapidjson::Document Parse(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  REQUIRE_MESSAGE(!doc.HasParseError(), "test input is not JSON: " << text);
  return doc;
}

std::string Canonical(const std::string& text) { return CanonicalJson(Parse(text)); }

TEST_SUITE("osb::JsonUtil") {
  TEST_CASE("CanonicalJson sorts object keys bytewise at every depth and drops whitespace") {
    struct Row {
      std::string in;
      std::string want;
    };
    const std::vector<Row> rows = {
        {R"({})", R"({})"},
        {R"([])", R"([])"},
        {R"({"b":1,"a":2})", R"({"a":2,"b":1})"},
        {R"({ "z" : { "y" : 1, "x" : [ {"d":1,"c":2}, 3 ] }, "a" : null })",
         R"({"a":null,"z":{"x":[{"c":2,"d":1},3],"y":1}})"},
        {R"({"b":1,"B":2,"a":3,"_":4})", R"({"B":2,"_":4,"a":3,"b":1})"},  // bytewise: 'B' < '_' < 'a'
        {R"({"ab":1,"a":2,"":0})", R"({"":0,"a":2,"ab":1})"},              // prefixes first
        {R"([3, 1, 2])", R"([3,1,2])"},                                   // arrays keep their order
        {R"([{"b":[{"d":0,"c":0}],"a":0}])", R"([{"a":0,"b":[{"c":0,"d":0}]}])"},
        {R"("text")", R"("text")"},
        {R"(true)", R"(true)"},
        {R"(null)", R"(null)"},
        {R"(-12)", R"(-12)"},
        {R"({"s":"a\"b\\c\n"})", R"({"s":"a\"b\\c\n"})"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.in);
      CHECK(Canonical(row.in) == row.want);
    }
  }

  TEST_CASE("values equal as JSON have equal canonical text") {
    struct Pair {
      std::string a, b;
    };
    const std::vector<Pair> pairs = {
        {R"({"a":1,"b":{"c":[1,2],"d":"x"}})", R"(  { "b" : { "d" : "x", "c" : [ 1 , 2 ] } , "a" : 1 }  )"},
        {R"({"k":"\u00e9"})", "{\"k\":\"\xc3\xa9\"}"},  // escaped and raw UTF-8
        {R"({"k":"\u0041"})", R"({"k":"A"})"},
        {R"({"k":"\/"})", R"({"k":"/"})"},
        {"{\n\t\"x\": []\r\n}", R"({"x":[]})"},
    };
    for (const Pair& p : pairs) {
      CAPTURE(p.a);
      CAPTURE(p.b);
      CHECK(Canonical(p.a) == Canonical(p.b));
    }
  }

  TEST_CASE("values that differ have different canonical text") {
    struct Pair {
      std::string a, b;
    };
    const std::vector<Pair> pairs = {
        {R"({"a":1})", R"({"a":"1"})"},
        {R"([1,2])", R"([2,1])"},
        {R"({"a":{}})", R"({"a":[]})"},
        {R"({"a":null})", R"({})"},
        {R"({"a":true})", R"({"a":1})"},
    };
    for (const Pair& p : pairs) {
      CAPTURE(p.a);
      CAPTURE(p.b);
      CHECK(Canonical(p.a) != Canonical(p.b));
    }
  }

  TEST_CASE("canonical text parses back to an equal value and is a fixed point") {
    const std::string in = R"({"z":[{"b":true,"a":1.5}],"y":"s","x":{"q":null,"p":-3}})";
    const std::string once = Canonical(in);
    CHECK(Canonical(once) == once);
    CHECK(Parse(once) == Parse(in));
  }

  TEST_CASE("ParseJson accepts a JSON document, with surrounding whitespace") {
    for (const std::string text : {R"({"a":1})", "  {\"a\":1}\n\t ", "[1,2]", "\"x\"", "0", "null"}) {
      CAPTURE(text);
      auto doc = ParseJson(text, "the body");
      CHECK(doc.ok());
    }
    auto doc = ParseJson(R"({"a":[1,2]})", "the body");
    REQUIRE(doc.ok());
    CHECK((*doc)["a"].Size() == 2);
  }

  TEST_CASE("ParseJson reads only the bytes of the view it is given") {
    const std::string buffer = R"({"a":1}{"b":2} trailing bytes)";
    auto doc = ParseJson(std::string_view(buffer).substr(0, 7), "the body");
    REQUIRE_MESSAGE(doc.ok(), doc.status().ToString());
    CHECK(doc->HasMember("a"));
  }

  TEST_CASE("ParseJson rejects malformed text, naming what it parsed and the offset") {
    struct Row {
      std::string text;
      std::size_t offset;
    };
    const std::vector<Row> rows = {
        {R"({} x)", 3},           // trailing junk
        {R"({"a":1}})", 7},       // a second closing brace
        {R"({"a":1} {"b":2})", 8},  // two documents
        {R"({"a":})", 5},
        {R"({"a" 1})", 5},
        {R"([1,2)", 4},
    };
    for (const Row& row : rows) {
      CAPTURE(row.text);
      auto doc = ParseJson(row.text, "the request body");
      REQUIRE_FALSE(doc.ok());
      CHECK(doc.status().code() == base::Code::kInvalidArgument);
      const std::string msg = doc.status().message();
      CAPTURE(msg);
      CHECK(msg.rfind("the request body is not valid JSON: ", 0) == 0);
      CHECK(msg.find("at offset " + std::to_string(row.offset)) != std::string::npos);
    }
  }

  TEST_CASE("ParseJson rejects empty and whitespace-only text") {
    for (const std::string text : {"", "   ", "\n"}) {
      CAPTURE(text);
      auto doc = ParseJson(text, "catalog");
      REQUIRE_FALSE(doc.ok());
      CHECK(doc.status().code() == base::Code::kInvalidArgument);
      CHECK(doc.status().message().rfind("catalog is not valid JSON", 0) == 0);
    }
  }

  TEST_CASE("ValidateJsonObject accepts what ParseJson accepts as an object, and says the same otherwise") {
    for (const std::string text : {R"({})", R"( {"a":[1,{"b":null}],"c":"\u00e9"} )", "\n{\"a\":1}\t"}) {
      CAPTURE(text);
      CHECK(ValidateJsonObject(text, "job outputs").ok());
    }
    // Not an object: valid JSON of another kind.
    for (const std::string text : {"[1]", " 1", "\"s\"", "null"}) {
      CAPTURE(text);
      const base::Status s = ValidateJsonObject(text, "job outputs");
      CHECK(s.code() == base::Code::kInvalidArgument);
      CHECK(s.message() == "job outputs must be a JSON object");
    }
    // Not JSON: ParseJson's very message.
    for (const std::string& text : std::vector<std::string>{"", "   ", R"({} x)", R"({"a":})", R"({"a":1} {"b":2})",
                                                           "{\"a\":\"\xff\"}"}) {
      CAPTURE(text);
      const base::Status s = ValidateJsonObject(text, "job outputs");
      CHECK(s.code() == base::Code::kInvalidArgument);
      CHECK(s.message() == ParseJson(text, "job outputs").status().message());
    }
    // Only the bytes of the view.
    const std::string buffer = R"({"a":1}{"b":2})";
    CHECK(ValidateJsonObject(std::string_view(buffer).substr(0, 7), "job outputs").ok());
  }

  TEST_CASE("WriteJson writes compactly and keeps the existing key order") {
    CHECK(WriteJson(Parse(R"({ "b" : 1, "a" : [ 1, { "d": 2, "c": 3 } ] })")) == R"({"b":1,"a":[1,{"d":2,"c":3}]})");
    CHECK(WriteJson(Parse(R"("x")")) == R"("x")");
  }
}

}  // namespace
}  // namespace broker::osb
