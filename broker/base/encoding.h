// Base64 (RFC 4648, standard alphabet), hex and percent-encoding. Pure; thread-safe.
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

// Hex (either case) to bytes; nullopt on an odd length or a character that is not a hex digit.
// (ids.h has HexEncode.)
std::optional<std::string> HexDecode(std::string_view hex);

// RFC 3986 percent-decoding; with `plus_is_space` (query strings, form bodies) '+' is a space.
// nullopt on a '%' that is not followed by two hex digits.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// RFC 3986 percent-encoding of every byte but the unreserved characters [A-Za-z0-9-._~], as %XX
// with uppercase hex: safe for a path segment, userinfo, and a query name or value ('/', '?', '#',
// '%', ':' and '@' cannot change the URL's structure). PercentDecode(..., false) reverses it.
std::string PercentEncode(std::string_view text);

}  // namespace broker::base

#endif  // BROKER_BASE_ENCODING_H_
