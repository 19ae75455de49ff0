#include "broker/http/error_mapping.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <utility>

namespace broker::http {
namespace {

constexpr char kUnavailableDescription[] = "the broker's database is unavailable; retry later";
constexpr char kInternalDescription[] = "internal broker error; the broker's log has the details";

}  // namespace

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

namespace {

HttpError Make(int status, std::string body) {
  HttpError e;
  e.status = status;
  e.body = std::move(body);
  return e;
}

bool IsSessionEndpoint(Endpoint endpoint) {
  return endpoint == Endpoint::kSessionReport || endpoint == Endpoint::kSessionRead;
}

// OSB semantics; the session endpoints adjust the result below.
HttpError MapOsbError(const base::Status& status, Endpoint endpoint, const std::string& msg) {
  using base::Code;
  switch (status.code()) {
    case Code::kInvalidArgument:
      return Make(400, ErrorBody("", msg));
    case Code::kUnauthenticated:
      return Make(401, ErrorBody("", msg));
    case Code::kPermissionDenied:
      return Make(403, ErrorBody("", msg));
    case Code::kNotFound:
      // OSB: DELETE of a missing resource is 410 (the platform counts it as success), and so is a
      // poll of a binding the broker no longer knows.
      if (endpoint == Endpoint::kDeprovision || endpoint == Endpoint::kUnbind) return Make(410, "{}");
      if (endpoint == Endpoint::kBindingLastOperation || endpoint == Endpoint::kInstanceLastOperationOfDeprovision) {
        return Make(410, ErrorBody("", msg));
      }
      return Make(404, ErrorBody("", msg));
    case Code::kAlreadyExists:
      return Make(409, ErrorBody("", msg));
    case Code::kOutOfRange:
      return Make(412, ErrorBody("", msg));
    case Code::kResourceExhausted:
      return Make(413, ErrorBody("", msg));
    case Code::kFailedPrecondition:
      return Make(422, ErrorBody(status.reason(), msg));
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
      return Make(503, ErrorBody("", kUnavailableDescription));
    case Code::kOk:
    case Code::kAborted:
    case Code::kInternal:
      break;
  }
  return Make(500, ErrorBody("", kInternalDescription));
}

}  // namespace

HttpError MapError(const base::Status& status, Endpoint endpoint) {
  // OSB: a description, when present, must not be empty.
  const std::string msg = status.message().empty() ? std::string("the request failed (") +
                                                         std::string(base::CodeName(status.code())) + ")"
                                                   : status.message();
  HttpError err = MapOsbError(status, endpoint, msg);
  if (!IsSessionEndpoint(endpoint)) {
    if (err.status == 401) err.www_authenticate = R"(Basic realm="ssh-access broker", charset="UTF-8")";
    return err;
  }

  // Not OSB routes: every error body names the error, and a 401 says which scheme to use.
  if (err.status >= 500) {
    err.body = err.status == 503 ? ErrorBody("unavailable", kUnavailableDescription)
                                 : ErrorBody("internal", kInternalDescription);
  } else {
    err.body = ErrorBody(std::string(base::CodeName(status.code())), msg);
  }
  if (err.status == 401) {
    err.www_authenticate = endpoint == Endpoint::kSessionReport ? R"(Bearer realm="ssh-access session")"
                                                                : R"(Basic realm="ssh-access session", charset="UTF-8")";
  }
  return err;
}

}  // namespace broker::http
