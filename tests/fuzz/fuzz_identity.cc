// Fuzz harness: the OSB identity headers and the other request headers broker/http/prelude.h
// decodes (X-Broker-API-Originating-Identity, X-Broker-API-Version, Authorization, the path's
// percent-encoding), and base::LogQuote, which every header value written to a log goes through.
//
// Each input is used twice for the originating identity: as the JSON a platform base64-encodes
// into "cloudfoundry <base64>" (so the fuzzer mutates JSON, not base64), and as the raw header.
// The other decoders get it as the raw header value. Findings, besides sanitizer reports:
//   - a decoded identity whose platform is not the header's first word, or whose user_id holds
//     NUL or invalid UTF-8 (it goes into the access log as the request's actor);
//   - a Basic credential, a bearer token or a percent-decoded path that does not round-trip;
//   - CheckBasicAuth accepting anything but the configured pair;
//   - CheckApiVersion accepting anything but 2.N with N >= 14;
//   - a LogQuote'd value that could start a new log line or end its field early.
#include <rapidjson/document.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/encoding.h"
#include "broker/base/log.h"
#include "broker/base/result.h"
#include "broker/http/prelude.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using broker::fuzz::CleanId;
using broker::fuzz::Require;

// DecodeOriginatingIdentity's answer was a value (it returns an optional or a base::Result).
template <typename T>
bool Decoded(const std::optional<T>& v) {
  return v.has_value();
}
template <typename T>
bool Decoded(const broker::base::Result<T>& v) {
  return v.ok();
}

// True for "MAJOR.MINOR" in decimal digits (leading zeros allowed) naming 2.14 or a later 2.x.
bool SupportedVersion(std::string_view v) {
  const auto dot = v.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == v.size()) return false;
  auto value = [](std::string_view digits) -> long {
    long n = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return -1;
      n = std::min(n * 10 + (c - '0'), 1'000'000L);
    }
    return n;
  };
  return value(v.substr(0, dot)) == 2 && value(v.substr(dot + 1)) >= broker::http::kMinMinorVersion;
}

// `json`: the identity's JSON when the caller built the header from it, so the user_id the
// decoder returns can be compared with the one in the document (whole, never cut at a NUL).
void CheckIdentity(std::string_view header, std::optional<std::string_view> json = std::nullopt) {
  const auto id = broker::http::DecodeOriginatingIdentity(header);
  if (!Decoded(id)) return;
  Require(!id->platform.empty() && header.starts_with(id->platform + " "),
          "the decoded platform is not the header's first word", header);
  Require(CleanId(id->platform) && CleanId(id->user_id), "a decoded identity holds NUL or invalid UTF-8", header);
  if (!json) return;
  rapidjson::Document doc;
  doc.Parse(json->data(), json->size());
  if (doc.HasParseError() || !doc.IsObject()) return;
  const auto it = doc.FindMember("user_id");
  if (it == doc.MemberEnd() || !it->value.IsString()) return;
  Require(id->user_id == std::string_view(it->value.GetString(), it->value.GetStringLength()),
          "the decoded user_id is not the document's (cut short?)", *json);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  broker::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = broker::fuzz::Text(data, size);
  const std::string header(text);

  CheckIdentity("cloudfoundry " + broker::base::Base64Encode(text), text);
  CheckIdentity(text);

  if (broker::http::CheckApiVersion(header).ok()) {
    Require(SupportedVersion(text), "CheckApiVersion accepted a value that is not 2.N with N >= 14", text);
  }

  if (const auto basic = broker::http::DecodeBasicAuth(header)) {
    const auto again =
        broker::http::DecodeBasicAuth("Basic " + broker::base::Base64Encode(basic->username + ":" + basic->password));
    Require(again && again->username == basic->username && again->password == basic->password,
            "a Basic credential does not round-trip", text);
  }
  static const std::vector<broker::http::CredentialDigest> accepted =
      broker::http::DigestCredentials({{"broker", "s3cr3t:with-colon"}});
  if (broker::http::CheckBasicAuth(header, accepted).ok()) {
    const auto basic = broker::http::DecodeBasicAuth(header);
    Require(basic && basic->username == "broker" && basic->password == "s3cr3t:with-colon",
            "CheckBasicAuth accepted a credential that is not the configured one", text);
  }

  if (const auto token = broker::http::DecodeBearerToken(header)) {
    Require(!token->empty() && text.size() == 7 + token->size() && text.ends_with(*token),
            "a bearer token is not the header's rest", text);
  }

  for (const bool plus_is_space : {false, true}) {
    std::string decoded;
    if (broker::http::PercentDecode(text, plus_is_space, &decoded).ok()) {
      std::string again;
      Require(broker::http::PercentDecode(broker::base::PercentEncode(decoded), false, &again).ok() && again == decoded,
              "a percent-decoded value does not round-trip", text);
    }
  }

  // X-Broker-API-Request-Identity (and every other header value) as the access log writes it.
  const std::string quoted = broker::base::LogQuote(text);
  Require(quoted.find_first_of("\r\n") == std::string::npos, "LogQuote let a line break through", text);
  Require(quoted.size() >= 2 && quoted.front() == '"' && quoted.back() == '"', "LogQuote did not quote", text);
  for (std::size_t i = 1; i + 1 < quoted.size(); ++i) {
    if (quoted[i] == '\\') {
      ++i;  // an escape: the next byte is part of it
    } else {
      Require(quoted[i] != '"', "LogQuote let a quote end the field early", text);
    }
  }
  return 0;
}
