// The OSB prelude every /v2 route runs before its handler (osb-spec.md §1, §10): basic auth
// with a constant-time compare (checked before the body is parsed), the X-Broker-API-Version
// check, and the decoding of the identity headers. Pure functions; thread-safe.
#ifndef BROKER_HTTP_PRELUDE_H_
#define BROKER_HTTP_PRELUDE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/result.h"
#include "broker/base/status.h"

namespace broker::http {

// One accepted user/password pair (several make rotation possible, as in brokerapi).
struct BasicCredential {
  std::string username;
  std::string password;
};

// The user and password of an `Authorization: Basic base64(user:password)` header (scheme
// case-insensitive; the password is everything after the first colon). nullopt when the header
// is absent, of another scheme, not base64, or has no colon. The result holds secrets: never log it.
std::optional<BasicCredential> DecodeBasicAuth(const std::optional<std::string>& authorization_header);

// The token of an `Authorization: Bearer <token>` header (RFC 6750: scheme case-insensitive, one
// space, token of the b64token characters [A-Za-z0-9-._~+/]+ and trailing '='). nullopt when the
// header is absent, of another scheme or malformed. The result is a secret: never log it.
std::optional<std::string> DecodeBearerToken(const std::optional<std::string>& authorization_header);

// An accepted pair as CheckBasicAuth compares it: the SHA-256 hex digests of user and password,
// computed once (DigestCredentials) rather than on every request.
struct CredentialDigest {
  std::string username;
  std::string password;
};
std::vector<CredentialDigest> DigestCredentials(const std::vector<BasicCredential>& accepted);

// kUnauthenticated unless `authorization_header` is "Basic base64(user:password)" for one of
// `accepted`. The comparison takes the same time whatever the input (digests compared with
// CRYPTO_memcmp-like constant-time equality, every credential checked).
base::Status CheckBasicAuth(const std::optional<std::string>& authorization_header,
                            const std::vector<CredentialDigest>& accepted);

// The range we serve: 2.14 to any 2.x.
inline constexpr int kMinMinorVersion = 14;
// kOutOfRange (-> 412) when the header is missing, empty, malformed, of another major version or
// below 2.14; the message names the supported range.
base::Status CheckApiVersion(const std::optional<std::string>& version_header);

// X-Broker-API-Originating-Identity: "<platform> <base64(JSON object)>". Returns the platform and the
// user_id (for Cloud Foundry) or the decoded JSON text. kInvalidArgument naming the header when it
// has no platform, is not base64, or is not a JSON object as base::ParseJson accepts it (depth,
// UTF-8, NUL, ... ; the message names the field and offset).
struct OriginatingIdentity {
  std::string platform;
  std::string user_id;
};
base::Result<OriginatingIdentity> DecodeOriginatingIdentity(std::string_view header);

// "<platform>:<user_id>" of DecodeOriginatingIdentity, the actor recorded with events; its errors.
base::Result<std::string> OriginatingActor(std::string_view header);

// RFC 3986 percent-decoding ("%2F" -> "/") of a path segment or query value. '+' is left alone in
// paths and decoded to ' ' in query values when `plus_is_space`. kInvalidArgument for a malformed
// escape ("%G1", "%4"), and for a result that holds NUL ("%00": libpq would cut the id there) or is
// not UTF-8 (PostgreSQL would refuse it): ids are text.
base::Status PercentDecode(std::string_view in, bool plus_is_space, std::string* out);

}  // namespace broker::http

#endif  // BROKER_HTTP_PRELUDE_H_
