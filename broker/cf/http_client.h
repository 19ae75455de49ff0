// HttpClient: the libcurl HTTP/1.1 client under the UAA, Cloud Controller and log-cache clients.
//
// - Connections, DNS answers and TLS sessions are reused: each call borrows a libcurl easy handle
//   from a small pool (a handle keeps its connection cache between calls) and the handles share
//   DNS and TLS-session caches.
// - TLS peer and host verification are on. `ca_cert` (CF_CA_CERT) adds trust in a private CA,
//   given as PEM text or as a path to a PEM file; `skip_tls_verification` (CF_SKIP_SSL_VALIDATION)
//   is an explicit opt-out, logged once at warn.
// - Redirects are never followed: a 3xx is returned like any other response.
// - 429 and 503 are retried, at most `max_attempts` attempts in all, waiting what the response's
//   Retry-After asks (delta-seconds or an HTTP date), or a doubling default when it has none. A
//   Retry-After longer than `max_retry_wait` ends the retries at once: the last response is
//   returned and the caller's own backoff takes over. Transport failures are not retried here.
// - Logging: one debug line per attempt, `cf.request method= path= status= ms=` (the URL's path
//   only: never a query, header or body; status=0 when no response came), and a warn line per
//   429/503 retry.
//
// Errors (transport only; any HTTP status, 4xx and 5xx included, is a response, not an error):
//   kDeadlineExceeded   the connect or total timeout expired (reason "timeout")
//   kUnavailable        DNS, connect, reset, send/receive failures, an empty reply, TLS handshake;
//                       reason() names the class: "host not found", "connection refused",
//                       "connection reset", "TLS handshake failure", "malformed answer"
//   kFailedPrecondition TLS verification failed, or CF_CA_CERT is unusable (retrying won't help)
//   kInvalidArgument    a malformed or non-http(s) URL, or a response over max_response_bytes
//   kInternal           libcurl could not be initialised
//
// Thread-safety: HttpClient is thread-safe; Send() may be called from many threads at once.
#ifndef BROKER_CF_HTTP_CLIENT_H_
#define BROKER_CF_HTTP_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/result.h"
#include "broker/base/status.h"

namespace broker::cf {

// Response headers in arrival order, looked up case-insensitively. Thread-compatible.
class HttpHeaders {
 public:
  void Add(std::string name, std::string value);
  // The first value of `name`, any case; nullopt when absent.
  std::optional<std::string> Get(std::string_view name) const;
  // Every value of `name` in arrival order (a header may be repeated).
  std::vector<std::string> GetAll(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }
  void Clear() { entries_.clear(); }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

struct HttpRequest {
  std::string method = "GET";  // GET, POST, PUT, PATCH, DELETE
  std::string url;             // absolute http(s) URL
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;            // sent when non-empty, and always for POST / PUT / PATCH
};

struct HttpResponse {
  long status = 0;
  HttpHeaders headers;
  std::string body;
};

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds request_timeout{60'000};  // the whole exchange, per attempt
  bool skip_tls_verification = false;                 // CF_SKIP_SSL_VALIDATION
  std::string ca_cert;                                // CF_CA_CERT: PEM text or a file path; "" = system store
  int max_attempts = 3;                               // for 429 / 503; 1 = no retry
  std::chrono::milliseconds max_retry_wait{15'000};   // the longest single wait honoured
  std::chrono::milliseconds default_retry_wait{500};  // without Retry-After; doubles per retry
  std::size_t max_response_bytes = 64u << 20;
  std::size_t max_idle_handles = 8;
  std::string user_agent = "ssh-access-broker";
  // How the client waits between retries; default std::this_thread::sleep_for. A test seam.
  std::function<void(std::chrono::milliseconds)> sleep_for;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs `request`, with the 429/503 retries above. The response of the last attempt, or a
  // transport error (codes above).
  base::Result<HttpResponse> Send(const HttpRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// How long a Retry-After value asks to wait: delta-seconds ("120") or an IMF-fixdate
// ("Wed, 21 Oct 2015 07:28:00 GMT") relative to `now` (a date in the past means 0). nullopt
// when the value is neither.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value, base::TimePoint now);

// The Status for a libcurl result code (a CURLcode as int) with curl's error text as message.
// OK for 0 (CURLE_OK).
base::Status TransportStatus(int curl_code, std::string_view detail);

}  // namespace broker::cf

#endif  // BROKER_CF_HTTP_CLIENT_H_
