// Base64 (RFC 4648, standard alphabet) encoding and decoding. Pure; thread-safe.
#ifndef BROKER_BASE_ENCODING_H_
#define BROKER_BASE_ENCODING_H_

#include <optional>
#include <string>
#include <string_view>

namespace broker::base {

// With '=' padding.
std::string Base64Encode(std::string_view bytes);

// Padding optional; nullopt on any character outside the alphabet or a stray '='.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace broker::base

#endif  // BROKER_BASE_ENCODING_H_
