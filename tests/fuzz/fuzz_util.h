// Shared by the libFuzzer harnesses (tests/fuzz/README.md): the input as text, an invariant check
// that aborts (so libFuzzer records the input as a finding) and the UTF-8 rule every text the
// broker stores or answers with must follow.
#ifndef BROKER_TESTS_FUZZ_FUZZ_UTIL_H_
#define BROKER_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "broker/base/log.h"

namespace broker::fuzz {

// For each harness's LLVMFuzzerInitialize: the broker's log lines (a refused CC answer is logged,
// for one) are switched off, so they cost no time and do not fill the run's log. The values they
// would log are still computed.
inline void QuietLogs() { broker::base::InitLogging("off"); }

inline std::string_view Text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Aborts with `what` (and the text it is about, cut to 300 bytes and escaped) when `ok` is false.
inline void Require(bool ok, const char* what, std::string_view about = {}) {
  if (ok) return;
  std::string shown;
  for (unsigned char c : about.substr(0, 300)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      shown += static_cast<char>(c);
    } else {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      shown += esc;
    }
  }
  std::fprintf(stderr, "fuzz invariant violated: %s\n  about (%zu bytes): \"%s\"%s\n", what, about.size(),
               shown.c_str(), about.size() > 300 ? "..." : "");
  std::abort();
}

// RFC 3629 UTF-8: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
// What PostgreSQL accepts as UTF8 text, NUL aside.
inline bool ValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len;
    std::uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xe0) == 0xc0) {
      len = 2;
      cp = b & 0x1f;
    } else if ((b & 0xf0) == 0xe0) {
      len = 3;
      cp = b & 0x0f;
    } else if ((b & 0xf8) == 0xf0) {
      len = 4;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

// A value that becomes an id, a guid or a key: valid UTF-8 without NUL (libpq ends a string at
// NUL, so "X\0y" would silently become "X").
inline bool CleanId(std::string_view s) { return s.find('\0') == std::string_view::npos && ValidUtf8(s); }

}  // namespace broker::fuzz

#endif  // BROKER_TESTS_FUZZ_FUZZ_UTIL_H_
