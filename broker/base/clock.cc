#include "broker/base/clock.h"

#include <cstdio>
#include <ctime>

namespace broker::base {

std::string FormatIso8601(TimePoint t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  const std::time_t secs = static_cast<std::time_t>(std::chrono::floor<std::chrono::seconds>(ms).count());
  const int millis = static_cast<int>(ms.count() - static_cast<long long>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::optional<TimePoint> ParseIso8601(std::string_view s) {
  // yyyy-mm-ddThh:mm:ss[.f+]Z, digits exactly where the format has them (no signs or spaces).
  auto digits = [&](std::size_t pos, std::size_t n, int* out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int y, mo, d, h, mi, sec;
  if (s.size() < 20 || !digits(0, 4, &y) || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' ||
      !digits(8, 2, &d) || s[10] != 'T' || !digits(11, 2, &h) || s[13] != ':' || !digits(14, 2, &mi) ||
      s[16] != ':' || !digits(17, 2, &sec)) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  long long millis = 0;
  if (s[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 3) millis = millis * 10 + (s[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (; n < 3; ++n) millis *= 10;
  }
  if (pos + 1 != s.size() || s[pos] != 'Z') return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  // system_clock (nanoseconds in 64 bits) spans 1678..2261; outside it a TimePoint would wrap.
  if (y < 1678 || y > 2261) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  const std::time_t secs = timegm(&tm);
  // timegm normalizes Feb 30 into Mar 2; a date that does not round-trip does not exist.
  std::tm back{};
  gmtime_r(&secs, &back);
  if (back.tm_mday != d || back.tm_mon != mo - 1 || back.tm_year != y - 1900) return std::nullopt;
  return TimePoint(std::chrono::seconds(secs)) + std::chrono::milliseconds(millis);
}

}  // namespace broker::base
