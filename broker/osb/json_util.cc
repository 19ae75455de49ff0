#include "broker/osb/json_util.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "broker/base/json.h"

namespace broker::osb {

std::string CanonicalJson(const rapidjson::Value& value) { return base::CanonicalJson(value); }

base::Result<rapidjson::Document> ParseJson(std::string_view text, std::string_view what) {
  return base::ParseJson(text, what);
}

base::Status ValidateJsonObject(std::string_view text, std::string_view what) {
  BROKER_RETURN_IF_ERROR(base::ValidateJson(text, what));
  // Valid JSON: the value is an object when its first character (after JSON whitespace) opens one.
  const auto first = text.find_first_not_of(" \t\n\r");
  if (first == std::string_view::npos || text[first] != '{') {
    return base::Status::InvalidArgument(std::string(what) + " must be a JSON object");
  }
  return base::Status::Ok();
}

std::string WriteJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  value.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace broker::osb
