// Tests for broker/base/result.h: Result<T> holding a value or a Status, and
// BROKER_ASSIGN_OR_RETURN.
#include "broker/base/result.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>

namespace broker::base {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument(std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  BROKER_ASSIGN_OR_RETURN(int half, Half(x));
  BROKER_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status HalfInto(int x, int* out) {
  BROKER_ASSIGN_OR_RETURN(*out, Half(x));
  return Status::Ok();
}

Result<std::unique_ptr<std::string>> MakeBox(bool ok) {
  if (!ok) return Status::NotFound("no box");
  return std::make_unique<std::string>("box");
}

Result<std::string> Unbox(bool ok) {
  BROKER_ASSIGN_OR_RETURN(auto box, MakeBox(ok));
  return *box;
}

TEST_SUITE("base::Result") {
  TEST_CASE("a Result built from a value is ok and holds the value") {
    Result<std::string> r(std::string("hello"));
    REQUIRE(r.ok());
    CHECK(r.status().ok());
    CHECK(r.value() == "hello");
    CHECK(*r == "hello");
    CHECK(r->size() == 5);
    r.value() += "!";
    CHECK(*r == "hello!");
    const Result<std::string>& cr = r;
    CHECK(cr.value() == "hello!");
    CHECK(cr->size() == 6);
  }

  TEST_CASE("a Result built from an error status is not ok and keeps the status") {
    const Result<int> r = Status::FailedPrecondition("busy", "ConcurrencyError");
    CHECK_FALSE(r.ok());
    CHECK(r.status().code() == Code::kFailedPrecondition);
    CHECK(r.status().message() == "busy");
    CHECK(r.status().reason() == "ConcurrencyError");
  }

  TEST_CASE("a move-only value can be moved out of an rvalue Result") {
    Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
    REQUIRE(r.ok());
    std::unique_ptr<int> p = std::move(r).value();
    REQUIRE(p != nullptr);
    CHECK(*p == 7);
  }

#ifdef NDEBUG
  // In debug builds this is an assertion failure by contract; in release builds it becomes kInternal.
  TEST_CASE("a Result built from an OK status becomes kInternal in release builds") {
    const Result<int> r = Status::Ok();
    CHECK_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInternal);
  }
#endif

  TEST_CASE("BROKER_ASSIGN_OR_RETURN assigns on success and returns the error otherwise") {
    SUBCASE("when every call succeeds") {
      const Result<int> r = Quarter(8);
      REQUIRE(r.ok());
      CHECK(*r == 2);
    }
    SUBCASE("when the first call fails") {
      const Result<int> r = Quarter(3);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == Code::kInvalidArgument);
      CHECK(r.status().message() == "3 is odd");
    }
    SUBCASE("when the second call fails") {
      const Result<int> r = Quarter(6);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().message() == "3 is odd");
    }
    SUBCASE("when the target is an existing lvalue in a Status-returning function") {
      int out = -1;
      CHECK(HalfInto(10, &out).ok());
      CHECK(out == 5);
      const Status s = HalfInto(7, &out);
      CHECK(s.code() == Code::kInvalidArgument);
      CHECK(out == 5);  // untouched on error
    }
    SUBCASE("when the value is move-only") {
      const Result<std::string> ok = Unbox(true);
      REQUIRE(ok.ok());
      CHECK(*ok == "box");
      const Result<std::string> bad = Unbox(false);
      CHECK(bad.status().code() == Code::kNotFound);
    }
  }

  TEST_CASE("BROKER_ASSIGN_OR_RETURN evaluates its expression exactly once") {
    int calls = 0;
    auto counted = [&calls]() -> Result<int> {
      ++calls;
      return 4;
    };
    auto use = [&]() -> Result<int> {
      BROKER_ASSIGN_OR_RETURN(int v, counted());
      return v + 1;
    };
    const Result<int> r = use();
    REQUIRE(r.ok());
    CHECK(*r == 5);
    CHECK(calls == 1);
  }
}

}  // namespace
}  // namespace broker::base
