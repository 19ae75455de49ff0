// ParameterSchema: one plan's JSON Schema (draft-04) for request parameters, compiled once at
// startup and then used to validate every request's `parameters` (OSB: never compile a
// validator per request).
//
// Immutable after construction; Validate() is thread-safe: each call has its own validator, and
// the matching of "pattern" keywords is serialized because RapidJSON 1.1's compiled regexes keep
// their match state inside the shared schema document.
#ifndef BROKER_OSB_PARAMETER_SCHEMA_H_
#define BROKER_OSB_PARAMETER_SCHEMA_H_

#include <rapidjson/document.h>
#include <rapidjson/schema.h>

#include <memory>
#include <mutex>
#include <string>

#include "broker/base/result.h"
#include "broker/base/status.h"

namespace broker::osb {

class ParameterSchema {
 public:
  // Compiles `schema`. kInvalidArgument "<where>: ..." when it is not a well-formed draft-04
  // schema (it must be an object, carry "$schema", match the draft-04 meta-schema, and every
  // "pattern" must be a regular expression the validator understands).
  static base::Result<std::shared_ptr<const ParameterSchema>> Compile(const rapidjson::Value& schema,
                                                                      const std::string& where);

  // OK when `params` satisfies the schema. Otherwise kInvalidArgument with a description a
  // developer can act on: which parameter, which rule ("ttl_minutes: must be at most 480").
  base::Status Validate(const rapidjson::Value& params) const;

  // The schema as given, for the catalog response.
  const rapidjson::Document& document() const { return doc_; }

 private:
  ParameterSchema() = default;
  rapidjson::Document doc_;
  std::unique_ptr<rapidjson::SchemaDocument> compiled_;
  mutable std::mutex match_mu_;  // guards the regex state inside compiled_ during Accept()
};

}  // namespace broker::osb

#endif  // BROKER_OSB_PARAMETER_SCHEMA_H_
