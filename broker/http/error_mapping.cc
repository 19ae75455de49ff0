#include "broker/http/error_mapping.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace broker::http {

std::string ErrorBody(const std::string& error, const std::string& description) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  if (!error.empty()) {
    w.Key("error");
    w.String(error.c_str(), static_cast<rapidjson::SizeType>(error.size()));
  }
  w.Key("description");
  w.String(description.c_str(), static_cast<rapidjson::SizeType>(description.size()));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

HttpError MapError(const base::Status& status, Endpoint endpoint) {
  using base::Code;
  // OSB: a description, when present, must not be empty.
  const std::string msg = status.message().empty() ? std::string("the request failed (") +
                                                         std::string(base::CodeName(status.code())) + ")"
                                                   : status.message();
  switch (status.code()) {
    case Code::kInvalidArgument:
      return {400, ErrorBody("", msg)};
    case Code::kUnauthenticated:
      return {401, ErrorBody("", msg)};
    case Code::kPermissionDenied:
      return {403, ErrorBody("", msg)};
    case Code::kNotFound:
      // OSB: DELETE of a missing resource is 410 (the platform counts it as success), and so is a
      // poll of a binding the broker no longer knows.
      if (endpoint == Endpoint::kDeprovision || endpoint == Endpoint::kUnbind) return {410, "{}"};
      if (endpoint == Endpoint::kBindingLastOperation || endpoint == Endpoint::kInstanceLastOperationOfDeprovision) {
        return {410, ErrorBody("", msg)};
      }
      return {404, ErrorBody("", msg)};
    case Code::kAlreadyExists:
      return {409, ErrorBody("", msg)};
    case Code::kOutOfRange:
      return {412, ErrorBody("", msg)};
    case Code::kResourceExhausted:
      return {413, ErrorBody("", msg)};
    case Code::kFailedPrecondition:
      return {422, ErrorBody(status.reason(), msg)};
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
      return {503, ErrorBody("", "the broker's database is unavailable; retry later")};
    case Code::kOk:
    case Code::kAborted:
    case Code::kInternal:
      break;
  }
  return {500, ErrorBody("", "internal broker error; the broker's log has the details")};
}

}  // namespace broker::http
