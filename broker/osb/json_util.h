// JSON helpers shared by the catalog, the parameter checks and the HTTP codec: thin names for
// broker/base/json.h, the one JSON entry point.
//
// Canonical JSON (base::CanonicalJson): objects with keys sorted bytewise, no insignificant
// whitespace, one spelling per number. It is a fixed point (canonicalising canonical text changes
// nothing) and two values that are equal as parsed have equal canonical text, which is how the
// broker tells an identical re-sent request from a different one. Thread-safe (pure).
#ifndef BROKER_OSB_JSON_UTIL_H_
#define BROKER_OSB_JSON_UTIL_H_

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "broker/base/result.h"

namespace broker::osb {

std::string CanonicalJson(const rapidjson::Value& value);

// Parses `text` as a JSON document with base::ParseJson's checks (depth, UTF-8, NUL, finite
// numbers, no BOM, no duplicate names). kInvalidArgument "<what> is not valid JSON: <reason> in
// <path> at offset N" when it is not.
base::Result<rapidjson::Document> ParseJson(std::string_view text, std::string_view what);

// OK when `text` is one JSON object, as ParseJson would accept it, checked without building a
// document. kInvalidArgument "<what> is not valid JSON: ..." (ParseJson's message) or "<what> must
// be a JSON object" otherwise.
base::Status ValidateJsonObject(std::string_view text, std::string_view what);

// Compact serialization of a value (keys in their existing order).
std::string WriteJson(const rapidjson::Value& value);

}  // namespace broker::osb

#endif  // BROKER_OSB_JSON_UTIL_H_
