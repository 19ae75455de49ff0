// Fuzz harness: what the broker reads from Cloud Controller, log-cache and UAA
// (broker/cf/cc_json.h, broker/cf/uaa_client.h's pure parsers).
//
// Each input is a response body, given to every decoder (a CC response is one shape or another,
// and a wrong one must be refused as cleanly as a malformed one), and as a Location and an
// X-Cf-Warnings header value. Findings, besides sanitizer reports (an out-of-range number cast, an
// exception escaping a decoder):
//   - an accepted resource whose guid (or a page's next link) is empty or holds NUL or invalid
//     UTF-8 (guids go into URLs and the database);
//   - an error Status whose message or reason is not valid UTF-8 (it becomes an OSB description)
//     or whose code is not the one cloud_controller.h's table gives the HTTP status;
//   - an app and environment that NewAppBody does not write as JSON holding exactly that
//     environment (the clone must get the source's variables);
//   - a UAA token answer accepted without an access token or with a negative lifetime.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/cf/cc_json.h"
#include "broker/cf/uaa_client.h"
#include "broker/osb/json_util.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using broker::base::Code;
using broker::fuzz::CleanId;
using broker::fuzz::Require;
using broker::fuzz::ValidUtf8;

constexpr char kApiOrigin[] = "https://api.sys.example.com";

void RequireGuid(const std::string& guid, std::string_view input) {
  Require(!guid.empty() && CleanId(guid), "an accepted resource with an empty guid or one with NUL/invalid UTF-8",
          input);
}

template <typename T>
void RequirePage(const broker::cf::Page<T>& page) {
  if (page.next_url) Require(CleanId(*page.next_url), "a next link with NUL or invalid UTF-8", *page.next_url);
}

void CheckStatus(long http_status, std::string_view body) {
  const broker::base::Status s = broker::cf::StatusFromCcResponse(http_status, body);
  Require(!s.ok(), "StatusFromCcResponse gave OK", body);
  Require(ValidUtf8(s.message()) && ValidUtf8(s.reason()), "a CC error Status with invalid UTF-8", body);
  const Code c = s.code();
  bool expected = true;
  switch (http_status) {
    case 401:
      expected = c == Code::kUnauthenticated;
      break;
    case 404:
      expected = c == Code::kNotFound;
      break;
    case 422:
      expected = c == Code::kAlreadyExists || c == Code::kFailedPrecondition;
      break;
    case 429:
    case 502:
      expected = c == Code::kUnavailable;
      break;
    default:
      break;
  }
  Require(expected, "StatusFromCcResponse's code is not the table's", body);
}

// NewAppBody for `app` with `env`, parsed back: the environment must come out as it went in.
void CheckNewAppBody(const broker::clone::App& app, const std::map<std::string, std::string>& env,
                     std::string_view input) {
  broker::clone::NewApp next{app.name + "-ssh", app.space_guid, app.lifecycle_type, app.buildpacks, app.stack, env,
                             app.labels,        app.annotations};
  const std::string body = broker::cf::NewAppBody(next);
  auto doc = broker::osb::ParseJson(body, "NewAppBody");
  Require(doc.ok() && doc->IsObject(), "NewAppBody wrote something that is not a JSON object", body);
  std::map<std::string, std::string> back;
  if (const auto it = doc->FindMember("environment_variables"); it != doc->MemberEnd()) {
    Require(it->value.IsObject(), "NewAppBody's environment_variables is not an object", body);
    for (const auto& m : it->value.GetObject()) {
      Require(m.value.IsString(), "NewAppBody wrote a variable that is not a string", body);
      back[std::string(m.name.GetString(), m.name.GetStringLength())] =
          std::string(m.value.GetString(), m.value.GetStringLength());
    }
  }
  Require(back == env, "NewAppBody does not carry the environment it was given", input);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  broker::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = broker::fuzz::Text(data, size);
  namespace cf = broker::cf;

  const auto app = cf::ParseApp(body);
  if (app.ok()) RequireGuid(app->guid, body);
  if (const auto page = cf::ParseAppPage(body); page.ok()) {
    for (const auto& a : page->items) RequireGuid(a.guid, body);
    RequirePage(*page);
  }
  const auto env = cf::ParseEnvironmentVariables(body);
  if (app.ok() || env.ok()) {
    CheckNewAppBody(app.ok() ? *app : broker::clone::App{}, env.ok() ? *env : std::map<std::string, std::string>{},
                    body);
  }
  if (const auto d = cf::ParseDroplet(body); d.ok()) RequireGuid(d->guid, body);
  if (const auto p = cf::ParseProcess(body); p.ok()) RequireGuid(p->guid, body);
  if (const auto page = cf::ParseProcessPage(body); page.ok()) {
    for (const auto& p : page->items) RequireGuid(p.guid, body);
    RequirePage(*page);
  }
  (void)cf::ParseProcessStats(body);
  if (const auto page = cf::ParseBindingPage(body); page.ok()) {
    for (const auto& b : page->items) RequireGuid(b.guid, body);
    RequirePage(*page);
  }
  if (const auto page = cf::ParseGuidPage(body); page.ok()) {
    for (const auto& g : page->items) RequireGuid(g, body);
    RequirePage(*page);
  }
  if (const auto job = cf::ParseJob(body); job.ok()) RequireGuid(job->guid, body);
  (void)cf::ParseLogEnvelopes(body);
  // The body is read the same way whatever the status: one status that reads errors[].code and
  // title (422) and one that does not (502) cover it, and the table is checked for both.
  for (const long status : {422L, 502L}) CheckStatus(status, body);

  // Headers.
  if (const auto guid = cf::JobGuidFromLocation(body, kApiOrigin); guid.ok()) RequireGuid(*guid, body);
  (void)cf::DecodeWarnings({std::string(body)});

  // UAA and the API root.
  if (const auto token = cf::ParseTokenResponse(body); token.ok()) {
    Require(!token->access_token.empty() && token->expires_in.count() >= 0, "a UAA token answer accepted as unusable",
            body);
  }
  const broker::base::Status uaa_error = cf::StatusFromUaaResponse(401, body);
  Require(!uaa_error.ok() && ValidUtf8(uaa_error.message()), "a UAA error Status that is OK or not UTF-8", body);
  if (const auto links = cf::ParseRootLinks(body, kApiOrigin); links.ok()) {
    Require(!links->cloud_controller_v3.empty() && !links->token_url.empty(),
            "API root links accepted without V3 or UAA", body);
  }
  return 0;
}
