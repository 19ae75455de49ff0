#include "broker/cf/url.h"

#include <algorithm>
#include <cctype>

#include "broker/base/encoding.h"

namespace broker::cf {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::optional<ParsedUrl> ParseUrl(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  ParsedUrl out;
  out.scheme = Lower(url.substr(0, scheme_end));
  if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(scheme_end + 3);
  const std::size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view tail = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  // Userinfo ends at the last '@' of the authority (RFC 3986; what curl and browsers do).
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);

  std::string_view host = authority;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {  // IPv6 literal
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(0, close + 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  }
  if (host.empty() || host.find_first_of(" \t\r\n\\") != std::string_view::npos) return std::nullopt;
  out.host = Lower(host);
  if (port_text.empty()) {
    out.port = out.scheme == "https" ? 443 : 80;
  } else {
    if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(), ::isdigit)) return std::nullopt;
    out.port = std::stoi(std::string(port_text));
    if (out.port < 1 || out.port > 65535) return std::nullopt;
  }
  if (const std::size_t hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  out.path_and_query = tail.empty() ? "/" : std::string(tail);
  // (insert of one char: GCC 12's -Wrestrict misfires on insert(0, "/") in Release builds)
  if (out.path_and_query.front() == '?') out.path_and_query.insert(out.path_and_query.begin(), '/');
  return out;
}

std::optional<std::string> OriginOf(std::string_view url) {
  const auto parsed = ParseUrl(url);
  if (!parsed) return std::nullopt;
  return parsed->scheme + "://" + parsed->host + ":" + std::to_string(parsed->port);
}

std::string PathForLog(std::string_view url) {
  std::string_view path = url;
  if (const std::size_t scheme_end = url.find("://"); scheme_end != std::string_view::npos) {
    const std::size_t slash = url.find_first_of("/?#", scheme_end + 3);
    path = slash == std::string_view::npos ? std::string_view() : url.substr(slash);
  }
  return std::string(path.substr(0, path.find_first_of("?#")));
}

std::string PercentEncode(std::string_view text) { return base::PercentEncode(text); }

std::string PercentDecode(std::string_view text, bool plus_is_space) {
  return base::PercentDecode(text, plus_is_space).value_or(std::string(text));
}

std::string QueryString(const std::vector<std::pair<std::string, std::string>>& params) {
  if (params.empty()) return "";
  std::string query = "?";  // appended, not "?" + ...: GCC 12's -Wrestrict misfires on that
  query += FormEncode(params);
  return query;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += PercentEncode(name);
    out += '=';
    out += PercentEncode(value);
  }
  return out;
}

}  // namespace broker::cf
