#include "broker/cf/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <mutex>
#include <thread>

#include "broker/base/log.h"
#include "broker/cf/url.h"

namespace broker::cf {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct ShareDeleter {
  void operator()(CURLSH* s) const { curl_share_cleanup(s); }
};

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// What the write and header callbacks fill in.
struct Sink {
  std::string body;
  HttpHeaders headers;
  std::size_t limit = 0;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t bytes = size * n;
  if (sink->body.size() + bytes > sink->limit) {
    sink->too_large = true;
    return 0;  // makes libcurl fail the transfer with CURLE_WRITE_ERROR
  }
  sink->body.append(data, bytes);
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t bytes = size * n;
  const std::string_view line(data, bytes);
  if (line.rfind("HTTP/", 0) == 0) {
    sink->headers.Clear();  // a new response (after a 100 Continue or an auth round): start over
    return bytes;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return bytes;
  sink->headers.Add(std::string(Trim(line.substr(0, colon))), std::string(Trim(line.substr(colon + 1))));
  return bytes;
}

bool LooksLikePem(std::string_view text) { return text.find("-----BEGIN") != std::string_view::npos; }

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void WarnTlsDisabledOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    base::Logger("cf")->warn(
        "cf.tls_verification_disabled detail={}",
        base::LogQuote("CF_SKIP_SSL_VALIDATION is set: Cloud Controller, UAA and log-cache certificates are not checked"));
  });
}

}  // namespace

// ---- HttpHeaders -----------------------------------------------------------------------------

void HttpHeaders::Add(std::string name, std::string value) { entries_.emplace_back(std::move(name), std::move(value)); }

std::optional<std::string> HttpHeaders::Get(std::string_view name) const {
  for (const auto& [k, v] : entries_) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

std::vector<std::string> HttpHeaders::GetAll(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : entries_) {
    if (EqualsIgnoreCase(k, name)) out.push_back(v);
  }
  return out;
}

// ---- Pure helpers ----------------------------------------------------------------------------

std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value, base::TimePoint now) {
  value = Trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), ::isdigit)) {
    if (value.size() > 9) return std::chrono::milliseconds(std::chrono::hours(24 * 365));  // absurd: "forever"
    return std::chrono::seconds(std::stol(std::string(value)));
  }
  // IMF-fixdate, the only HTTP-date form servers may send (RFC 9110 §5.6.7).
  std::tm tm{};
  const std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const std::time_t at = timegm(&tm);
  if (at == static_cast<std::time_t>(-1)) return std::nullopt;
  const auto delta = std::chrono::system_clock::from_time_t(at) - now;
  if (delta <= std::chrono::system_clock::duration::zero()) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(delta);
}

base::Status TransportStatus(int curl_code, std::string_view detail) {
  const auto code = static_cast<CURLcode>(curl_code);
  if (code == CURLE_OK) return base::Status::Ok();
  std::string message = "http: ";
  message += detail.empty() ? curl_easy_strerror(code) : std::string(detail);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return {base::Code::kDeadlineExceeded, std::move(message), "timeout"};
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return {base::Code::kUnavailable, std::move(message), "host not found"};
    case CURLE_COULDNT_CONNECT:
      return {base::Code::kUnavailable, std::move(message), "connection refused"};
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SEND_FAIL_REWIND:
      return {base::Code::kUnavailable, std::move(message), "connection reset"};
    case CURLE_SSL_CONNECT_ERROR:
      return {base::Code::kUnavailable, std::move(message), "TLS handshake failure"};
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_AGAIN:
    case CURLE_WEIRD_SERVER_REPLY:
      return {base::Code::kUnavailable, std::move(message), "malformed answer"};
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return {base::Code::kFailedPrecondition, std::move(message), "TlsVerificationFailed"};
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return base::Status::InvalidArgument(std::move(message));
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FAILED_INIT:
      return base::Status::Internal(std::move(message));
    default:
      return {base::Code::kUnavailable, std::move(message), "transport failure"};
  }
}

// ---- HttpClient ------------------------------------------------------------------------------

struct HttpClient::Impl {
  explicit Impl(HttpClientOptions o) : options(std::move(o)) {
    if (!options.sleep_for) options.sleep_for = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
    options.max_attempts = std::max(1, options.max_attempts);
    GlobalInitOnce();
    if (options.skip_tls_verification) WarnTlsDisabledOnce();
    share.reset(curl_share_init());
    if (share) {
      curl_share_setopt(share.get(), CURLSHOPT_LOCKFUNC, &Impl::Lock);
      curl_share_setopt(share.get(), CURLSHOPT_UNLOCKFUNC, &Impl::Unlock);
      curl_share_setopt(share.get(), CURLSHOPT_USERDATA, this);
      curl_share_setopt(share.get(), CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
      curl_share_setopt(share.get(), CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
  }

  ~Impl() {
    idle.clear();  // easy handles go before the share handle they use
    share.reset();
  }

  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Impl*>(user)->share_locks[static_cast<std::size_t>(data) % CURL_LOCK_DATA_LAST].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Impl*>(user)->share_locks[static_cast<std::size_t>(data) % CURL_LOCK_DATA_LAST].unlock();
  }

  EasyHandle Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty()) {
        EasyHandle h = std::move(idle.back());
        idle.pop_back();
        return h;
      }
    }
    return EasyHandle(curl_easy_init());
  }

  void Release(EasyHandle h) {
    std::lock_guard<std::mutex> lock(mu);
    if (idle.size() < options.max_idle_handles) idle.push_back(std::move(h));
  }

  base::Result<HttpResponse> Once(CURL* h, const HttpRequest& request);

  // Immutable after construction.
  HttpClientOptions options;
  std::unique_ptr<CURLSH, ShareDeleter> share;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> share_locks;

  // Guarded by mu.
  std::mutex mu;
  std::vector<EasyHandle> idle;
};

base::Result<HttpResponse> HttpClient::Impl::Once(CURL* h, const HttpRequest& request) {
  // Keeps the handle's connection cache and TLS session; clears every option of the last call.
  curl_easy_reset(h);
  Sink sink;
  sink.limit = options.max_response_bytes;
  char error[CURL_ERROR_SIZE] = {0};

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  const auto append = [&headers](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (next != nullptr) {
      (void)headers.release();
      headers.reset(next);
    }
  };
  for (const auto& [name, value] : request.headers) append(name + ": " + value);
  append("Expect:");  // no 100-continue round trip for larger bodies

  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout.count()));
  curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  if (share) curl_easy_setopt(h, CURLOPT_SHARE, share.get());
  if (options.skip_tls_verification) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options.ca_cert.empty()) {
      if (LooksLikePem(options.ca_cert)) {
        curl_blob blob{const_cast<char*>(options.ca_cert.data()), options.ca_cert.size(), CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
      } else {
        curl_easy_setopt(h, CURLOPT_CAINFO, options.ca_cert.c_str());
      }
    }
  }

  const bool has_body = !request.body.empty() || request.method == "POST" || request.method == "PUT" ||
                        request.method == "PATCH";
  if (request.method == "GET" && request.body.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (has_body) {
    // POSTFIELDS also switches the method to POST; CUSTOMREQUEST then renames it.
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.c_str());
    if (request.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  const auto started = std::chrono::steady_clock::now();
  const CURLcode rc = curl_easy_perform(h);
  // The handle goes back to the pool: drop its pointers to this frame's buffers and header list.
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, nullptr);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  const std::string path = PathForLog(request.url);
  if (rc != CURLE_OK) {
    base::Logger("cf")->debug("cf.request method={} path={} status=0 ms={}", request.method, path, ms);
    if (sink.too_large) {
      return base::Status::InvalidArgument("http: response larger than " + std::to_string(options.max_response_bytes) +
                                           " bytes");
    }
    return TransportStatus(rc, error);
  }
  HttpResponse response;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  response.headers = std::move(sink.headers);
  response.body = std::move(sink.body);
  base::Logger("cf")->debug("cf.request method={} path={} status={} ms={}", request.method, path, response.status, ms);
  return response;
}

HttpClient::HttpClient(HttpClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpClient::~HttpClient() = default;

base::Result<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  if (!ParseUrl(request.url)) return base::Status::InvalidArgument("http: not an absolute http(s) URL");
  EasyHandle handle = impl_->Acquire();
  if (!handle) return base::Status::Internal("http: curl_easy_init failed");
  const HttpClientOptions& o = impl_->options;
  std::chrono::milliseconds backoff = o.default_retry_wait;
  for (int attempt = 1;; ++attempt) {
    base::Result<HttpResponse> result = impl_->Once(handle.get(), request);
    if (!result.ok()) {
      // A handle whose transfer failed may hold a half-dead connection: don't pool it.
      return result;
    }
    const long status = result->status;
    if ((status != 429 && status != 503) || attempt >= o.max_attempts) {
      impl_->Release(std::move(handle));
      return result;
    }
    std::chrono::milliseconds wait = backoff;
    if (const auto header = result->headers.Get("Retry-After")) {
      if (const auto asked = ParseRetryAfter(*header, std::chrono::system_clock::now())) wait = *asked;
    }
    backoff *= 2;
    if (wait > o.max_retry_wait) {
      base::Logger("cf")->warn("cf.http_retry_abandoned method={} path={} status={} attempt={} retry_after_ms={}",
                               request.method, PathForLog(request.url), status, attempt, wait.count());
      impl_->Release(std::move(handle));
      return result;
    }
    base::Logger("cf")->warn("cf.http_retry method={} path={} status={} attempt={} wait_ms={}", request.method,
                             PathForLog(request.url), status, attempt, wait.count());
    o.sleep_for(wait);
  }
}

}  // namespace broker::cf
