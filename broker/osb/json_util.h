// JSON helpers shared by the catalog, the parameter checks and the HTTP codec.
//
// Canonical JSON: objects with keys sorted bytewise, no insignificant whitespace, numbers as
// RapidJSON writes them. Two values that are equal as JSON have equal canonical text, which is
// how the broker tells an identical re-sent request from a different one. Thread-safe (pure).
#ifndef BROKER_OSB_JSON_UTIL_H_
#define BROKER_OSB_JSON_UTIL_H_

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "broker/base/result.h"

namespace broker::osb {

std::string CanonicalJson(const rapidjson::Value& value);

// Parses `text` as a JSON document. kInvalidArgument "<what> is not valid JSON: <reason> at
// offset N" when it is not.
base::Result<rapidjson::Document> ParseJson(std::string_view text, std::string_view what);

// OK when `text` is one JSON object, as ParseJson would accept it, checked without building a
// document. kInvalidArgument "<what> is not valid JSON: ..." (ParseJson's message) or "<what> must
// be a JSON object" otherwise.
base::Status ValidateJsonObject(std::string_view text, std::string_view what);

// Compact serialization of a value (keys in their existing order).
std::string WriteJson(const rapidjson::Value& value);

}  // namespace broker::osb

#endif  // BROKER_OSB_JSON_UTIL_H_
