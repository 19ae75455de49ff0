// Tests for broker/base/encoding.h: Base64 (RFC 4648, standard alphabet), hex, percent-encoding.
#include "broker/base/encoding.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "broker/base/ids.h"

namespace broker::base {
namespace {

struct Vector {
  std::string plain;
  std::string encoded;
};

// RFC 4648 §10.
const std::vector<Vector> kRfc4648 = {
    {"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

TEST_SUITE("base::Encoding") {
  TEST_CASE("Base64Encode matches the RFC 4648 test vectors") {
    for (const Vector& v : kRfc4648) {
      CAPTURE(v.plain);
      CHECK(Base64Encode(v.plain) == v.encoded);
    }
  }

  TEST_CASE("Base64Decode matches the RFC 4648 test vectors") {
    for (const Vector& v : kRfc4648) {
      CAPTURE(v.encoded);
      const auto got = Base64Decode(v.encoded);
      REQUIRE(got.has_value());
      CHECK(*got == v.plain);
    }
  }

  TEST_CASE("Base64Decode accepts the vectors without padding") {
    for (const Vector& v : kRfc4648) {
      std::string unpadded = v.encoded;
      while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
      CAPTURE(unpadded);
      const auto got = Base64Decode(unpadded);
      REQUIRE(got.has_value());
      CHECK(*got == v.plain);
    }
  }

  TEST_CASE("Base64Encode uses the standard alphabet with '+' and '/'") {
    CHECK(Base64Encode(std::string("\xfb\xff", 2)) == "+/8=");
    CHECK(Base64Encode(std::string("\xff\xff\xff", 3)) == "////");
    CHECK(Base64Encode(std::string("\xfb\xef\xbe", 3)) == "++++");
    CHECK(Base64Encode(std::string("\x00\x00\x00", 3)) == "AAAA");
  }

  TEST_CASE("any byte string survives an encode/decode round trip") {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    std::vector<std::string> inputs = {all, std::string(1, '\0'), std::string("\0\0", 2)};
    for (std::size_t n = 0; n <= 66; ++n) inputs.push_back(RandomBytes(n));
    for (const std::string& in : inputs) {
      CAPTURE(in.size());
      const std::string enc = Base64Encode(in);
      CHECK(enc.size() == (in.size() + 2) / 3 * 4);
      const auto dec = Base64Decode(enc);
      REQUIRE(dec.has_value());
      CHECK(*dec == in);
    }
  }

  TEST_CASE("Base64Decode rejects characters outside the alphabet and stray '='") {
    const std::vector<std::string> bad = {
        "Zm9v!",                    // '!'
        "Zm 9v",                    // space
        "Zm9v\n",                   // newline
        "Zm9-",                     // URL-safe alphabet
        "Zm9_",
        std::string("Zg\0=", 4),    // NUL
        "Zm9v\xc3\xa9",             // non-ASCII
        "Zg=a",                     // data after padding
        "Zg==Zg==",                 // padding in the middle
        "=Zg",                      // padding first
        "Zg===",                    // too much padding
        "Zm9v====",
        // '=' where no padding belongs.
        "=",
        "==",
        "Zm9v=",
        "Zm9vYmFy==",
    };
    for (const std::string& text : bad) {
      CAPTURE(text);
      const auto decoded = Base64Decode(text);
      CHECK_MESSAGE(!decoded.has_value(), "decoded to hex \"" << (decoded ? HexEncode(*decoded) : std::string("-")) << "\"");
    }
  }

  TEST_CASE("Base64Decode rejects a length no byte string encodes to") {
    // 4k+1 characters carry 6 bits past the last whole byte: not an encoding of anything.
    for (const std::string text : {"Z", "Zm9vY", "Zm9vYmFyZ"}) {
      CAPTURE(text);
      const auto decoded = Base64Decode(text);
      CHECK_MESSAGE(!decoded.has_value(), "decoded to hex \"" << (decoded ? HexEncode(*decoded) : std::string("-")) << "\"");
    }
  }

  TEST_CASE("HexDecode reads either case and refuses odd lengths and non-hex characters") {
    CHECK(HexDecode("") == std::optional<std::string>(""));
    CHECK(HexDecode("00ff7A") == std::optional<std::string>(std::string("\x00\xff\x7a", 3)));
    CHECK_FALSE(HexDecode("abc").has_value());
    CHECK_FALSE(HexDecode("zz").has_value());
    CHECK_FALSE(HexDecode("0g").has_value());
    for (int b = 0; b < 256; ++b) {
      const std::string one(1, static_cast<char>(b));
      CHECK(HexDecode(HexEncode(one)) == std::optional<std::string>(one));
    }
  }

  TEST_CASE("PercentDecode decodes escapes, '+' only when asked, and refuses broken escapes") {
    CHECK(PercentDecode("a%20b%2Fc", false) == std::optional<std::string>("a b/c"));
    CHECK(PercentDecode("a+b", false) == std::optional<std::string>("a+b"));
    CHECK(PercentDecode("a+b", true) == std::optional<std::string>("a b"));
    CHECK(PercentDecode("%2b", true) == std::optional<std::string>("+"));
    CHECK(PercentDecode("%00", false) == std::optional<std::string>(std::string(1, '\0')));
    CHECK_FALSE(PercentDecode("%", false).has_value());
    CHECK_FALSE(PercentDecode("%4", false).has_value());
    CHECK_FALSE(PercentDecode("%zz", false).has_value());
    CHECK_FALSE(PercentDecode("ok%g1", true).has_value());
  }

  TEST_CASE("PercentEncode keeps only RFC 3986's unreserved characters, and PercentDecode reverses it") {
    struct Row {
      std::string plain;
      std::string encoded;
    };
    const std::vector<Row> rows = {
        {"", ""},
        {"9a8b7c6d-1111-2222-3333-444455556666", "9a8b7c6d-1111-2222-3333-444455556666"},
        {"AZaz09-._~", "AZaz09-._~"},
        {"b/1", "b%2F1"},
        {"b?x=1#f", "b%3Fx%3D1%23f"},
        {"50%", "50%25"},
        {"user:pw@host", "user%3Apw%40host"},
        {"a b+c", "a%20b%2Bc"},
        {"\xc3\xa9\x01", "%C3%A9%01"},
    };
    for (const Row& r : rows) {
      CAPTURE(r.plain);
      CHECK(PercentEncode(r.plain) == r.encoded);
      CHECK(PercentDecode(r.encoded, false) == std::optional<std::string>(r.plain));
    }
    std::string every_byte;
    for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
    CHECK(PercentDecode(PercentEncode(every_byte), false) == std::optional<std::string>(every_byte));
  }
}

}  // namespace
}  // namespace broker::base
