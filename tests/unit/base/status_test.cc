// Tests for broker/base/status.h: codes and their names, WithContext, ToString and
// BROKER_RETURN_IF_ERROR.
#include "broker/base/status.h"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace broker::base {
namespace {

constexpr Code kAllCodes[] = {
    Code::kOk,           Code::kInvalidArgument,    Code::kNotFound,        Code::kAlreadyExists,
    Code::kFailedPrecondition, Code::kAborted,      Code::kOutOfRange,      Code::kUnavailable,
    Code::kDeadlineExceeded,   Code::kUnauthenticated, Code::kPermissionDenied, Code::kResourceExhausted,
    Code::kInternal,
};

TEST_SUITE("base::Status") {
  TEST_CASE("a default-constructed status is OK with no message or reason") {
    const Status s;
    CHECK(s.ok());
    CHECK(s.code() == Code::kOk);
    CHECK(s.message().empty());
    CHECK(s.reason().empty());
    CHECK(Status::Ok().ok());
  }

  TEST_CASE("each factory sets its code and keeps the message") {
    struct Row {
      Status status;
      Code code;
    };
    const std::vector<Row> rows = {
        {Status::InvalidArgument("m"), Code::kInvalidArgument},
        {Status::NotFound("m"), Code::kNotFound},
        {Status::AlreadyExists("m"), Code::kAlreadyExists},
        {Status::FailedPrecondition("m"), Code::kFailedPrecondition},
        {Status::Aborted("m"), Code::kAborted},
        {Status::OutOfRange("m"), Code::kOutOfRange},
        {Status::Unavailable("m"), Code::kUnavailable},
        {Status::DeadlineExceeded("m"), Code::kDeadlineExceeded},
        {Status::Unauthenticated("m"), Code::kUnauthenticated},
        {Status::PermissionDenied("m"), Code::kPermissionDenied},
        {Status::ResourceExhausted("m"), Code::kResourceExhausted},
        {Status::Internal("m"), Code::kInternal},
    };
    for (const Row& row : rows) {
      INFO("code ", CodeName(row.code));
      CHECK_FALSE(row.status.ok());
      CHECK(row.status.code() == row.code);
      CHECK(row.status.message() == "m");
      CHECK(row.status.reason().empty());
    }
  }

  TEST_CASE("FailedPrecondition carries the OSB error key as its reason") {
    const Status s = Status::FailedPrecondition("needs accepts_incomplete", "AsyncRequired");
    CHECK(s.code() == Code::kFailedPrecondition);
    CHECK(s.message() == "needs accepts_incomplete");
    CHECK(s.reason() == "AsyncRequired");
  }

  TEST_CASE("every code has a distinct, non-empty snake_case name") {
    std::set<std::string_view> names;
    for (Code c : kAllCodes) {
      const std::string_view name = CodeName(c);
      INFO("code #", static_cast<int>(c), " = ", std::string(name));
      CHECK_FALSE(name.empty());
      for (char ch : name) CHECK(((ch >= 'a' && ch <= 'z') || ch == '_'));
      CHECK(names.insert(name).second);
    }
    CHECK(CodeName(Code::kOk) == "ok");
    CHECK(CodeName(Code::kNotFound) == "not_found");
    CHECK(CodeName(Code::kInvalidArgument) == "invalid_argument");
    CHECK(CodeName(Code::kFailedPrecondition) == "failed_precondition");
    CHECK(CodeName(Code::kDeadlineExceeded) == "deadline_exceeded");
  }

  TEST_CASE("CodeName never returns an empty name, even for a value outside the enum") {
    CHECK_FALSE(CodeName(static_cast<Code>(999)).empty());
  }

  TEST_CASE("WithContext prefixes the message and keeps code and reason") {
    const Status base = Status::FailedPrecondition("instance is busy", "ConcurrencyError");
    const Status s = base.WithContext("store: insert instance");
    CHECK(s.code() == Code::kFailedPrecondition);
    CHECK(s.message() == "store: insert instance: instance is busy");
    CHECK(s.reason() == "ConcurrencyError");
    SUBCASE("when contexts are chained, the outermost comes first") {
      CHECK(s.WithContext("bind").message() == "bind: store: insert instance: instance is busy");
    }
    SUBCASE("when applied, the original is left unchanged") {
      CHECK(base.message() == "instance is busy");
    }
  }

  TEST_CASE("WithContext on an OK status stays OK") {
    CHECK(Status::Ok().WithContext("anything").ok());
  }

  TEST_CASE("ToString renders the code name, the message and the bracketed reason") {
    struct Row {
      Status status;
      std::string want;
    };
    const std::vector<Row> rows = {
        {Status::NotFound("binding b1 does not exist"), "not_found: binding b1 does not exist"},
        {Status::FailedPrecondition("accepts_incomplete=true is required", "AsyncRequired"),
         "failed_precondition: accepts_incomplete=true is required [AsyncRequired]"},
        {Status::Internal("boom"), "internal: boom"},
        {Status(), "ok"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.want);
      CHECK(row.status.ToString() == row.want);
    }
  }

  TEST_CASE("BROKER_RETURN_IF_ERROR returns the first error and evaluates its argument once") {
    int calls = 0;
    auto step = [&calls](Status s) {
      ++calls;
      return s;
    };
    auto run = [&](Status first, Status second) -> Status {
      BROKER_RETURN_IF_ERROR(step(first));
      BROKER_RETURN_IF_ERROR(step(second));
      return Status::Ok();
    };
    SUBCASE("when every step is OK") {
      CHECK(run(Status::Ok(), Status::Ok()).ok());
      CHECK(calls == 2);
    }
    SUBCASE("when the first step fails") {
      const Status s = run(Status::NotFound("first"), Status::Internal("second"));
      CHECK(s.code() == Code::kNotFound);
      CHECK(s.message() == "first");
      CHECK(calls == 1);
    }
    SUBCASE("when the second step fails") {
      const Status s = run(Status::Ok(), Status::FailedPrecondition("second", "RequiresApp"));
      CHECK(s.code() == Code::kFailedPrecondition);
      CHECK(s.reason() == "RequiresApp");
      CHECK(calls == 2);
    }
  }
}

}  // namespace
}  // namespace broker::base
