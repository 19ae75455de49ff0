#include "broker/http/prelude.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "broker/base/digest.h"
#include "broker/base/encoding.h"
#include "broker/base/json.h"

namespace broker::http {
namespace {

// True when `header` is longer than `scheme_and_space` (lower case, ending in ' ') and starts with
// it, ignoring case (RFC 7235: the scheme name is case-insensitive).
bool HasScheme(std::string_view header, std::string_view scheme_and_space) {
  if (header.size() <= scheme_and_space.size()) return false;
  for (std::size_t i = 0; i < scheme_and_space.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != scheme_and_space[i]) return false;
  }
  return true;
}

}  // namespace

std::optional<BasicCredential> DecodeBasicAuth(const std::optional<std::string>& authorization_header) {
  if (!authorization_header.has_value()) return std::nullopt;
  const std::string_view h = *authorization_header;
  // RFC 7235: the scheme name is case-insensitive.
  if (!HasScheme(h, "basic ")) return std::nullopt;
  const auto decoded = base::Base64Decode(h.substr(6));
  if (!decoded.has_value()) return std::nullopt;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredential{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::optional<std::string> DecodeBearerToken(const std::optional<std::string>& authorization_header) {
  if (!authorization_header.has_value()) return std::nullopt;
  const std::string_view h = *authorization_header;
  if (!HasScheme(h, "bearer ")) return std::nullopt;
  const std::string_view token = h.substr(7);
  // RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
  std::size_t i = 0;
  while (i < token.size() && (std::isalnum(static_cast<unsigned char>(token[i])) || token[i] == '-' ||
                              token[i] == '.' || token[i] == '_' || token[i] == '~' || token[i] == '+' ||
                              token[i] == '/')) {
    ++i;
  }
  if (i == 0) return std::nullopt;
  while (i < token.size() && token[i] == '=') ++i;
  if (i != token.size()) return std::nullopt;
  return std::string(token);
}

std::vector<CredentialDigest> DigestCredentials(const std::vector<BasicCredential>& accepted) {
  std::vector<CredentialDigest> out;
  out.reserve(accepted.size());
  for (const auto& c : accepted) out.push_back({base::Sha256Hex(c.username), base::Sha256Hex(c.password)});
  return out;
}

base::Status CheckBasicAuth(const std::optional<std::string>& authorization_header,
                            const std::vector<CredentialDigest>& accepted) {
  static const base::Status kDenied = base::Status::Unauthenticated("missing or wrong broker credentials");
  const auto given = DecodeBasicAuth(authorization_header);
  if (!given.has_value()) return kDenied;
  // Compare fixed-size digests so neither length nor content leaks through timing; check every
  // accepted pair without stopping early.
  const std::string user = base::Sha256Hex(given->username);
  const std::string pass = base::Sha256Hex(given->password);
  bool ok = false;
  for (const auto& c : accepted) {
    const bool match = base::ConstantTimeEquals(c.username, user) & base::ConstantTimeEquals(c.password, pass);
    ok = ok || match;
  }
  return ok ? base::Status::Ok() : kDenied;
}

base::Status CheckApiVersion(const std::optional<std::string>& version_header) {
  const std::string range = "this broker supports X-Broker-API-Version 2." + std::to_string(kMinMinorVersion) +
                            " and later 2.x versions (2.17 recommended)";
  if (!version_header.has_value() || version_header->empty()) {
    return base::Status::OutOfRange("X-Broker-API-Version header is missing; " + range);
  }
  const std::string& v = *version_header;
  int major = 0, minor = 0;
  const char* end = v.data() + v.size();
  auto r1 = std::from_chars(v.data(), end, major);
  bool ok = r1.ec == std::errc() && r1.ptr != end && *r1.ptr == '.';
  if (ok) {
    auto r2 = std::from_chars(r1.ptr + 1, end, minor);
    ok = r2.ec == std::errc() && r2.ptr == end && r2.ptr != r1.ptr + 1;
  }
  if (!ok) return base::Status::OutOfRange("X-Broker-API-Version \"" + v.substr(0, 32) + "\" is malformed; " + range);
  if (major != 2 || minor < kMinMinorVersion) {
    return base::Status::OutOfRange("X-Broker-API-Version " + v + " is not supported; " + range);
  }
  return base::Status::Ok();
}

base::Result<OriginatingIdentity> DecodeOriginatingIdentity(std::string_view header) {
  static constexpr char kName[] = "X-Broker-API-Originating-Identity";
  const auto space = header.find(' ');
  if (space == std::string_view::npos || space == 0) {
    return base::Status::InvalidArgument(std::string(kName) + " must be \"<platform> <base64 of a JSON object>\"");
  }
  OriginatingIdentity out;
  out.platform = std::string(header.substr(0, space));
  // The platform is a word ("cloudfoundry", "kubernetes"): printable ASCII, so it can be logged and stored.
  if (out.platform.size() > 64 ||
      !std::all_of(out.platform.begin(), out.platform.end(), [](char c) { return c > ' ' && c <= '~'; })) {
    return base::Status::InvalidArgument(std::string(kName) + ": the platform must be a word of printable ASCII");
  }
  const auto json = base::Base64Decode(header.substr(space + 1));
  if (!json.has_value()) {
    return base::Status::InvalidArgument(std::string(kName) + ": the value after the platform is not base64");
  }
  // Iterative and depth-capped: a header of 150k '[' is a refusal, not a stack overflow.
  BROKER_ASSIGN_OR_RETURN(rapidjson::Document doc, base::ParseJson(*json, kName));
  if (!doc.IsObject()) return base::Status::InvalidArgument(std::string(kName) + " must hold a JSON object");
  const auto it = doc.FindMember("user_id");
  // Cloud Foundry sends {"user_id": ...}; other platforms have their own shapes, kept whole.
  if (it != doc.MemberEnd() && it->value.IsString()) {
    out.user_id.assign(it->value.GetString(), it->value.GetStringLength());
  } else {
    out.user_id = *json;
  }
  return out;
}

base::Result<std::string> OriginatingActor(std::string_view header) {
  BROKER_ASSIGN_OR_RETURN(OriginatingIdentity id, DecodeOriginatingIdentity(header));
  return id.platform + ":" + id.user_id;
}

base::Status PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  auto decoded = base::PercentDecode(in, plus_is_space);
  if (!decoded.has_value()) return base::Status::InvalidArgument("malformed percent-encoding in the URL");
  if (decoded->find('\0') != std::string::npos) {
    return base::Status::InvalidArgument("the URL holds a NUL character (%00) in a path segment or query value");
  }
  if (!base::IsJsonSafeUtf8(*decoded)) {
    return base::Status::InvalidArgument("the URL holds bytes that are not UTF-8 in a path segment or query value");
  }
  *out = std::move(*decoded);
  return base::Status::Ok();
}

}  // namespace broker::http
