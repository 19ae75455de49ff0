#include "tests/support/http_client.h"

#include <curl/curl.h>

#include <cctype>
#include <memory>
#include <mutex>

#include "broker/base/encoding.h"

namespace broker::testing {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_ALL); });
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<Headers*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    headers->clear();  // a new response (e.g. after 100 Continue) starts
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    headers->emplace_back(Trim(line.substr(0, colon)), Trim(line.substr(colon + 1)));
  }
  return size * n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

std::optional<std::string> Response::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

std::string Response::Describe() const {
  std::string s = "status=" + std::to_string(status);
  if (!error.empty()) s += " transport_error=" + error;
  if (auto ct = Header("Content-Type")) s += " content-type=" + *ct;
  constexpr size_t kMax = 600;
  s += " body=" + (body.size() > kMax ? body.substr(0, kMax) + "..." : body);
  return s;
}

HttpClient::HttpClient(std::string base_url, std::string user, std::string password)
    : base_url_(std::move(base_url)), user_(std::move(user)), password_(std::move(password)) {
  GlobalInitOnce();
}

Response HttpClient::Send(const Request& request) const {
  Response response;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    response.error = "curl_easy_init failed";
    return response;
  }
  CURL* c = curl.get();
  std::string url = base_url_ + request.path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);

  curl_slist* raw = nullptr;
  bool custom_auth = false;
  for (const auto& [k, v] : request.headers) {
    if (EqualsIgnoreCase(k, "Authorization")) custom_auth = true;
    // "Name;" is curl's way to send a header with an empty value.
    std::string line = v.empty() ? k + ";" : k + ": " + v;
    raw = curl_slist_append(raw, line.c_str());
  }
  if (!custom_auth) {
    if (request.auth.kind == Auth::Kind::kDefault) {
      raw = curl_slist_append(
          raw, ("Authorization: " + BasicAuthHeaderValue(user_, password_)).c_str());
    } else if (request.auth.kind == Auth::Kind::kBasic) {
      raw = curl_slist_append(
          raw, ("Authorization: " + BasicAuthHeaderValue(request.auth.user, request.auth.password))
                   .c_str());
    }
  }
  if (request.api_version) {
    std::string line = request.api_version->empty()
                           ? std::string("X-Broker-API-Version;")
                           : "X-Broker-API-Version: " + *request.api_version;
    raw = curl_slist_append(raw, line.c_str());
  }
  if (request.body) {
    if (request.content_type) {
      raw = curl_slist_append(raw, ("Content-Type: " + *request.content_type).c_str());
    } else {
      raw = curl_slist_append(raw, "Content-Type:");  // remove curl's form default
    }
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body->size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body->data());
  }
  raw = curl_slist_append(raw, "Expect:");  // no 100-continue round trip
  std::unique_ptr<curl_slist, SlistDeleter> header_list(raw);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());

  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response.headers);

  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = status;
  if (rc != CURLE_OK) {
    response.error = curl_easy_strerror(rc);
    // A server that answers early (e.g. 413) and closes while we still send is a real answer.
  }
  return response;
}

Response HttpClient::Get(std::string path) const {
  Request r;
  r.method = "GET";
  r.path = std::move(path);
  return Send(r);
}

Response HttpClient::Put(std::string path, std::string body) const {
  Request r;
  r.method = "PUT";
  r.path = std::move(path);
  r.body = std::move(body);
  return Send(r);
}

Response HttpClient::Patch(std::string path, std::string body) const {
  Request r;
  r.method = "PATCH";
  r.path = std::move(path);
  r.body = std::move(body);
  return Send(r);
}

Response HttpClient::Delete(std::string path) const {
  Request r;
  r.method = "DELETE";
  r.path = std::move(path);
  return Send(r);
}

std::string Base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string BasicAuthHeaderValue(std::string_view user, std::string_view password) {
  std::string plain(user);
  plain += ':';
  plain += password;
  return "Basic " + Base64Encode(plain);
}

std::string PercentEncode(std::string_view s) { return base::PercentEncode(s); }

std::string PercentEncodeAll(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char ch : s) {
    out += '%';
    out += kHex[ch >> 4];
    out += kHex[ch & 15];
  }
  return out;
}

}  // namespace broker::testing
