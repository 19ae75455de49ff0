// The Cloud Controller V3 and log-cache wire codec: CC error bodies to Status, X-Cf-Warnings,
// Location and pagination links, the resources the clone engine reads (apps, droplets, processes,
// stats, bindings, jobs, environment variables), log-cache envelopes, and the request bodies it
// writes (cloud-controller.md §2.1, §2.2, §4.2). Wire field names live here and in cc_client.cc
// only.
//
// Parsers read only the documented fields and ignore everything else. A body that is not a JSON
// object as base::ParseJson accepts it (depth-capped, UTF-8, finite numbers, ...) is kUnavailable
// with reason kMalformedResponse, logged as cf.malformed_response with the reason and offset, never
// the body. A JSON object that lacks a required field (a resource's `guid`, a list's `resources`)
// is kInvalidArgument. Thread-safe; pure but for that log line.
#ifndef BROKER_CF_CC_JSON_H_
#define BROKER_CF_CC_JSON_H_

#include <rapidjson/document.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/result.h"
#include "broker/base/status.h"
#include "broker/clone/cloud_controller.h"

namespace broker::cf {

// The reason of the Status for a Cloud Controller or UAA answer that is not a JSON object: a
// failure class in the words a bind's description quotes (clone/cloud_controller.h).
inline constexpr std::string_view kMalformedResponse = "malformed answer";

// `body` as a JSON object into `d`, or kUnavailable (reason kMalformedResponse) "cf: <what> ..."
// logged as cf.malformed_response what=<log_what>: the reason and offset, never the body (it may
// hold a token). Shared by the Cloud Controller and UAA decoders.
base::Status ParseAnswerObject(std::string_view body, std::string_view log_what, const std::string& what,
                               rapidjson::Document* d);

// The Status for a non-2xx CC response, per the table in broker/clone/cloud_controller.h:
//   401 kUnauthenticated; 403 kPermissionDenied; 404 kNotFound; 400 kInvalidArgument;
//   408 kDeadlineExceeded; 422 with code 10016 kAlreadyExists; 429 and 5xx kUnavailable;
//   any other 4xx (422 10008, 409, ...) kFailedPrecondition.
// message() is the `detail` of every error joined by "; ", or "HTTP <status>" when the body has
// none. reason() is errors[0].title ("CF-UnprocessableEntity") when the body has one, except for
// the retryable 408, 429 and 5xx: there it is "HTTP <status>" (the title leads the message).
base::Status StatusFromCcResponse(long http_status, std::string_view body);

// X-Cf-Warnings values: each warning URL-encoded ('+' or %20 for a space), several joined by
// commas, possibly over several header lines. Empty warnings are dropped.
std::vector<std::string> DecodeWarnings(const std::vector<std::string>& header_values);

// Checks that `url` is on `api_origin` (an OriginOf() value) before the token goes there.
// A relative reference ("/v3/jobs/x") counts as on the API. kFailedPrecondition when the
// scheme, host or port differ (or the URL is not http(s)).
base::Status CheckSameOrigin(std::string_view url, std::string_view api_origin);

// The job guid of a `Location: https://api.../v3/jobs/<guid>` header. kFailedPrecondition when
// it is on another origin (CheckSameOrigin); kInvalidArgument when it is not a /v3/jobs/<guid> URL.
base::Result<std::string> JobGuidFromLocation(std::string_view location, std::string_view api_origin);

// One page of a paginated CC list.
template <typename T>
struct Page {
  std::vector<T> items;
  std::optional<std::string> next_url;  // pagination.next.href; nullopt on the last page
};

base::Result<clone::App> ParseApp(std::string_view body);
base::Result<Page<clone::App>> ParseAppPage(std::string_view body);
// `var` of GET /v3/apps/:guid/environment_variables. Non-string values (CC keeps what was set)
// come back as their JSON text.
base::Result<std::map<std::string, std::string>> ParseEnvironmentVariables(std::string_view body);
base::Result<clone::Droplet> ParseDroplet(std::string_view body);
base::Result<clone::Process> ParseProcess(std::string_view body);
base::Result<Page<clone::Process>> ParseProcessPage(std::string_view body);
base::Result<std::vector<clone::InstanceStats>> ParseProcessStats(std::string_view body);
// A page of /v3/service_credential_bindings with include=service_instance: instance name, type
// and plan come from that page's `included.service_instances`.
base::Result<Page<clone::ServiceBinding>> ParseBindingPage(std::string_view body);
// The `guid` of each resource (e.g. /v3/service_plans).
base::Result<Page<std::string>> ParseGuidPage(std::string_view body);
base::Result<clone::Job> ParseJob(std::string_view body);

// log-cache /api/v1/read: the base64-decoded payloads of the LOG envelopes, oldest first
// (timestamps are int64 nanoseconds sent as strings), one trailing newline stripped. Envelopes
// that are not logs, or whose payload is not base64, are skipped.
base::Result<std::vector<std::string>> ParseLogEnvelopes(std::string_view body);

// Request bodies.
std::string NewAppBody(const clone::NewApp& app);               // POST /v3/apps
std::string CopyDropletBody(const std::string& target_app_guid);  // POST /v3/droplets?source_guid=
std::string CurrentDropletBody(const std::string& droplet_guid);  // PATCH .../relationships/current_droplet
std::string ProcessUpdateBody(const clone::ProcessUpdate& update);  // PATCH /v3/processes/:guid
// memory_in_mb / disk_in_mb of 0 are left out (unchanged); log rate -1 means unlimited.
std::string ScaleBody(const clone::Scale& scale);                 // POST .../actions/scale
std::string NewAppBindingBody(const std::string& app_guid, const std::string& service_instance_guid,
                              const std::string& name);          // POST /v3/service_credential_bindings

}  // namespace broker::cf

#endif  // BROKER_CF_CC_JSON_H_
