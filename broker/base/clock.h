// Clock: the source of wall-clock time, behind an interface so tests can pin it.
//
// Real implementation: SystemClock; fake: tests/support/fake_clock.h. Implementations are
// thread-safe.
#ifndef BROKER_BASE_CLOCK_H_
#define BROKER_BASE_CLOCK_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace broker::base {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
};

// Formats as OSB wants metadata timestamps: "2026-11-25T17:05:40.123Z" (UTC, milliseconds).
std::string FormatIso8601(TimePoint t);

// Parses what FormatIso8601 writes, with or without the fractional part. Empty when malformed.
std::optional<TimePoint> ParseIso8601(std::string_view text);

}  // namespace broker::base

#endif  // BROKER_BASE_CLOCK_H_
