// CcClient: the Cloud Controller V3 adapter behind clone::CloudController
// (broker/clone/cloud_controller.h; cloud-controller.md §2.1-§2.4, §4.2).
//
// - Every /v3 call carries `Authorization: bearer <token>` from the UaaClient. A 401 invalidates
//   that token and the call is retried once with a fresh one; a second 401 is kUnauthenticated.
// - Lists follow pagination.next.href (asking for per_page items per page) until the last page;
//   a next link on another origin is refused (kFailedPrecondition), so the token stays on the API.
// - Non-2xx answers become Statuses by StatusFromCcResponse (broker/cf/cc_json.h): the table in
//   the port; reason() = the CF title, message() = CC's detail.
// - X-Cf-Warnings are URL-decoded and logged at warn (`cf.warning method= path= detail=`).
// - A 202's `Location` must be on the API's origin (scheme, host and port), or the call fails
//   with kFailedPrecondition (reason "ForeignHost") and the token is never sent there; the job
//   guid is taken from it and GetJob() always builds its URL on the API origin.
// - RecentLogs reads log-cache at the discovered links.log_cache URL with the same token.
// - Requests are logged at debug as method, path, status and ms only (HttpClient): never a
//   query, header, token or body.
//
// Failure codes: those of the port, plus kUnauthenticated / kFailedPrecondition from UAA and
// discovery (broker/cf/uaa_client.h) and the transport codes of broker/cf/http_client.h.
//
// Thread-safety: thread-safe; one CcClient serves every worker thread (one HTTP handle pool, one
// token cache).
#ifndef BROKER_CF_CC_CLIENT_H_
#define BROKER_CF_CC_CLIENT_H_

#include <chrono>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/result.h"
#include "broker/base/status.h"
#include "broker/cf/http_client.h"
#include "broker/cf/uaa_client.h"
#include "broker/clone/cloud_controller.h"

namespace broker::cf {

struct CcClientOptions {
  std::string api_url;          // CF_API_URL, e.g. "https://api.sys.example.com"
  UaaCredentials credentials;   // CF_CLIENT_ID/SECRET, or CF_ADMIN_USER/PASSWORD
  HttpClientOptions http;       // timeouts, CF_CA_CERT, CF_SKIP_SSL_VALIDATION, 429/503 retries
  std::chrono::seconds token_expiry_margin{60};
  int per_page = 5000;          // asked for on every list (CC's maximum)
  int max_pages = 1000;         // a list longer than this is refused (kFailedPrecondition)
};

class CcClient final : public clone::CloudController {
 public:
  // `clock` (token expiry) must outlive the client; nullptr means the system clock. Nothing is
  // fetched until the first call.
  explicit CcClient(CcClientOptions options, const base::Clock* clock = nullptr);
  ~CcClient() override;

  // Reads the API root again and checks CF_API_URL against the URL CC calls itself (CheckApiUrl in
  // uaa_client.h: kFailedPrecondition "ApiUrlMismatch"); the discovery's codes otherwise. The same
  // check runs at every token fetch; main runs this one at startup, to say so at once.
  base::Status CheckApiUrl();
  CcClient(const CcClient&) = delete;
  CcClient& operator=(const CcClient&) = delete;

  base::Result<std::vector<clone::App>> FindAppsByLabel(const std::string& label_selector) override;
  base::Result<clone::App> GetApp(const std::string& app_guid) override;
  base::Result<std::map<std::string, std::string>> GetEnvironmentVariables(const std::string& app_guid) override;
  base::Result<clone::Droplet> GetCurrentDroplet(const std::string& app_guid) override;
  base::Result<clone::Process> GetWebProcess(const std::string& app_guid) override;
  base::Result<std::vector<clone::Process>> ListProcesses(const std::string& app_guid) override;
  base::Result<std::vector<clone::ServiceBinding>> ListAppBindings(const std::string& app_guid) override;
  base::Result<std::vector<std::string>> ListBrokerPlanGuids(const std::string& broker_name) override;

  base::Result<clone::App> CreateApp(const clone::NewApp& app) override;
  base::Result<clone::Droplet> CopyDroplet(const std::string& source_droplet_guid,
                                           const std::string& target_app_guid) override;
  base::Result<clone::Droplet> GetDroplet(const std::string& droplet_guid) override;
  base::Status SetCurrentDroplet(const std::string& app_guid, const std::string& droplet_guid) override;
  base::Result<clone::Process> UpdateProcess(const std::string& process_guid,
                                             const clone::ProcessUpdate& update) override;
  base::Status ScaleProcess(const std::string& process_guid, const clone::Scale& scale) override;
  base::Result<std::optional<std::string>> CreateServiceBinding(const std::string& app_guid,
                                                                const std::string& service_instance_guid,
                                                                const std::string& name) override;
  base::Result<std::optional<std::string>> DeleteServiceBinding(const std::string& binding_guid) override;
  base::Result<clone::Job> GetJob(const std::string& job_guid) override;
  base::Status StartApp(const std::string& app_guid) override;
  base::Status StopApp(const std::string& app_guid) override;
  base::Result<std::vector<clone::InstanceStats>> GetProcessStats(const std::string& process_guid) override;
  base::Result<std::string> DeleteApp(const std::string& app_guid) override;
  // `limit` is clamped to log-cache's 1..1000. log-cache answers 404 (kNotFound) both for an
  // unknown app and for a token that may not read it.
  base::Result<std::vector<std::string>> RecentLogs(const std::string& app_guid, int limit) override;

 private:
  // One authenticated request to `url` (which must be on the API origin, or be log-cache's).
  // Handles the 401 refresh-and-retry and logs X-Cf-Warnings. Any HTTP status is returned.
  base::Result<HttpResponse> Authorized(const std::string& method, const std::string& url, const std::string& body);
  // Authorized() on api origin + `path_and_query`, then: a status in `ok_statuses` is returned,
  // anything else becomes the Status of the CC error body.
  base::Result<HttpResponse> Call(const std::string& method, const std::string& path_and_query,
                                  const std::string& body, std::initializer_list<long> ok_statuses);
  // GETs `path_and_query` and every next page; `parse` turns one page body into items.
  template <typename T, typename Parse>
  base::Result<std::vector<T>> ListAll(const std::string& path_and_query, Parse parse);
  // The job guid of a 202's Location.
  base::Result<std::string> JobFrom(const HttpResponse& response);

  // Immutable after construction.
  const CcClientOptions options_;
  const std::unique_ptr<base::SystemClock> own_clock_;  // when no clock was given
  const std::string api_base_;                           // CF_API_URL without trailing '/'
  const std::string api_origin_;                         // "" when CF_API_URL is not http(s)
  // Thread-safe members.
  HttpClient http_;
  UaaClient uaa_;
};

}  // namespace broker::cf

#endif  // BROKER_CF_CC_CLIENT_H_
