// Digests and comparisons for secrets: SHA-256 as lower-case hex, and an equality test whose time
// does not depend on where two strings first differ. Thread-safe (pure functions).
#ifndef BROKER_BASE_DIGEST_H_
#define BROKER_BASE_DIGEST_H_

#include <string>
#include <string_view>

#include "broker/base/result.h"

namespace broker::base {

// SHA-256 of `bytes`, 64 lower-case hex characters.
std::string Sha256Hex(std::string_view bytes);

// SHA-256 of the file at `path`, read in chunks (64 lower-case hex characters).
// kNotFound when it cannot be opened, kInternal on a read error.
Result<std::string> Sha256FileHex(const std::string& path);

// True when a == b. The time taken depends on the lengths only, not on the contents.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace broker::base

#endif  // BROKER_BASE_DIGEST_H_
