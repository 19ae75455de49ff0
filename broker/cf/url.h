// URL helpers for the Cloud Foundry clients: origins ("scheme://host:port") for the same-host
// checks that keep the bearer token on the API host, percent-encoding for paths and queries, and
// the path part of a URL for log lines. Pure functions; thread-safe.
#ifndef BROKER_CF_URL_H_
#define BROKER_CF_URL_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace broker::cf {

// The parts of an absolute http(s) URL that matter to us.
struct ParsedUrl {
  std::string scheme;          // "http" | "https", lowercase
  std::string host;            // lowercase; IPv6 literals keep their brackets ("[::1]")
  int port = 0;                // explicit, or 80 / 443 by scheme
  std::string path_and_query;  // "/v3/jobs/x?a=b" ("/" when the URL has none); no fragment
};

// Parses an absolute http:// or https:// URL. Userinfo ("user:pw@") is skipped, so
// "https://api.example.com@evil.example/" has host "evil.example". nullopt for anything else:
// relative references, other schemes, an empty host, a bad or out-of-range port.
std::optional<ParsedUrl> ParseUrl(std::string_view url);

// "https://api.example.com:443": scheme, host and port, normalised so that two URLs on the same
// origin compare equal as strings. nullopt when ParseUrl fails.
std::optional<std::string> OriginOf(std::string_view url);

// The path of `url` without query or fragment, for log lines ("/v3/apps/abc"). Works on absolute
// URLs and on paths; "" when there is none.
std::string PathForLog(std::string_view url);

// RFC 3986 percent-encoding of everything except the unreserved characters [A-Za-z0-9-._~]
// (base::PercentEncode). Safe for a path segment and for a query name or value.
std::string PercentEncode(std::string_view text);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as in form bodies and CC's
// X-Cf-Warnings). Text with a malformed escape is returned as it is.
std::string PercentDecode(std::string_view text, bool plus_is_space);

// "?a=1&b=x%2Fy" from name/value pairs (each percent-encoded); "" when `params` is empty.
std::string QueryString(const std::vector<std::pair<std::string, std::string>>& params);

// "application/x-www-form-urlencoded" body from name/value pairs (each percent-encoded).
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace broker::cf

#endif  // BROKER_CF_URL_H_
