#include "broker/osb/json_util.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <vector>

namespace broker::osb {
namespace {

void WriteCanonical(const rapidjson::Value& v, rapidjson::Writer<rapidjson::StringBuffer>& w) {
  if (v.IsObject()) {
    std::vector<const rapidjson::Value::Member*> members;
    members.reserve(v.MemberCount());
    for (const auto& m : v.GetObject()) members.push_back(&m);
    std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
      return std::string_view(a->name.GetString(), a->name.GetStringLength()) <
             std::string_view(b->name.GetString(), b->name.GetStringLength());
    });
    w.StartObject();
    for (const auto* m : members) {
      w.Key(m->name.GetString(), m->name.GetStringLength());
      WriteCanonical(m->value, w);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const auto& e : v.GetArray()) WriteCanonical(e, w);
    w.EndArray();
  } else {
    v.Accept(w);
  }
}

}  // namespace

std::string CanonicalJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  WriteCanonical(value, w);
  return std::string(buf.GetString(), buf.GetSize());
}

base::Result<rapidjson::Document> ParseJson(std::string_view text, std::string_view what) {
  rapidjson::Document doc;
  // Without kParseStopWhenDoneFlag, anything but whitespace after the value is an error.
  // Invalid UTF-8 inside a string is malformed input (400), not something to hand the database.
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return base::Status::InvalidArgument(std::string(what) + " is not valid JSON: " +
                                         rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                                         std::to_string(doc.GetErrorOffset()));
  }
  return doc;
}

base::Status ValidateJsonObject(std::string_view text, std::string_view what) {
  // The same reader and flags as ParseJson's Document::Parse, with a handler that keeps nothing.
  rapidjson::MemoryStream bytes(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(bytes);
  rapidjson::BaseReaderHandler<rapidjson::UTF8<>> ignore;
  rapidjson::Reader reader;
  const rapidjson::ParseResult r = reader.Parse<rapidjson::kParseValidateEncodingFlag>(in, ignore);
  if (r.IsError()) {
    return base::Status::InvalidArgument(std::string(what) + " is not valid JSON: " + rapidjson::GetParseError_En(r.Code()) +
                                         " at offset " + std::to_string(r.Offset()));
  }
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
