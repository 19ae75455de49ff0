// Tests for broker/base/ids.h: random bytes, hex, and version-4 UUIDs.
#include "broker/base/ids.h"

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

bool IsLowerHex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST_SUITE("base::Ids") {
  TEST_CASE("NewUuid returns a lowercase RFC 4122 version-4 UUID") {
    for (int i = 0; i < 200; ++i) {
      const std::string id = NewUuid();
      CAPTURE(id);
      CHECK(id.size() == 36);
      CHECK(MatchesShape(id, "hhhhhhhh-hhhh-4hhh-hhhh-hhhhhhhhhhhh"));
      CHECK(std::string_view("89ab").find(id[19]) != std::string_view::npos);  // RFC 4122 variant
    }
  }

  TEST_CASE("NewUuid does not repeat") {
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) CHECK(seen.insert(NewUuid()).second);
  }

  TEST_CASE("RandomBytes returns exactly n bytes and differs between calls") {
    for (std::size_t n : {0u, 1u, 16u, 32u, 1000u}) {
      CAPTURE(n);
      CHECK(RandomBytes(n).size() == n);
    }
    CHECK(RandomBytes(32) != RandomBytes(32));
  }

  TEST_CASE("RandomHex returns 2n lowercase hex characters and differs between calls") {
    for (std::size_t n : {0u, 1u, 16u, 32u}) {
      const std::string h = RandomHex(n);
      CAPTURE(h);
      CHECK(h.size() == 2 * n);
      CHECK(IsLowerHex(h));
    }
    CHECK(RandomHex(16) != RandomHex(16));
  }

  TEST_CASE("HexEncode writes two lowercase hex digits per byte") {
    struct Row {
      std::string in;
      std::string want;
    };
    const std::vector<Row> rows = {
        {"", ""},
        {"abc", "616263"},
        {std::string("\x00\x01\x7f\x80\xfe\xff", 6), "00017f80feff"},
        {std::string("\xde\xad\xbe\xef", 4), "deadbeef"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.want);
      CHECK(HexEncode(row.in) == row.want);
    }
    SUBCASE("when every byte value is encoded") {
      std::string all;
      for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
      const std::string h = HexEncode(all);
      REQUIRE(h.size() == 512);
      CHECK(IsLowerHex(h));
      CHECK(h.substr(0, 6) == "000102");
      CHECK(h.substr(506) == "fdfeff");
    }
  }
}

}  // namespace
}  // namespace broker::base
