// Tests for broker/http/error_mapping.h: every code on every endpoint, and the body shapes.
#include "broker/http/error_mapping.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

namespace broker::http {
namespace {

using base::Code;
using base::Status;

constexpr Code kErrorCodes[] = {
    Code::kInvalidArgument, Code::kNotFound,         Code::kAlreadyExists,    Code::kFailedPrecondition,
    Code::kAborted,         Code::kOutOfRange,       Code::kUnavailable,      Code::kDeadlineExceeded,
    Code::kUnauthenticated, Code::kPermissionDenied, Code::kResourceExhausted, Code::kInternal,
};

constexpr Endpoint kEndpoints[] = {
    Endpoint::kCatalog,
    Endpoint::kProvision,
    Endpoint::kUpdate,
    Endpoint::kDeprovision,
    Endpoint::kGetInstance,
    Endpoint::kInstanceLastOperation,
    Endpoint::kInstanceLastOperationOfDeprovision,
    Endpoint::kBind,
    Endpoint::kGetBinding,
    Endpoint::kBindingLastOperation,
    Endpoint::kBindingLastOperationOfBind,
    Endpoint::kUnbind,
    Endpoint::kHealth,
    Endpoint::kOther,
};

// Not OSB routes: same statuses, but every error body names the error.
constexpr Endpoint kSessionEndpoints[] = {Endpoint::kSessionReport, Endpoint::kSessionRead};

const char* EndpointName(Endpoint e) {
  switch (e) {
    case Endpoint::kCatalog: return "kCatalog";
    case Endpoint::kProvision: return "kProvision";
    case Endpoint::kUpdate: return "kUpdate";
    case Endpoint::kDeprovision: return "kDeprovision";
    case Endpoint::kGetInstance: return "kGetInstance";
    case Endpoint::kInstanceLastOperation: return "kInstanceLastOperation";
    case Endpoint::kInstanceLastOperationOfDeprovision: return "kInstanceLastOperationOfDeprovision";
    case Endpoint::kBind: return "kBind";
    case Endpoint::kGetBinding: return "kGetBinding";
    case Endpoint::kBindingLastOperation: return "kBindingLastOperation";
    case Endpoint::kBindingLastOperationOfBind: return "kBindingLastOperationOfBind";
    case Endpoint::kUnbind: return "kUnbind";
    case Endpoint::kSessionReport: return "kSessionReport";
    case Endpoint::kSessionRead: return "kSessionRead";
    case Endpoint::kHealth: return "kHealth";
    case Endpoint::kOther: return "kOther";
  }
  return "?";
}

// The status the header documents for `code` on `endpoint`.
int ExpectedStatus(Code code, Endpoint endpoint) {
  switch (code) {
    case Code::kInvalidArgument: return 400;
    case Code::kUnauthenticated: return 401;
    case Code::kPermissionDenied: return 403;
    case Code::kNotFound:
      if (endpoint == Endpoint::kDeprovision || endpoint == Endpoint::kUnbind ||
          endpoint == Endpoint::kBindingLastOperation ||
          endpoint == Endpoint::kInstanceLastOperationOfDeprovision) {
        return 410;
      }
      return 404;
    case Code::kAlreadyExists: return 409;
    case Code::kOutOfRange: return 412;
    case Code::kResourceExhausted: return 413;
    case Code::kFailedPrecondition: return 422;
    case Code::kUnavailable:
    case Code::kDeadlineExceeded: return 503;
    default: return 500;
  }
}

rapidjson::Document ParseBody(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  return doc;
}

constexpr const char* kSecretMessage = "pq: password authentication failed for user broker at 10.0.0.5:5432";

TEST_SUITE("http::ErrorMapping") {
  TEST_CASE("every code on every endpoint maps to the documented status and a well-formed body") {
    for (Code code : kErrorCodes) {
      for (Endpoint endpoint : kEndpoints) {
        for (const std::string reason : {"", "ConcurrencyError"}) {
          CAPTURE(base::CodeName(code));
          INFO("endpoint ", EndpointName(endpoint));
          CAPTURE(reason);
          const Status status(code, kSecretMessage, reason);
          const HttpError err = MapError(status, endpoint);
          const int want = ExpectedStatus(code, endpoint);
          CHECK(err.status == want);
          // RFC 9110 15.5.2: a 401 names the scheme to use.
          CHECK(err.www_authenticate ==
                (want == 401 ? R"(Basic realm="ssh-access broker", charset="UTF-8")" : std::string()));

          const rapidjson::Document body = ParseBody(err.body);
          REQUIRE_MESSAGE(!body.HasParseError(), err.body);
          REQUIRE(body.IsObject());

          if (want == 410 && (endpoint == Endpoint::kDeprovision || endpoint == Endpoint::kUnbind)) {
            CHECK(err.body == "{}");
            continue;
          }
          // Every other error body has a non-empty string description.
          REQUIRE(body.HasMember("description"));
          REQUIRE(body["description"].IsString());
          CHECK(body["description"].GetStringLength() > 0);
          if (body.HasMember("error")) {
            REQUIRE(body["error"].IsString());
            CHECK(body["error"].GetStringLength() > 0);  // OSB: present means non-empty
          }

          if (want >= 500) {
            // Internal detail stays in the log.
            CHECK(err.body.find("password") == std::string::npos);
            CHECK(err.body.find("10.0.0.5") == std::string::npos);
            CHECK_FALSE(body.HasMember("error"));
          } else {
            CHECK(std::string(body["description"].GetString()) == kSecretMessage);
          }
          if (want == 422 && !reason.empty()) {
            REQUIRE(body.HasMember("error"));
            CHECK(std::string(body["error"].GetString()) == reason);
          } else if (want != 422) {
            CHECK_FALSE(body.HasMember("error"));
          }
          if (want == 422 && reason.empty()) CHECK_FALSE(body.HasMember("error"));
        }
      }
    }
  }

  TEST_CASE("the four OSB error keys travel as error on 422") {
    for (const std::string key : {"AsyncRequired", "ConcurrencyError", "RequiresApp", "MaintenanceInfoConflict"}) {
      CAPTURE(key);
      const HttpError err = MapError(Status::FailedPrecondition("user-facing text", key), Endpoint::kBind);
      CHECK(err.status == 422);
      const rapidjson::Document body = ParseBody(err.body);
      REQUIRE_FALSE(body.HasParseError());
      CHECK(std::string(body["error"].GetString()) == key);
      CHECK(std::string(body["description"].GetString()) == "user-facing text");
    }
  }

  TEST_CASE("a missing resource is 410 {} on DELETE and 404 on GET") {
    const Status gone = Status::NotFound("binding b1 does not exist");
    CHECK(MapError(gone, Endpoint::kUnbind).status == 410);
    CHECK(MapError(gone, Endpoint::kUnbind).body == "{}");
    CHECK(MapError(gone, Endpoint::kDeprovision).status == 410);
    CHECK(MapError(gone, Endpoint::kDeprovision).body == "{}");
    CHECK(MapError(gone, Endpoint::kGetBinding).status == 404);
    CHECK(MapError(gone, Endpoint::kGetInstance).status == 404);
    SUBCASE("when polling a create, a missing resource is 404, never 410") {
      CHECK(MapError(gone, Endpoint::kBindingLastOperationOfBind).status == 404);
      CHECK(MapError(gone, Endpoint::kInstanceLastOperation).status == 404);
    }
    SUBCASE("when polling a delete, a missing resource is 410") {
      CHECK(MapError(gone, Endpoint::kBindingLastOperation).status == 410);
      CHECK(MapError(gone, Endpoint::kInstanceLastOperationOfDeprovision).status == 410);
    }
  }

  TEST_CASE("an error whose message is empty still gets a non-empty description") {
    // OSB §1: description is optional, but when present it must not be empty.
    for (Code code : kErrorCodes) {
      for (Endpoint endpoint : {Endpoint::kProvision, Endpoint::kBind, Endpoint::kGetBinding}) {
        CAPTURE(base::CodeName(code));
        INFO("endpoint ", EndpointName(endpoint));
        const HttpError err = MapError(Status(code, ""), endpoint);
        const rapidjson::Document body = ParseBody(err.body);
        REQUIRE_FALSE(body.HasParseError());
        REQUIRE(body.HasMember("description"));
        CHECK(body["description"].GetStringLength() > 0);
      }
    }
  }

  TEST_CASE("every code on the session endpoints maps to the OSB status with a named error") {
    struct Want {
      int status;
      const char* error;
    };
    auto expected = [](Code code) -> Want {
      switch (code) {
        case Code::kInvalidArgument: return {400, "invalid_argument"};
        case Code::kUnauthenticated: return {401, "unauthenticated"};
        case Code::kPermissionDenied: return {403, "permission_denied"};
        case Code::kNotFound: return {404, "not_found"};  // no session reported yet: never 410
        case Code::kAlreadyExists: return {409, "already_exists"};
        case Code::kOutOfRange: return {412, "out_of_range"};
        case Code::kResourceExhausted: return {413, "resource_exhausted"};
        case Code::kFailedPrecondition: return {422, "failed_precondition"};
        case Code::kUnavailable:
        case Code::kDeadlineExceeded: return {503, "unavailable"};
        default: return {500, "internal"};
      }
    };
    for (Endpoint endpoint : kSessionEndpoints) {
      for (Code code : kErrorCodes) {
        for (const std::string reason : {"", "ConcurrencyError"}) {
          CAPTURE(base::CodeName(code));
          INFO("endpoint ", EndpointName(endpoint));
          CAPTURE(reason);
          const HttpError err = MapError(Status(code, kSecretMessage, reason), endpoint);
          const Want want = expected(code);
          CHECK(err.status == want.status);
          CHECK(err.status == ExpectedStatus(code, Endpoint::kGetBinding));  // the same status as OSB GETs

          const rapidjson::Document body = ParseBody(err.body);
          REQUIRE_MESSAGE(!body.HasParseError(), err.body);
          REQUIRE(body.IsObject());
          CHECK(body.MemberCount() == 2);
          REQUIRE(body.HasMember("error"));
          REQUIRE(body["error"].IsString());
          CHECK(std::string(body["error"].GetString()) == want.error);
          REQUIRE(body.HasMember("description"));
          REQUIRE(body["description"].IsString());
          CHECK(body["description"].GetStringLength() > 0);
          if (want.status >= 500) {
            CHECK(err.body.find("password") == std::string::npos);
            CHECK(err.body.find("10.0.0.5") == std::string::npos);
          } else {
            CHECK(std::string(body["description"].GetString()) == kSecretMessage);
          }

          if (want.status == 401) {
            if (endpoint == Endpoint::kSessionReport) {
              CHECK(err.www_authenticate == R"(Bearer realm="ssh-access session")");
            } else {
              CHECK(err.www_authenticate == R"(Basic realm="ssh-access session", charset="UTF-8")");
            }
          } else {
            CHECK(err.www_authenticate.empty());
          }
        }
      }
    }
  }

  TEST_CASE("the session endpoints give an empty message a non-empty description") {
    for (Endpoint endpoint : kSessionEndpoints) {
      for (Code code : kErrorCodes) {
        CAPTURE(base::CodeName(code));
        INFO("endpoint ", EndpointName(endpoint));
        const rapidjson::Document body = ParseBody(MapError(Status(code, ""), endpoint).body);
        REQUIRE_FALSE(body.HasParseError());
        REQUIRE(body.HasMember("description"));
        CHECK(body["description"].GetStringLength() > 0);
      }
    }
  }

  TEST_CASE("ErrorBody writes description, adds error only when set, and escapes both") {
    struct Row {
      std::string error, description;
    };
    const std::vector<Row> rows = {
        {"", "plain"},
        {"AsyncRequired", "needs accepts_incomplete=true"},
        {"", "quote \" backslash \\ newline \n tab \t control \x01"},
        {"Weird\"Key", "caf\xc3\xa9 </script>"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.description);
      const std::string body = ErrorBody(row.error, row.description);
      const rapidjson::Document doc = ParseBody(body);
      REQUIRE_MESSAGE(!doc.HasParseError(), body);
      REQUIRE(doc.IsObject());
      CHECK(std::string(doc["description"].GetString(), doc["description"].GetStringLength()) == row.description);
      if (row.error.empty()) {
        CHECK_FALSE(doc.HasMember("error"));
        CHECK(doc.MemberCount() == 1);
      } else {
        CHECK(std::string(doc["error"].GetString()) == row.error);
        CHECK(doc.MemberCount() == 2);
      }
    }
  }
}

}  // namespace
}  // namespace broker::http
