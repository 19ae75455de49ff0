#include "broker/osb/parameter_schema.h"

#include <rapidjson/internal/regex.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>

#include <mutex>
#include <string_view>

#include "broker/osb/json_util.h"

namespace broker::osb {
namespace {

// The draft-04 meta-schema (json-schema.org/draft-04/schema, without its remote "id" so every
// $ref resolves locally). Catalog schemas are checked against it at startup.
constexpr std::string_view kDraft04MetaSchema = R"json({
 "$schema": "http://json-schema.org/draft-04/schema#",
 "definitions": {
  "schemaArray": {"type": "array", "minItems": 1, "items": {"$ref": "#"}},
  "positiveInteger": {"type": "integer", "minimum": 0},
  "positiveIntegerDefault0": {"allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}]},
  "simpleTypes": {"enum": ["array", "boolean", "integer", "null", "number", "object", "string"]},
  "stringArray": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": true}
 },
 "type": "object",
 "properties": {
  "id": {"type": "string"},
  "$schema": {"type": "string"},
  "title": {"type": "string"},
  "description": {"type": "string"},
  "default": {},
  "multipleOf": {"type": "number", "minimum": 0, "exclusiveMinimum": true},
  "maximum": {"type": "number"},
  "exclusiveMaximum": {"type": "boolean", "default": false},
  "minimum": {"type": "number"},
  "exclusiveMinimum": {"type": "boolean", "default": false},
  "maxLength": {"$ref": "#/definitions/positiveInteger"},
  "minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
  "pattern": {"type": "string"},
  "additionalItems": {"anyOf": [{"type": "boolean"}, {"$ref": "#"}], "default": {}},
  "items": {"anyOf": [{"$ref": "#"}, {"$ref": "#/definitions/schemaArray"}], "default": {}},
  "maxItems": {"$ref": "#/definitions/positiveInteger"},
  "minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
  "uniqueItems": {"type": "boolean", "default": false},
  "maxProperties": {"$ref": "#/definitions/positiveInteger"},
  "minProperties": {"$ref": "#/definitions/positiveIntegerDefault0"},
  "required": {"$ref": "#/definitions/stringArray"},
  "additionalProperties": {"anyOf": [{"type": "boolean"}, {"$ref": "#"}], "default": {}},
  "definitions": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
  "properties": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
  "patternProperties": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
  "dependencies": {"type": "object",
                   "additionalProperties": {"anyOf": [{"$ref": "#"}, {"$ref": "#/definitions/stringArray"}]}},
  "enum": {"type": "array", "minItems": 1, "uniqueItems": true},
  "type": {"anyOf": [{"$ref": "#/definitions/simpleTypes"},
                     {"type": "array", "items": {"$ref": "#/definitions/simpleTypes"},
                      "minItems": 1, "uniqueItems": true}]},
  "format": {"type": "string"},
  "allOf": {"$ref": "#/definitions/schemaArray"},
  "anyOf": {"$ref": "#/definitions/schemaArray"},
  "oneOf": {"$ref": "#/definitions/schemaArray"},
  "not": {"$ref": "#"}
 },
 "dependencies": {"exclusiveMaximum": ["maximum"], "exclusiveMinimum": ["minimum"]},
 "default": {}
})json";

// Built on first use and destroyed at exit like any static (no leak for LeakSanitizer to report).
const rapidjson::SchemaDocument& MetaSchema() {
  struct Meta {
    rapidjson::Document doc;
    std::unique_ptr<rapidjson::SchemaDocument> schema;
    Meta() {
      doc.Parse(kDraft04MetaSchema.data(), kDraft04MetaSchema.size());
      schema = std::make_unique<rapidjson::SchemaDocument>(doc);
    }
  };
  static const Meta meta;
  return *meta.schema;
}

std::string PointerText(const rapidjson::Pointer& p) {
  rapidjson::StringBuffer sb;
  p.Stringify(sb);
  return sb.GetSize() == 0 ? std::string("/") : std::string(sb.GetString(), sb.GetSize());
}

// Finds every "pattern" in the schema and checks that RapidJSON's regex engine accepts it:
// an invalid pattern would otherwise be silently ignored by the validator.
base::Status CheckPatterns(const rapidjson::Value& v, const std::string& path) {
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      const std::string name(m.name.GetString(), m.name.GetStringLength());
      if (name == "pattern" && m.value.IsString()) {
        rapidjson::internal::Regex re(m.value.GetString());
        if (!re.IsValid()) {
          return base::Status::InvalidArgument(path + "/pattern: not a supported regular expression");
        }
      }
      BROKER_RETURN_IF_ERROR(CheckPatterns(m.value, path + "/" + name));
    }
  } else if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      BROKER_RETURN_IF_ERROR(CheckPatterns(v[i], path + "/" + std::to_string(i)));
    }
  }
  return base::Status::Ok();
}

// A compact "maximum 480" style text for the rule that failed, read from the schema node.
std::string DescribeRule(const rapidjson::Value& schema_node, std::string_view keyword) {
  const auto it = schema_node.FindMember(rapidjson::StringRef(keyword.data(), keyword.size()));
  if (it == schema_node.MemberEnd()) return std::string(keyword);
  if (keyword == "pattern") return "must match the pattern " + WriteJson(it->value);
  if (keyword == "type") return "must be of type " + WriteJson(it->value);
  if (keyword == "maximum") return "must be at most " + WriteJson(it->value);
  if (keyword == "minimum") return "must be at least " + WriteJson(it->value);
  if (keyword == "maxItems") return "must have at most " + WriteJson(it->value) + " items";
  if (keyword == "minItems") return "must have at least " + WriteJson(it->value) + " items";
  if (keyword == "maxLength") return "must be at most " + WriteJson(it->value) + " characters";
  if (keyword == "minLength") return "must be at least " + WriteJson(it->value) + " characters";
  if (keyword == "enum") return "must be one of " + WriteJson(it->value);
  return "must satisfy '" + std::string(keyword) + "' " + WriteJson(it->value);
}

}  // namespace

base::Result<std::shared_ptr<const ParameterSchema>> ParameterSchema::Compile(const rapidjson::Value& schema,
                                                                             const std::string& where) {
  if (!schema.IsObject()) return base::Status::InvalidArgument(where + ": a schema must be a JSON object");
  if (!schema.HasMember("$schema") || !schema["$schema"].IsString()) {
    return base::Status::InvalidArgument(where + ": a schema must carry \"$schema\"");
  }
  static std::mutex meta_mu;  // MetaSchema() is shared; see match_mu_ in the header
  rapidjson::SchemaValidator meta(MetaSchema());
  bool valid;
  {
    std::lock_guard<std::mutex> lock(meta_mu);
    valid = schema.Accept(meta);
  }
  if (!valid) {
    return base::Status::InvalidArgument(where + PointerText(meta.GetInvalidDocumentPointer()) +
                                         ": not a valid draft-04 schema (violates '" +
                                         meta.GetInvalidSchemaKeyword() + "')");
  }
  BROKER_RETURN_IF_ERROR(CheckPatterns(schema, where));
  std::shared_ptr<ParameterSchema> out(new ParameterSchema());
  out->doc_.CopyFrom(schema, out->doc_.GetAllocator());
  out->compiled_ = std::make_unique<rapidjson::SchemaDocument>(out->doc_);
  return std::shared_ptr<const ParameterSchema>(std::move(out));
}

base::Status ParameterSchema::Validate(const rapidjson::Value& params) const {
  rapidjson::SchemaValidator validator(*compiled_);
  bool valid;
  {
    std::lock_guard<std::mutex> lock(match_mu_);
    valid = params.Accept(validator);
  }
  if (valid) return base::Status::Ok();

  const std::string keyword = validator.GetInvalidSchemaKeyword();
  const std::string at = PointerText(validator.GetInvalidDocumentPointer());
  const rapidjson::Value* node = validator.GetInvalidSchemaPointer().Get(doc_);
  const std::string name = at == "/" ? std::string("parameters") : "parameter " + at.substr(1);

  if (keyword == "additionalProperties" && node != nullptr && params.IsObject()) {
    // Name the unknown keys; RapidJSON only says that some key was not allowed.
    const rapidjson::Value* target = validator.GetInvalidDocumentPointer().Get(params);
    const auto props = node->FindMember("properties");
    std::string unknown;
    if (target != nullptr && target->IsObject()) {
      for (const auto& m : target->GetObject()) {
        const bool known = props != node->MemberEnd() && props->value.IsObject() &&
                           props->value.HasMember(m.name);
        if (!known) unknown += (unknown.empty() ? "" : ", ") + std::string(m.name.GetString());
      }
    }
    std::string allowed;
    if (props != node->MemberEnd() && props->value.IsObject()) {
      for (const auto& m : props->value.GetObject()) {
        allowed += (allowed.empty() ? "" : ", ") + std::string(m.name.GetString());
      }
    }
    return base::Status::InvalidArgument(
        name + ": unknown parameter(s) " + (unknown.empty() ? std::string("?") : unknown) +
        (allowed.empty() ? "; this plan takes no parameters" : "; allowed: " + allowed));
  }
  if (keyword == "required" && node != nullptr) {
    const auto req = node->FindMember("required");
    return base::Status::InvalidArgument(name + ": missing required parameter(s) " +
                                         (req != node->MemberEnd() ? WriteJson(req->value) : std::string()));
  }
  return base::Status::InvalidArgument(name + ": " + (node ? DescribeRule(*node, keyword) : keyword));
}

}  // namespace broker::osb
