// Tests for broker/base/clock.h: FormatIso8601's shape and ParseIso8601's round trip and
// rejections.
#include "broker/base/clock.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string_view>
#include <string>
#include <vector>

namespace broker::base {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TimePoint At(long long secs, long long millis = 0) { return TimePoint(seconds(secs)) + milliseconds(millis); }

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

bool HasOsbShape(const std::string& s) { return MatchesShape(s, "dddd-dd-ddTdd:dd:dd.dddZ"); }

TEST_SUITE("base::Clock") {
  TEST_CASE("FormatIso8601 writes UTC with milliseconds as yyyy-mm-ddThh:mm:ss.sssZ") {
    struct Row {
      TimePoint t;
      std::string want;
    };
    const std::vector<Row> rows = {
        {At(0), "1970-01-01T00:00:00.000Z"},
        {At(1795626340, 123), "2026-11-25T17:05:40.123Z"},
        {At(1709251199, 999), "2024-02-29T23:59:59.999Z"},  // leap day, last millisecond
        {At(946684800, 7), "2000-01-01T00:00:00.007Z"},
        {At(946684799, 50), "1999-12-31T23:59:59.050Z"},
        {At(4133980799), "2100-12-31T23:59:59.000Z"},  // beyond 2038
        {At(0, -1), "1969-12-31T23:59:59.999Z"},      // before the epoch
    };
    for (const Row& row : rows) {
      CAPTURE(row.want);
      const std::string got = FormatIso8601(row.t);
      CHECK(got == row.want);
      CHECK(HasOsbShape(got));
    }
  }

  TEST_CASE("FormatIso8601 of the system clock's now has the OSB shape") {
    const SystemClock clock;
    const std::string now = FormatIso8601(clock.Now());
    CAPTURE(now);
    CHECK(HasOsbShape(now));
  }

  TEST_CASE("ParseIso8601 inverts FormatIso8601 at millisecond precision") {
    const std::vector<TimePoint> points = {At(0),          At(1795626340, 123), At(1709251199, 999),
                                           At(946684800, 1), At(4133980799, 500),  At(1, 10)};
    for (const TimePoint& t : points) {
      const std::string text = FormatIso8601(t);
      CAPTURE(text);
      const auto parsed = ParseIso8601(text);
      REQUIRE(parsed.has_value());
      CHECK(*parsed == t);
    }
    SUBCASE("when the time point is now (truncated to milliseconds)") {
      const TimePoint now = std::chrono::time_point_cast<milliseconds>(SystemClock().Now());
      const auto parsed = ParseIso8601(FormatIso8601(now));
      REQUIRE(parsed.has_value());
      CHECK(*parsed == now);
    }
  }

  TEST_CASE("ParseIso8601 accepts the text with or without the fractional part") {
    struct Row {
      std::string text;
      TimePoint want;
    };
    const std::vector<Row> rows = {
        {"2026-11-25T17:05:40Z", At(1795626340)},
        {"2026-11-25T17:05:40.1Z", At(1795626340, 100)},
        {"2026-11-25T17:05:40.12Z", At(1795626340, 120)},
        {"2026-11-25T17:05:40.123Z", At(1795626340, 123)},
        {"1970-01-01T00:00:00Z", At(0)},
    };
    for (const Row& row : rows) {
      CAPTURE(row.text);
      const auto parsed = ParseIso8601(row.text);
      REQUIRE(parsed.has_value());
      CHECK(*parsed == row.want);
    }
  }

  TEST_CASE("ParseIso8601 rejects malformed text") {
    const std::vector<std::string> bad = {
        "",
        "Z",
        "2026-11-25",
        "2026-11-25T17:05",
        "2026-11-25T17:05:40",          // no zone
        "2026-11-25T17:05:40.123",      // no zone
        "2026-11-25T17:05:40.Z",        // dot without digits
        "2026-11-25T17:05:40.123z",     // lowercase zone
        "2026-11-25T17:05:40+00:00",    // offset instead of Z
        "2026-11-25T17:05:40.123+01:00",
        "2026-11-25T17:05:40.123ZZ",
        "2026-11-25T17:05:40.123Z ",    // trailing space
        " 2026-11-25T17:05:40.123Z",    // leading space
        "2026-11-25 17:05:40Z",         // space instead of T
        "2026/11/25T17:05:40Z",
        "26-11-25T17:05:40Z",
        "20261125T170540Z",             // basic format
        "abcd-ef-ghTij:kl:mnZ",
        "2026-13-01T00:00:00Z",         // month 13
        "2026-00-01T00:00:00Z",         // month 0
        "2026-11-32T00:00:00Z",         // day 32
        "2026-11-00T00:00:00Z",         // day 0
        "2026-11-25T24:00:00Z",         // hour 24
        "2026-11-25T23:60:00Z",         // minute 60
        "2026-11-25T23:59:61Z",         // second 61
        "2026-11-25T17:05:40.12aZ",
        // Fields that are not exactly the fixed-width digits FormatIso8601 writes.
        "2026-+1-25T17:05:40Z",         // sign in the month
        "2026-11-25T17:05: 4Z",         // space-padded second
        "2026-11- 5T17:05:40Z",         // space-padded day
        // Calendar dates that do not exist.
        "2026-02-30T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2025-02-29T00:00:00Z",         // not a leap year
    };
    for (const std::string& text : bad) {
      CAPTURE(text);
      const auto parsed = ParseIso8601(text);
      CHECK_MESSAGE(!parsed.has_value(), "parsed as " << (parsed ? FormatIso8601(*parsed) : std::string("-")));
    }
  }

  TEST_CASE("ParseIso8601 of a year outside the clock's range is empty, not a wrapped time") {
    // system_clock counts int64 nanoseconds: it spans about 1677-09-21 to 2262-04-11, so
    // FormatIso8601 never writes these years.
    for (const std::string text : {"2300-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00Z",
                                   "1600-01-01T00:00:00Z", "-026-11-25T17:05:40Z"}) {
      CAPTURE(text);
      const auto parsed = ParseIso8601(text);
      CHECK_MESSAGE(!parsed.has_value(), "parsed as " << (parsed ? FormatIso8601(*parsed) : std::string("-")));
    }
  }
}

}  // namespace
}  // namespace broker::base
