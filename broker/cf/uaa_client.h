// UaaClient: finds the platform's endpoints and keeps the broker's UAA access token
// (cloud-controller.md §3).
//
// Discovery: `GET <CF_API_URL>/` (no auth) gives links.self, links.cloud_controller_v3,
// links.login (the token endpoint's host; links.uaa when login is absent) and links.log_cache
// (derived from the API host, "api." -> "log-cache.", when absent). The first success is cached;
// every token fetch discovers again and checks links.self against CF_API_URL (CheckApiUrl), so a
// mismatch fails every call (kFailedPrecondition, reason "ApiUrlMismatch") until it is fixed.
//
// Tokens: client_credentials (CF_CLIENT_ID / CF_CLIENT_SECRET, HTTP Basic) when a client id is
// set; otherwise the password grant with the public `cf` client and an empty secret
// (CF_ADMIN_USER / CF_ADMIN_PASSWORD), keeping the refresh_token and trying the refresh grant
// first when the access token has expired or was rejected (falling back to the password grant
// when UAA refuses the refresh token). A token is reused until `expiry_margin` before it expires
// (at most half its lifetime). Fetches are single-flight: concurrent callers wait for the one
// fetch in progress and share its outcome.
//
// Never logged or put in a Status: tokens, secrets, passwords, UAA's error_description (UAA
// echoes refresh tokens in it). Logged: grant type, HTTP status, OAuth `error` code, expires_in.
//
// Errors:
//   kUnauthenticated  UAA refused the credentials (400/401; reason = the OAuth `error`, e.g.
//                     "invalid_client"), or none are configured
//   kUnavailable      UAA or the API root answered 429/5xx, or could not be reached, or answered
//                     with something that is not a JSON object (reason kMalformedResponse, logged
//                     as cf.malformed_response without the body)
//   kDeadlineExceeded a timeout
//   kInvalidArgument  CF_API_URL is not an http(s) URL, or a token answer lacks access_token
//   kFailedPrecondition the API root has no V3 or UAA link, or TLS verification failed
//
// Thread-safety: thread-safe. The HttpClient and Clock must outlive the UaaClient.
#ifndef BROKER_CF_UAA_CLIENT_H_
#define BROKER_CF_UAA_CLIENT_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "broker/base/clock.h"
#include "broker/base/result.h"
#include "broker/base/status.h"
#include "broker/cf/http_client.h"

namespace broker::cf {

// The links of the API root that the broker uses; no trailing slashes.
struct Endpoints {
  std::string self;                 // links.self.href: CC's own external URL; "" when absent
  std::string cloud_controller_v3;  // "https://api.sys.example.com/v3"
  std::string token_url;            // "<login or uaa>/oauth/token"
  std::string log_cache;            // "https://log-cache.sys.example.com"
};

// Parses the API root document. kInvalidArgument when it is not JSON; kFailedPrecondition when
// it has no cloud_controller_v3 link or neither a login nor a uaa link. `api_url` is only used to
// derive log-cache's URL when the root has no log_cache link.
base::Result<Endpoints> ParseRootLinks(std::string_view body, std::string_view api_url);

// OK when `api_url` (CF_API_URL) is the URL Cloud Controller calls itself (`self`, its root's
// links.self.href; scheme, host, port and path compared, case and default ports normalised) or
// when the root names none. CC builds every job Location and pagination link from that URL, not
// from the host a client used, so a client on another name (an IP, an internal alias) is handed
// links it must refuse. Otherwise kFailedPrecondition, reason "ApiUrlMismatch", whose message
// names both URLs and the one to configure.
base::Status CheckApiUrl(std::string_view api_url, std::string_view self);

struct UaaToken {
  std::string access_token;
  std::string refresh_token;  // "" when the grant gives none (client_credentials)
  std::chrono::seconds expires_in{0};
};

// Parses a /oauth/token 200 body. kInvalidArgument without access_token, or when token_type is
// set and is not "bearer" (any case).
base::Result<UaaToken> ParseTokenResponse(std::string_view body);

// The Status for a non-200 /oauth/token answer: 400/401/403 kUnauthenticated (reason: the OAuth
// `error` code), 429/5xx kUnavailable (reason "UAA HTTP <status>"), anything else kUnauthenticated. The message never contains
// UAA's error_description.
base::Status StatusFromUaaResponse(long http_status, std::string_view body);

struct UaaCredentials {
  std::string client_id;      // CF_CLIENT_ID; set: client_credentials grant
  std::string client_secret;  // CF_CLIENT_SECRET
  std::string username;       // CF_ADMIN_USER; used when client_id is empty
  std::string password;       // CF_ADMIN_PASSWORD
};

class UaaClient {
 public:
  // `api_url` is CF_API_URL. `clock` decides token expiry.
  UaaClient(HttpClient* http, std::string api_url, UaaCredentials credentials, const base::Clock* clock,
            std::chrono::seconds expiry_margin = std::chrono::seconds(60));
  UaaClient(const UaaClient&) = delete;
  UaaClient& operator=(const UaaClient&) = delete;

  // The endpoints from the API root; fetched once, then cached (`fresh`: fetched again).
  // Failures are not cached.
  base::Result<Endpoints> Discover(bool fresh = false);

  // A valid access token (without the "bearer " prefix), cached or freshly fetched.
  base::Result<std::string> AccessToken();

  // Tells the client that `rejected` earned a 401. When it is still the cached token it is
  // dropped, so the next AccessToken() fetches (refresh grant first); when another caller has
  // already replaced it, nothing happens — so N callers holding the same stale token cause one
  // fetch, not N.
  void Invalidate(std::string_view rejected);

 private:
  base::Result<UaaToken> Fetch(const std::string& refresh_token);
  base::Result<UaaToken> Grant(const std::string& token_url, const std::string& grant_type, const std::string& form);

  // Immutable after construction.
  HttpClient* const http_;
  const std::string api_url_;
  const UaaCredentials credentials_;
  const base::Clock* const clock_;
  const std::chrono::seconds expiry_margin_;

  // Guarded by discovery_mu_ (held during the fetch: discovery is single-flight).
  std::mutex discovery_mu_;
  std::optional<Endpoints> endpoints_;

  // Guarded by mu_.
  std::mutex mu_;
  std::condition_variable fetched_;
  std::string access_token_;  // "" when none or invalidated
  base::TimePoint refresh_after_{};
  std::string refresh_token_;
  bool fetching_ = false;
  std::uint64_t generation_ = 0;  // bumped when a fetch ends
  base::Status last_error_;       // the outcome of the last fetch
};

}  // namespace broker::cf

#endif  // BROKER_CF_UAA_CLIENT_H_
