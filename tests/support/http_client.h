// HttpClient: a tiny libcurl client the integration tests use to talk to a real broker process.
//
// Every request is sent exactly as described: the path (with its query) goes on the wire as given,
// with no normalisation, so tests can send percent-encoded ids and malformed requests. Transport
// failures do not throw; they come back as a Response with status 0 and `error` set.
//
// An HttpClient is immutable after construction and may be shared by threads; each Send() uses its
// own curl handle and connection.
#ifndef BROKER_TESTS_SUPPORT_HTTP_CLIENT_H_
#define BROKER_TESTS_SUPPORT_HTTP_CLIENT_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace broker::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Who the request claims to be.
struct Auth {
  enum class Kind { kDefault, kNone, kBasic };
  Kind kind = Kind::kDefault;
  std::string user;
  std::string password;

  static Auth Default() { return {}; }
  static Auth None() { return {Kind::kNone, {}, {}}; }
  static Auth Basic(std::string user, std::string password) {
    return {Kind::kBasic, std::move(user), std::move(password)};
  }
};

struct Request {
  std::string method = "GET";
  std::string path;  // "/v2/catalog", "/v2/service_instances/i1?accepts_incomplete=true"
  Headers headers;   // extra headers, sent verbatim (an "Authorization" here is sent as given)
  std::optional<std::string> body;  // nullopt: no body at all; "" sends an empty body
  Auth auth;
  // X-Broker-API-Version: nullopt omits the header; "" sends it with an empty value.
  std::optional<std::string> api_version = "2.17";
  // Content-Type sent with a body; nullopt omits it.
  std::optional<std::string> content_type = "application/json";
  std::chrono::milliseconds timeout{15000};
};

struct Response {
  long status = 0;      // 0 when no response arrived (see `error`)
  Headers headers;      // as received, in order
  std::string body;
  std::string error;    // curl's message when the transport failed

  // The first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string> Header(std::string_view name) const;
  // "PUT /v2/... -> 400 {...}": for failure messages.
  std::string Describe() const;
};

class HttpClient {
 public:
  // `base_url` like "http://127.0.0.1:8123"; `user`/`password` are used for Auth::Default().
  HttpClient(std::string base_url, std::string user, std::string password);

  Response Send(const Request& request) const;

  // Convenience forms with default auth and version.
  Response Get(std::string path) const;
  Response Put(std::string path, std::string body) const;
  Response Patch(std::string path, std::string body) const;
  Response Delete(std::string path) const;

  const std::string& base_url() const { return base_url_; }

 private:
  std::string base_url_;
  std::string user_;
  std::string password_;
};

// "Basic " + base64(user ":" password), as a client sends it.
std::string BasicAuthHeaderValue(std::string_view user, std::string_view password);
std::string Base64Encode(std::string_view bytes);
// Percent-encodes every byte outside RFC 3986's unreserved set.
std::string PercentEncode(std::string_view s);
// Percent-encodes every byte, unreserved ones included ("a" -> "%61").
std::string PercentEncodeAll(std::string_view s);

}  // namespace broker::testing

#endif  // BROKER_TESTS_SUPPORT_HTTP_CLIENT_H_
