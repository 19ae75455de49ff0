#include "broker/cf/uaa_client.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <optional>
#include <cctype>
#include <utility>
#include <vector>

#include "broker/base/encoding.h"
#include "broker/base/json.h"
#include "broker/base/log.h"
#include "broker/cf/cc_json.h"
#include "broker/cf/url.h"

namespace broker::cf {
namespace {

using rapidjson::Value;

std::string LinkHref(const rapidjson::Document& d, const char* name) {
  const auto links = d.FindMember("links");
  if (links == d.MemberEnd() || !links->value.IsObject()) return "";
  const auto link = links->value.FindMember(name);
  if (link == links->value.MemberEnd() || !link->value.IsObject()) return "";
  const auto href = link->value.FindMember("href");
  if (href == link->value.MemberEnd() || !href->value.IsString()) return "";
  std::string out(href->value.GetString(), href->value.GetStringLength());
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

std::string StringMember(const Value& v, const char* key) {
  if (!v.IsObject()) return "";
  const auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength())
                                                     : std::string();
}

std::string TrimSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// `body` as a JSON object, or kUnavailable (reason kMalformedResponse) logged as
// cf.malformed_response: what was read, the reason and the offset; never the body, which may hold
// a token.
base::Status ParseAnswer(std::string_view body, const char* what, rapidjson::Document* d) {
  return ParseAnswerObject(body, what, what, d);
}

}  // namespace

base::Result<Endpoints> ParseRootLinks(std::string_view body, std::string_view api_url) {
  rapidjson::Document d;
  BROKER_RETURN_IF_ERROR(ParseAnswer(body, "the API root", &d));
  Endpoints e;
  e.self = LinkHref(d, "self");
  e.cloud_controller_v3 = LinkHref(d, "cloud_controller_v3");
  if (e.cloud_controller_v3.empty()) {
    return base::Status::FailedPrecondition("cf: the API root has no cloud_controller_v3 link (Cloud Controller V3 required)");
  }
  std::string login = LinkHref(d, "login");
  if (login.empty()) login = LinkHref(d, "uaa");
  if (login.empty()) return base::Status::FailedPrecondition("cf: the API root has neither a login nor a uaa link");
  e.token_url = login + "/oauth/token";
  e.log_cache = LinkHref(d, "log_cache");
  if (e.log_cache.empty()) {
    // Older CCs lack the link; the usual convention is the api. host with log-cache. in its place.
    const auto parsed = ParseUrl(api_url);
    if (parsed && parsed->host.rfind("api.", 0) == 0) {
      const bool default_port = parsed->port == (parsed->scheme == "https" ? 443 : 80);
      e.log_cache = parsed->scheme + "://log-cache." + parsed->host.substr(4) +
                    (default_port ? "" : ":" + std::to_string(parsed->port));
    }
  }
  return e;
}

base::Status CheckApiUrl(std::string_view api_url, std::string_view self) {
  if (self.empty()) return base::Status::Ok();
  const auto normal = [](std::string_view url) -> std::optional<std::string> {
    auto p = ParseUrl(url);
    if (!p) return std::nullopt;
    std::string path = p->path_and_query;
    while (!path.empty() && path.back() == '/') path.pop_back();
    return p->scheme + "://" + p->host + ":" + std::to_string(p->port) + path;
  };
  const auto configured = normal(api_url);
  const auto own = normal(self);
  if (configured && own && *configured == *own) return base::Status::Ok();
  return {base::Code::kFailedPrecondition,
          "cf: CF_API_URL is " + std::string(api_url) + ", but Cloud Controller calls itself " + std::string(self) +
              " (links.self.href of GET /) and builds every job Location and pagination link from that URL, which "
              "the broker refuses to follow elsewhere: set CF_API_URL=" + std::string(self),
          "ApiUrlMismatch"};
}

base::Result<UaaToken> ParseTokenResponse(std::string_view body) {
  rapidjson::Document d;
  BROKER_RETURN_IF_ERROR(ParseAnswer(body, "UAA's token answer", &d));
  UaaToken t;
  t.access_token = StringMember(d, "access_token");
  if (t.access_token.empty()) return base::Status::InvalidArgument("cf: UAA token answer without access_token");
  std::string type = StringMember(d, "token_type");
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!type.empty() && type != "bearer") return base::Status::InvalidArgument("cf: UAA token_type is not bearer");
  t.refresh_token = StringMember(d, "refresh_token");
  const auto expires = d.FindMember("expires_in");
  if (expires != d.MemberEnd() && expires->value.IsNumber()) {
    // Checked before converting (an out-of-range double cast is undefined): at most ten years.
    constexpr double kMaxSeconds = 10.0 * 366 * 24 * 3600;
    const double s = expires->value.GetDouble();
    t.expires_in = std::chrono::seconds(s > 0 ? static_cast<std::int64_t>(std::min(s, kMaxSeconds)) : 0);
  }
  return t;
}

base::Status StatusFromUaaResponse(long http_status, std::string_view body) {
  std::string error;
  // An error body that does not parse just has no OAuth error code.
  if (auto d = base::ParseJson(body, "cf: UAA's error answer"); d.ok() && d->IsObject()) {
    error = StringMember(*d, "error");
  }
  // The OAuth error code is a short token ("invalid_client"); anything else is not trusted into
  // a log line.
  if (error.size() > 64 || !std::all_of(error.begin(), error.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '-' || c == '.';
      })) {
    error.clear();
  }
  std::string message = "uaa: token request answered HTTP " + std::to_string(http_status);
  if (!error.empty()) message += " (" + error + ")";
  if (http_status == 429 || http_status >= 500) {
    return {base::Code::kUnavailable, std::move(message), "UAA HTTP " + std::to_string(http_status)};
  }
  return {base::Code::kUnauthenticated, std::move(message), std::move(error)};
}

UaaClient::UaaClient(HttpClient* http, std::string api_url, UaaCredentials credentials, const base::Clock* clock,
                     std::chrono::seconds expiry_margin)
    : http_(http),
      api_url_(TrimSlashes(std::move(api_url))),
      credentials_(std::move(credentials)),
      clock_(clock),
      expiry_margin_(expiry_margin) {}

base::Result<Endpoints> UaaClient::Discover(bool fresh) {
  std::lock_guard<std::mutex> lock(discovery_mu_);
  if (endpoints_ && !fresh) return *endpoints_;
  if (!ParseUrl(api_url_)) return base::Status::InvalidArgument("cf: CF_API_URL is not an http(s) URL");
  HttpRequest req;
  req.url = api_url_ + "/";
  req.headers = {{"Accept", "application/json"}};
  BROKER_ASSIGN_OR_RETURN(HttpResponse resp, http_->Send(req));
  if (resp.status != 200) {
    base::Logger("cf")->warn("cf.discovery_failed status={}", resp.status);
    const base::Code code = resp.status == 429 || resp.status >= 500 ? base::Code::kUnavailable
                                                                     : base::Code::kFailedPrecondition;
    return base::Status(code, "cf: API root answered HTTP " + std::to_string(resp.status),
                        code == base::Code::kUnavailable ? "HTTP " + std::to_string(resp.status) : std::string());
  }
  BROKER_ASSIGN_OR_RETURN(Endpoints e, ParseRootLinks(resp.body, api_url_));
  if (!endpoints_ || endpoints_->self != e.self || endpoints_->token_url != e.token_url) {
    base::Logger("cf")->info("cf.discovered self={} v3={} token_host={} log_cache={}", base::LogQuote(e.self),
                             e.cloud_controller_v3, OriginOf(e.token_url).value_or("?"),
                             e.log_cache.empty() ? "none" : e.log_cache);
  }
  endpoints_ = e;
  return e;
}

base::Result<std::string> UaaClient::AccessToken() {
  std::unique_lock<std::mutex> lock(mu_);
  const std::uint64_t seen = generation_;
  for (;;) {
    if (!access_token_.empty() && clock_->Now() < refresh_after_) return access_token_;
    if (!fetching_) break;
    fetched_.wait(lock);
    // A fetch that started after we arrived ended in failure: share its outcome rather than
    // stampeding UAA with one retry per waiter.
    if (generation_ != seen && access_token_.empty() && !last_error_.ok()) return last_error_;
  }
  fetching_ = true;
  const std::string refresh = refresh_token_;
  lock.unlock();

  base::Result<UaaToken> token = Fetch(refresh);
  const base::TimePoint now = clock_->Now();

  lock.lock();
  fetching_ = false;
  ++generation_;
  if (!token.ok()) {
    last_error_ = token.status();
    access_token_.clear();
    fetched_.notify_all();
    return last_error_;
  }
  last_error_ = base::Status::Ok();
  access_token_ = token->access_token;
  if (!token->refresh_token.empty()) refresh_token_ = token->refresh_token;
  const auto margin = std::min<std::chrono::seconds>(expiry_margin_, token->expires_in / 2);
  refresh_after_ = now + token->expires_in - margin;
  std::string out = access_token_;
  fetched_.notify_all();
  return out;
}

void UaaClient::Invalidate(std::string_view rejected) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!access_token_.empty() && access_token_ == rejected) access_token_.clear();
}

base::Result<UaaToken> UaaClient::Fetch(const std::string& refresh_token) {
  // Every token fetch looks at the root again: CF_API_URL must stay the URL CC calls itself.
  BROKER_ASSIGN_OR_RETURN(Endpoints endpoints, Discover(/*fresh=*/true));
  if (base::Status same = CheckApiUrl(api_url_, endpoints.self); !same.ok()) {
    base::Logger("cf")->error("cf.api_url_mismatch configured={} cloud_controller={} why={}", base::LogQuote(api_url_),
                              base::LogQuote(endpoints.self), base::LogQuote(same.message()));
    return same;
  }
  if (!credentials_.client_id.empty()) {
    return Grant(endpoints.token_url, "client_credentials", FormEncode({{"grant_type", "client_credentials"}}));
  }
  if (credentials_.username.empty()) {
    return base::Status::Unauthenticated("cf: no UAA credentials (CF_CLIENT_ID/CF_CLIENT_SECRET or CF_ADMIN_USER/CF_ADMIN_PASSWORD)");
  }
  if (!refresh_token.empty()) {
    base::Result<UaaToken> refreshed =
        Grant(endpoints.token_url, "refresh_token", FormEncode({{"grant_type", "refresh_token"}, {"refresh_token", refresh_token}}));
    if (refreshed.ok() || refreshed.status().code() != base::Code::kUnauthenticated) return refreshed;
    // The refresh token expired or was revoked: log in again.
    std::lock_guard<std::mutex> lock(mu_);
    if (refresh_token_ == refresh_token) refresh_token_.clear();
  }
  return Grant(endpoints.token_url, "password",
               FormEncode({{"grant_type", "password"}, {"username", credentials_.username}, {"password", credentials_.password}}));
}

base::Result<UaaToken> UaaClient::Grant(const std::string& token_url, const std::string& grant_type, const std::string& form) {
  const bool client_grant = grant_type == "client_credentials";
  // Raw "id:secret", as uaac and the cf CLI send it: UAA does not URL-decode Basic credentials
  // unless told to (RFC 6749 §2.3.1's encoding is not what UAA expects by default).
  const std::string basic = client_grant ? credentials_.client_id + ":" + credentials_.client_secret : std::string("cf:");
  HttpRequest req;
  req.method = "POST";
  req.url = token_url;
  req.headers = {{"Accept", "application/json"},
                 {"Content-Type", "application/x-www-form-urlencoded"},
                 {"Authorization", "Basic " + base::Base64Encode(basic)}};
  req.body = form;
  base::Result<HttpResponse> resp = http_->Send(req);
  if (!resp.ok()) {
    base::Logger("cf")->warn("cf.token_fetch_failed grant={} code={} detail={}", grant_type,
                             base::CodeName(resp.status().code()), base::LogQuote(resp.status().message()));
    return resp.status();
  }
  if (resp->status != 200) {
    base::Status s = StatusFromUaaResponse(resp->status, resp->body);
    base::Logger("cf")->warn("cf.token_fetch_failed grant={} status={} error={}", grant_type, resp->status,
                             s.reason().empty() ? "none" : s.reason());
    return s;
  }
  BROKER_ASSIGN_OR_RETURN(UaaToken token, ParseTokenResponse(resp->body));
  base::Logger("cf")->info("cf.token_fetched grant={} expires_in={} refresh_token={}", grant_type,
                           token.expires_in.count(), token.refresh_token.empty() ? "absent" : "present");
  return token;
}

}  // namespace broker::cf
