// Tests for broker/osb/types.h: wire names of the enums and operation tokens.
#include "broker/osb/types.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace broker::osb {
namespace {

TEST_SUITE("osb::Types") {
  TEST_CASE("OperationState names are the OSB wire words and parse back") {
    struct Row {
      OperationState state;
      std::string name;
    };
    const std::vector<Row> rows = {
        {OperationState::kInProgress, "in progress"},
        {OperationState::kSucceeded, "succeeded"},
        {OperationState::kFailed, "failed"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.name);
      CHECK(OperationStateName(row.state) == row.name);
      const auto parsed = ParseOperationState(row.name);
      REQUIRE(parsed.has_value());
      CHECK(*parsed == row.state);
    }
  }

  TEST_CASE("InstanceState names parse back") {
    for (InstanceState s : {InstanceState::kActive, InstanceState::kDeprovisioning, InstanceState::kDeleted}) {
      const std::string name(InstanceStateName(s));
      CAPTURE(name);
      CHECK_FALSE(name.empty());
      const auto parsed = ParseInstanceState(name);
      REQUIRE(parsed.has_value());
      CHECK(*parsed == s);
    }
    CHECK(InstanceStateName(InstanceState::kActive) != InstanceStateName(InstanceState::kDeleted));
    CHECK(InstanceStateName(InstanceState::kActive) != InstanceStateName(InstanceState::kDeprovisioning));
  }

  TEST_CASE("BindingOperation names are bind and unbind and parse back") {
    CHECK(BindingOperationName(BindingOperation::kBind) == "bind");
    CHECK(BindingOperationName(BindingOperation::kUnbind) == "unbind");
    for (BindingOperation op : {BindingOperation::kBind, BindingOperation::kUnbind}) {
      const auto parsed = ParseBindingOperation(BindingOperationName(op));
      REQUIRE(parsed.has_value());
      CHECK(*parsed == op);
    }
  }

  TEST_CASE("JobKind names are clone and teardown and parse back") {
    CHECK(JobKindName(JobKind::kClone) == "clone");
    CHECK(JobKindName(JobKind::kTeardown) == "teardown");
    for (JobKind k : {JobKind::kClone, JobKind::kTeardown}) {
      const auto parsed = ParseJobKind(JobKindName(k));
      REQUIRE(parsed.has_value());
      CHECK(*parsed == k);
    }
  }

  TEST_CASE("the Parse functions reject anything but the exact names") {
    for (const std::string s : {"", "In progress", "in_progress", "inprogress", " succeeded", "succeeded ",
                                "SUCCEEDED", "fail", "bind"}) {
      CAPTURE(s);
      CHECK_FALSE(ParseOperationState(s).has_value());
    }
    for (const std::string s : {"", "Active", "delete", "deleted ", "in progress"}) {
      CAPTURE(s);
      CHECK_FALSE(ParseInstanceState(s).has_value());
    }
    for (const std::string s : {"", "Bind", "binding", "un-bind", "clone"}) {
      CAPTURE(s);
      CHECK_FALSE(ParseBindingOperation(s).has_value());
    }
    for (const std::string s : {"", "Clone", "tear-down", "bind"}) {
      CAPTURE(s);
      CHECK_FALSE(ParseJobKind(s).has_value());
    }
  }

  TEST_CASE("OperationToken joins verb and id with a dash") {
    CHECK(OperationToken("bind", 42) == "bind-42");
    CHECK(OperationToken("unbind", 43) == "unbind-43");
    CHECK(OperationToken("deprovision", 7) == "deprovision-7");
  }

  TEST_CASE("ParseOperationToken inverts OperationToken") {
    struct Row {
      std::string verb;
      std::int64_t id;
    };
    const std::vector<Row> rows = {
        {"bind", 1},
        {"bind", 42},
        {"unbind", 43},
        {"deprovision", 7},
        {"clone-job", 5},  // the last dash separates the id
        {"bind", std::numeric_limits<std::int64_t>::max()},
    };
    for (const Row& row : rows) {
      const std::string token = OperationToken(row.verb, row.id);
      CAPTURE(token);
      const auto parsed = ParseOperationToken(token);
      REQUIRE(parsed.has_value());
      CHECK(parsed->verb == row.verb);
      CHECK(parsed->id == row.id);
    }
  }

  TEST_CASE("ParseOperationToken rejects malformed tokens") {
    const std::vector<std::string> bad = {
        "",
        "bind",
        "bind-",
        "-1",
        "-",
        "bind-0",
        "bind-x",
        "bind-1x",
        "bind-x1",
        "bind- 1",
        "bind-+1",
        "bind-1.0",
        "bind-0x10",
        "bind-9223372036854775808",  // one past int64 max
        "42",
    };
    for (const std::string& token : bad) {
      CAPTURE(token);
      CHECK_FALSE(ParseOperationToken(token).has_value());
    }
  }
}

}  // namespace
}  // namespace broker::osb
