// Tests for broker/cf/http_client.h's pure parts: Retry-After parsing, the libcurl result ->
// Status table, and case-insensitive headers. (The transport itself is exercised against the
// fake Cloud Controller in tests/integration/cf_cc_client_test.cc.)
#include "broker/cf/http_client.h"

#include <curl/curl.h>
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "broker/base/clock.h"

namespace broker::cf {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_SUITE("cf::HttpClient") {
  TEST_CASE("ParseRetryAfter reads delta-seconds and IMF-fixdates") {
    // 2015-10-21T07:28:00Z
    const base::TimePoint now = *base::ParseIso8601("2015-10-21T07:28:00Z");
    struct Row {
      std::string value;
      std::optional<milliseconds> want;
    };
    const std::vector<Row> rows = {
        {"0", milliseconds(0)},
        {"1", seconds(1)},
        {" 120 ", seconds(120)},
        {"Wed, 21 Oct 2015 07:28:05 GMT", seconds(5)},
        {"Wed, 21 Oct 2015 07:28:00 GMT", milliseconds(0)},
        {"Wed, 21 Oct 2015 07:27:00 GMT", milliseconds(0)},  // in the past: go now
        {"", std::nullopt},
        {"-1", std::nullopt},
        {"1.5", std::nullopt},
        {"soon", std::nullopt},
        {"Wed, 21 Oct 2015 07:28:05", std::nullopt},  // no GMT
    };
    for (const Row& row : rows) {
      CAPTURE(row.value);
      CHECK(ParseRetryAfter(row.value, now) == row.want);
    }
    // An absurd number is "very long", not an overflow.
    const auto huge = ParseRetryAfter("99999999999999", now);
    REQUIRE(huge.has_value());
    CHECK(*huge > std::chrono::hours(24));
  }

  TEST_CASE("TransportStatus maps libcurl failures onto the port's retry rule") {
    struct Row {
      int curl_code;
      base::Code want;
      std::string reason;  // retryable ones: the class a bind's description names
    };
    const std::vector<Row> rows = {
        {CURLE_OK, base::Code::kOk, ""},
        {CURLE_OPERATION_TIMEDOUT, base::Code::kDeadlineExceeded, "timeout"},
        {CURLE_COULDNT_CONNECT, base::Code::kUnavailable, "connection refused"},
        {CURLE_COULDNT_RESOLVE_HOST, base::Code::kUnavailable, "host not found"},
        {CURLE_RECV_ERROR, base::Code::kUnavailable, "connection reset"},  // connection reset by peer
        {CURLE_SEND_ERROR, base::Code::kUnavailable, "connection reset"},
        {CURLE_GOT_NOTHING, base::Code::kUnavailable, "connection reset"},
        {CURLE_SSL_CONNECT_ERROR, base::Code::kUnavailable, "TLS handshake failure"},
        {CURLE_PEER_FAILED_VERIFICATION, base::Code::kFailedPrecondition, "TlsVerificationFailed"},
        {CURLE_SSL_CACERT_BADFILE, base::Code::kFailedPrecondition, "TlsVerificationFailed"},
        {CURLE_URL_MALFORMAT, base::Code::kInvalidArgument, ""},
        {CURLE_UNSUPPORTED_PROTOCOL, base::Code::kInvalidArgument, ""},
        {CURLE_OUT_OF_MEMORY, base::Code::kInternal, ""},
    };
    for (const Row& row : rows) {
      CAPTURE(row.curl_code);
      const base::Status s = TransportStatus(row.curl_code, "detail text");
      CHECK(s.code() == row.want);
      CHECK(s.reason() == row.reason);
      if (!s.ok()) CHECK(s.message() == "http: detail text");
    }
    CHECK(TransportStatus(CURLE_PEER_FAILED_VERIFICATION, "").reason() == "TlsVerificationFailed");
    CHECK_FALSE(TransportStatus(CURLE_COULDNT_CONNECT, "").message().empty());  // curl's own text
  }

  TEST_CASE("HttpHeaders are looked up case-insensitively and keep repeats in order") {
    HttpHeaders h;
    h.Add("Location", "https://api.example.com/v3/jobs/j1");
    h.Add("X-Cf-Warnings", "a");
    h.Add("x-cf-warnings", "b");
    CHECK(h.Get("location") == "https://api.example.com/v3/jobs/j1");
    CHECK(h.Get("LOCATION") == "https://api.example.com/v3/jobs/j1");
    CHECK(h.Get("X-CF-WARNINGS") == "a");
    CHECK(h.GetAll("X-Cf-Warnings") == std::vector<std::string>{"a", "b"});
    CHECK_FALSE(h.Get("Retry-After").has_value());
    CHECK(h.GetAll("Retry-After").empty());
    h.Clear();
    CHECK(h.entries().empty());
  }

  TEST_CASE("Send refuses a URL that is not absolute http(s) without touching the network") {
    HttpClient client(HttpClientOptions{});
    for (const char* url : {"", "/v3/apps", "ftp://example.com/", "file:///etc/passwd"}) {
      CAPTURE(url);
      HttpRequest req;
      req.url = url;
      const auto r = client.Send(req);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == base::Code::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace broker::cf
