// Random identifiers and tokens from the kernel's CSPRNG (getrandom(2)).
//
// Thread-safe. A failure of the kernel's generator is unrecoverable and aborts the process:
// handing out a guessable token would be worse than stopping.
#ifndef BROKER_BASE_IDS_H_
#define BROKER_BASE_IDS_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace broker::base {

// `n` random bytes.
std::string RandomBytes(std::size_t n);

// `n` random bytes as 2n lowercase hex characters.
std::string RandomHex(std::size_t n);

// A random RFC 4122 version-4 UUID, e.g. "3f2a6c1e-...".
std::string NewUuid();

// Lowercase hex of arbitrary bytes.
std::string HexEncode(std::string_view bytes);

}  // namespace broker::base

#endif  // BROKER_BASE_IDS_H_
