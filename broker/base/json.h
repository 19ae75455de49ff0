// The one JSON entry point for everything remote input reaches (request bodies, identity headers,
// session reports, Cloud Controller and UAA answers), and the canonical form of a parsed value.
//
// ParseJson accepts exactly one JSON value (RFC 8259) and nothing else: no byte-order mark, only
// JSON whitespace after the value, objects nested at most `max_depth` deep (checked while parsing,
// which is iterative: no input recurses), strings (member names too) of valid UTF-8 without NUL
// (raw or \u0000) or surrogates (a \ud800 or \udc00 escape without its pair is refused), numbers
// that are finite doubles or 64-bit integers, and no object with two members of the same name.
// Integers that fit int64/uint64 keep their exact value; other numbers become doubles.
// A refusal is kInvalidArgument "<what> is not valid JSON: <reason> in <path> at offset N", where
// <path> names the member ("context.x", "tmate_lines[2]"; left out at the top level). The message
// never quotes the input beyond member names. Pure functions; thread-safe.
#ifndef BROKER_BASE_JSON_H_
#define BROKER_BASE_JSON_H_

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "broker/base/result.h"
#include "broker/base/status.h"

namespace broker::base {

inline constexpr int kJsonMaxDepth = 64;

// `text` as a document, or kInvalidArgument as above.
Result<rapidjson::Document> ParseJson(std::string_view text, std::string_view what, int max_depth = kJsonMaxDepth);

// ParseJson's checks without building a document: OK or ParseJson's kInvalidArgument.
Status ValidateJson(std::string_view text, std::string_view what, int max_depth = kJsonMaxDepth);

// The canonical text of `value`: object members sorted bytewise by name, no insignificant
// whitespace, each number spelt one way (an integral value within 64 bits as an integer, any other
// as std::to_chars' shortest round-trip form; a non-finite double, which ParseJson never makes, as
// null). CanonicalJson(ParseJson(CanonicalJson(v))) == CanonicalJson(v), and two values equal as
// parsed (numbers compared as the integers or doubles ParseJson made of them) have equal text.
// Recursive: meant for values no deeper than ParseJson allows.
std::string CanonicalJson(const rapidjson::Value& value);

// True when `bytes` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF) without NUL: what ParseJson requires of every string.
bool IsJsonSafeUtf8(std::string_view bytes);

}  // namespace broker::base

#endif  // BROKER_BASE_JSON_H_
