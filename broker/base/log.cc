#include "broker/base/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/sink.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>

namespace broker::base {
namespace {

constexpr char kPattern[] = "%Y-%m-%dT%H:%M:%S.%eZ %l %n %v";

std::mutex g_mu;
spdlog::level::level_enum g_level = spdlog::level::info;

// The one sink every logger writes to: stdout. spdlog's stdout sinks format each line under one
// process-wide mutex, so under load (an access-log line per request from 16 HTTP threads) the
// threads queue on it; measured, that cost a third of the catalog's throughput. Here each thread
// formats into its own buffer with its own copy of the formatter (pattern_formatter is not
// thread-safe: it caches the current second), and the line goes out with one fwrite, which glibc
// makes atomic per call. Lines from different threads never interleave within a line.
class StdoutSink final : public spdlog::sinks::sink {
 public:
  StdoutSink() : formatter_(NewFormatter()) {}

  void log(const spdlog::details::log_msg& msg) override {
    struct PerThread {
      std::unique_ptr<spdlog::formatter> formatter;
      std::uint64_t generation = 0;
      spdlog::memory_buf_t buf;
    };
    thread_local PerThread t;
    const std::uint64_t generation = generation_.load(std::memory_order_acquire);
    if (!t.formatter || t.generation != generation) {
      std::lock_guard<std::mutex> lock(mu_);
      t.formatter = formatter_->clone();
      t.generation = generation_.load(std::memory_order_relaxed);
    }
    t.buf.clear();
    t.formatter->format(msg, t.buf);
    std::fwrite(t.buf.data(), 1, t.buf.size(), stdout);
  }

  void flush() override { std::fflush(stdout); }

  void set_pattern(const std::string& pattern) override {
    set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern, spdlog::pattern_time_type::utc));
  }

  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    std::lock_guard<std::mutex> lock(mu_);
    formatter_ = std::move(formatter);
    generation_.fetch_add(1, std::memory_order_release);
  }

 private:
  static std::unique_ptr<spdlog::formatter> NewFormatter() {
    return std::make_unique<spdlog::pattern_formatter>(kPattern, spdlog::pattern_time_type::utc);
  }

  std::mutex mu_;  // guards formatter_
  std::unique_ptr<spdlog::formatter> formatter_;
  std::atomic<std::uint64_t> generation_{1};
};

std::shared_ptr<StdoutSink> SharedSink() {
  static const auto sink = std::make_shared<StdoutSink>();
  return sink;
}

}  // namespace

void InitLogging(std::string_view level) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_level = spdlog::level::from_str(std::string(level));
  if (g_level == spdlog::level::off && level != "off") g_level = spdlog::level::info;
  spdlog::set_pattern(kPattern, spdlog::pattern_time_type::utc);
  spdlog::set_level(g_level);
  // Lines are flushed at least every second, and at once from warn up: a flush per line costs a
  // write(2) per request under load.
  spdlog::flush_every(std::chrono::seconds(1));
}

std::shared_ptr<spdlog::logger> Logger(const std::string& module) {
  if (auto existing = spdlog::get(module)) return existing;
  std::lock_guard<std::mutex> lock(g_mu);
  if (auto existing = spdlog::get(module)) return existing;
  auto logger = std::make_shared<spdlog::logger>(module, SharedSink());
  spdlog::register_logger(logger);
  logger->set_level(g_level);
  logger->flush_on(spdlog::level::warn);
  return logger;
}

std::string RedactUri(std::string_view uri) {
  const auto scheme = uri.find("://");
  if (scheme == std::string_view::npos) return std::string(uri);
  const auto auth_start = scheme + 3;
  auto auth_end = uri.find_first_of("/?#", auth_start);
  if (auth_end == std::string_view::npos) auth_end = uri.size();
  std::string out(uri.substr(0, auth_start));
  // The userinfo ends at the authority's last '@' (a password may itself contain '@').
  const auto at = uri.substr(0, auth_end).rfind('@');
  if (at != std::string_view::npos && at >= auth_start) {
    const auto colon = uri.find(':', auth_start);
    if (colon != std::string_view::npos && colon < at) {
      out += uri.substr(auth_start, colon - auth_start);
      out += ":***";
    } else {
      out += uri.substr(auth_start, at - auth_start);
    }
    out += uri.substr(at, auth_end - at);
  } else {
    out += uri.substr(auth_start, auth_end - auth_start);
  }
  // libpq also takes the password as a query parameter: ?password=... or &password=...
  std::string rest(uri.substr(auth_end));
  for (std::size_t p = rest.find("password="); p != std::string::npos; p = rest.find("password=", p + 1)) {
    if (p == 0 || (rest[p - 1] != '?' && rest[p - 1] != '&')) continue;
    const std::size_t value = p + 9;
    std::size_t value_end = rest.find_first_of("&#", value);
    if (value_end == std::string::npos) value_end = rest.size();
    rest.replace(value, value_end - value, "***");
  }
  return out + rest;
}

std::string SecretTag(std::string_view secret) {
  if (secret.empty()) return "none";
  // FNV-1a 64: enough to correlate lines; 32 bits shown, far too few to recover the secret.
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : secret) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(h >> 32));
  return std::string("sha:") + buf;
}

std::string LogQuote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += "\\x";
          out += kHex[u >> 4];
          out += kHex[u & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string LogId(std::string_view text) {
  const bool bare = !text.empty() && text.size() <= 128 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == ':' || c == '~';
  });
  return bare ? std::string(text) : LogQuote(text);
}

}  // namespace broker::base
