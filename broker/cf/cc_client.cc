#include "broker/cf/cc_client.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "broker/base/log.h"
#include "broker/cf/cc_json.h"
#include "broker/cf/url.h"

namespace broker::cf {
namespace {

std::string TrimSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// A guid as one path segment: percent-encoded, so a hostile or corrupt value cannot walk the path.
std::string Seg(const std::string& guid) { return PercentEncode(guid); }

}  // namespace

CcClient::CcClient(CcClientOptions options, const base::Clock* clock)
    : options_(std::move(options)),
      own_clock_(clock == nullptr ? std::make_unique<base::SystemClock>() : nullptr),
      api_base_(TrimSlashes(options_.api_url)),
      api_origin_(OriginOf(api_base_).value_or("")),
      http_(options_.http),
      uaa_(&http_, api_base_, options_.credentials, clock != nullptr ? clock : own_clock_.get(),
           options_.token_expiry_margin) {}

CcClient::~CcClient() = default;

base::Status CcClient::CheckApiUrl() {
  BROKER_ASSIGN_OR_RETURN(Endpoints endpoints, uaa_.Discover(/*fresh=*/true));
  return cf::CheckApiUrl(api_base_, endpoints.self);
}

base::Result<HttpResponse> CcClient::Authorized(const std::string& method, const std::string& url,
                                                const std::string& body) {
  BROKER_ASSIGN_OR_RETURN(std::string token, uaa_.AccessToken());
  for (int attempt = 0;; ++attempt) {
    HttpRequest req;
    req.method = method;
    req.url = url;
    req.body = body;
    req.headers = {{"Authorization", "bearer " + token}, {"Accept", "application/json"}};
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    BROKER_ASSIGN_OR_RETURN(HttpResponse resp, http_.Send(req));
    for (const std::string& warning : DecodeWarnings(resp.headers.GetAll("X-Cf-Warnings"))) {
      base::Logger("cf")->warn("cf.warning method={} path={} detail={}", method, PathForLog(url), base::LogQuote(warning));
    }
    if (resp.status != 401 || attempt > 0) return resp;
    // CF-InvalidAuthToken: the token expired or was revoked early. Refresh once and retry once.
    base::Logger("cf")->info("cf.token_rejected method={} path={}", method, PathForLog(url));
    uaa_.Invalidate(token);
    BROKER_ASSIGN_OR_RETURN(token, uaa_.AccessToken());
  }
}

base::Result<HttpResponse> CcClient::Call(const std::string& method, const std::string& path_and_query,
                                          const std::string& body, std::initializer_list<long> ok_statuses) {
  if (api_origin_.empty()) return base::Status::InvalidArgument("cf: CF_API_URL is not an http(s) URL");
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp, Authorized(method, api_base_ + path_and_query, body));
  if (std::find(ok_statuses.begin(), ok_statuses.end(), resp.status) != ok_statuses.end()) return resp;
  return StatusFromCcResponse(resp.status, resp.body);
}

template <typename T, typename Parse>
base::Result<std::vector<T>> CcClient::ListAll(const std::string& path_and_query, Parse parse) {
  std::vector<T> out;
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp, Call("GET", path_and_query, "", {200}));
  for (int page = 1;; ++page) {
    BROKER_ASSIGN_OR_RETURN(Page<T> p, parse(resp.body));
    std::move(p.items.begin(), p.items.end(), std::back_inserter(out));
    if (!p.next_url) return out;
    if (page >= options_.max_pages) {
      return base::Status::FailedPrecondition("cf: list longer than " + std::to_string(options_.max_pages) + " pages");
    }
    // The token goes only to the API: a next link elsewhere is refused, not followed.
    if (base::Status same = CheckSameOrigin(*p.next_url, api_origin_); !same.ok()) {
      base::Logger("cf")->warn("cf.next_link_refused link_origin={} api_origin={}",
                               OriginOf(*p.next_url).value_or("invalid"), api_origin_);
      return same;
    }
    const std::string url = p.next_url->front() == '/' ? api_origin_ + *p.next_url : *p.next_url;
    BROKER_ASSIGN_OR_RETURN(resp, Authorized("GET", url, ""));
    if (resp.status != 200) return StatusFromCcResponse(resp.status, resp.body);
  }
}

base::Result<std::string> CcClient::JobFrom(const HttpResponse& response) {
  const std::string location = response.headers.Get("Location").value_or("");
  base::Result<std::string> guid = JobGuidFromLocation(location, api_origin_);
  if (!guid.ok() && guid.status().reason() == "ForeignHost") {
    base::Logger("cf")->warn("cf.location_refused location_origin={} api_origin={}",
                             OriginOf(location).value_or("invalid"), api_origin_);
  }
  return guid;
}

base::Result<std::vector<clone::App>> CcClient::FindAppsByLabel(const std::string& label_selector) {
  return ListAll<clone::App>("/v3/apps" + QueryString({{"label_selector", label_selector},
                                                       {"per_page", std::to_string(options_.per_page)}}),
                             ParseAppPage);
}

base::Result<clone::App> CcClient::GetApp(const std::string& app_guid) {
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp, Call("GET", "/v3/apps/" + Seg(app_guid), "", {200}));
  return ParseApp(resp.body);
}

base::Result<std::map<std::string, std::string>> CcClient::GetEnvironmentVariables(const std::string& app_guid) {
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp,
                          Call("GET", "/v3/apps/" + Seg(app_guid) + "/environment_variables", "", {200}));
  return ParseEnvironmentVariables(resp.body);
}

base::Result<clone::Droplet> CcClient::GetCurrentDroplet(const std::string& app_guid) {
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp, Call("GET", "/v3/apps/" + Seg(app_guid) + "/droplets/current", "", {200}));
  return ParseDroplet(resp.body);
}

base::Result<clone::Process> CcClient::GetWebProcess(const std::string& app_guid) {
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp, Call("GET", "/v3/apps/" + Seg(app_guid) + "/processes/web", "", {200}));
  return ParseProcess(resp.body);
}

base::Result<std::vector<clone::Process>> CcClient::ListProcesses(const std::string& app_guid) {
  return ListAll<clone::Process>(
      "/v3/apps/" + Seg(app_guid) + "/processes" + QueryString({{"per_page", std::to_string(options_.per_page)}}),
      ParseProcessPage);
}

base::Result<std::vector<clone::ServiceBinding>> CcClient::ListAppBindings(const std::string& app_guid) {
  return ListAll<clone::ServiceBinding>(
      "/v3/service_credential_bindings" + QueryString({{"app_guids", app_guid},
                                                       {"type", "app"},
                                                       {"include", "service_instance"},
                                                       {"per_page", std::to_string(options_.per_page)}}),
      ParseBindingPage);
}

base::Result<std::vector<std::string>> CcClient::ListBrokerPlanGuids(const std::string& broker_name) {
  return ListAll<std::string>("/v3/service_plans" + QueryString({{"service_broker_names", broker_name},
                                                                {"per_page", std::to_string(options_.per_page)}}),
                              ParseGuidPage);
}

base::Result<clone::App> CcClient::CreateApp(const clone::NewApp& app) {
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp, Call("POST", "/v3/apps", NewAppBody(app), {201}));
  return ParseApp(resp.body);
}

base::Result<clone::Droplet> CcClient::CopyDroplet(const std::string& source_droplet_guid,
                                                   const std::string& target_app_guid) {
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp, Call("POST", "/v3/droplets" + QueryString({{"source_guid", source_droplet_guid}}),
                                                  CopyDropletBody(target_app_guid), {201}));
  return ParseDroplet(resp.body);
}

base::Result<clone::Droplet> CcClient::GetDroplet(const std::string& droplet_guid) {
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp, Call("GET", "/v3/droplets/" + Seg(droplet_guid), "", {200}));
  return ParseDroplet(resp.body);
}

base::Status CcClient::SetCurrentDroplet(const std::string& app_guid, const std::string& droplet_guid) {
  return Call("PATCH", "/v3/apps/" + Seg(app_guid) + "/relationships/current_droplet", CurrentDropletBody(droplet_guid),
              {200})
      .status();
}

base::Result<clone::Process> CcClient::UpdateProcess(const std::string& process_guid,
                                                     const clone::ProcessUpdate& update) {
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp,
                          Call("PATCH", "/v3/processes/" + Seg(process_guid), ProcessUpdateBody(update), {200}));
  return ParseProcess(resp.body);
}

base::Status CcClient::ScaleProcess(const std::string& process_guid, const clone::Scale& scale) {
  // CC answers 202 with the process body (not a job); 200 is accepted too.
  return Call("POST", "/v3/processes/" + Seg(process_guid) + "/actions/scale", ScaleBody(scale), {200, 202}).status();
}

base::Result<std::optional<std::string>> CcClient::CreateServiceBinding(const std::string& app_guid,
                                                                        const std::string& service_instance_guid,
                                                                        const std::string& name) {
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp, Call("POST", "/v3/service_credential_bindings",
                                                  NewAppBindingBody(app_guid, service_instance_guid, name), {201, 202}));
  if (resp.status == 201) return std::optional<std::string>();  // user-provided: bound at once
  BROKER_ASSIGN_OR_RETURN(std::string job, JobFrom(resp));
  return std::optional<std::string>(std::move(job));
}

base::Result<std::optional<std::string>> CcClient::DeleteServiceBinding(const std::string& binding_guid) {
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp,
                          Call("DELETE", "/v3/service_credential_bindings/" + Seg(binding_guid), "", {202, 204}));
  if (resp.status == 204) return std::optional<std::string>();
  BROKER_ASSIGN_OR_RETURN(std::string job, JobFrom(resp));
  return std::optional<std::string>(std::move(job));
}

base::Result<clone::Job> CcClient::GetJob(const std::string& job_guid) {
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp, Call("GET", "/v3/jobs/" + Seg(job_guid), "", {200}));
  return ParseJob(resp.body);
}

base::Status CcClient::StartApp(const std::string& app_guid) {
  return Call("POST", "/v3/apps/" + Seg(app_guid) + "/actions/start", "", {200}).status();
}

base::Status CcClient::StopApp(const std::string& app_guid) {
  return Call("POST", "/v3/apps/" + Seg(app_guid) + "/actions/stop", "", {200}).status();
}

base::Result<std::vector<clone::InstanceStats>> CcClient::GetProcessStats(const std::string& process_guid) {
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp, Call("GET", "/v3/processes/" + Seg(process_guid) + "/stats", "", {200}));
  return ParseProcessStats(resp.body);
}

base::Result<std::string> CcClient::DeleteApp(const std::string& app_guid) {
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp, Call("DELETE", "/v3/apps/" + Seg(app_guid), "", {202}));
  return JobFrom(resp);
}

base::Result<std::vector<std::string>> CcClient::RecentLogs(const std::string& app_guid, int limit) {
  BROKER_ASSIGN_OR_RETURN(Endpoints endpoints, uaa_.Discover());
  if (endpoints.log_cache.empty()) {
    return base::Status::FailedPrecondition("cf: the API root has no log_cache link and none could be derived");
  }
  const int n = std::clamp(limit, 1, 1000);
  const std::string url = endpoints.log_cache + "/api/v1/read/" + Seg(app_guid) +
                          QueryString({{"descending", "true"}, {"limit", std::to_string(n)}, {"envelope_types", "LOG"}});
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp, Authorized("GET", url, ""));
  if (resp.status != 200) return StatusFromCcResponse(resp.status, resp.body);
  return ParseLogEnvelopes(resp.body);
}

}  // namespace broker::cf
