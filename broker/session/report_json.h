// Internal to broker/session: the JSON layer shared by the two report decoders (session.h's
// DecodeSessionReport and tmate.h's DecodeContainerReport).
#ifndef BROKER_SESSION_REPORT_JSON_H_
#define BROKER_SESSION_REPORT_JSON_H_

#include <rapidjson/document.h>

#include <string_view>

#include "broker/base/result.h"
#include "broker/session/session.h"

namespace broker::session::internal {

// `body` parsed by base::ParseJson (depth, UTF-8, NUL, numbers, ...) as a JSON object;
// kInvalidArgument saying where it is not.
base::Result<rapidjson::Document> ParseReportObject(std::string_view body);

// The direct report form {"ssh_command", "ssh_command_read_only"?, "web_url"?} of a parsed object.
base::Result<SessionReport> DecodeSessionReportObject(const rapidjson::Value& report);

}  // namespace broker::session::internal

#endif  // BROKER_SESSION_REPORT_JSON_H_
