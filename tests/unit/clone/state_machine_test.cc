#include "broker/clone/state_machine.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace broker::clone {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using K = Decision::Kind;

const base::TimePoint kNow = base::TimePoint(seconds(1'800'000'000));

JobPosition At(osb::JobKind kind, std::string step, int attempt = 1, int max_attempts = 10,
               base::TimePoint deadline = kNow + std::chrono::hours(1)) {
  JobPosition p;
  p.kind = kind;
  p.step = std::move(step);
  p.attempt = attempt;
  p.max_attempts = max_attempts;
  p.deadline_at = deadline;
  return p;
}

TEST_SUITE("clone::StateMachine") {
  TEST_CASE("the clone job walks the bind sequence of cloud-controller.md §2.2 in order") {
    const std::vector<std::string> expected = {"resolve_source", "create_clone",  "copy_droplet", "await_droplet",
                                               "set_droplet",    "configure_process", "bind_services",
                                               "await_bindings", "start",         "await_session"};
    const auto& steps = Steps(osb::JobKind::kClone);
    REQUIRE(steps.size() == expected.size());
    for (std::size_t i = 0; i < steps.size(); ++i) CHECK(steps[i] == expected[i]);
    const std::vector<std::string> teardown = {"find_clone", "stop_clone", "unbind_services", "delete_clone",
                                               "await_delete"};
    const auto& t = Steps(osb::JobKind::kTeardown);
    REQUIRE(t.size() == teardown.size());
    for (std::size_t i = 0; i < t.size(); ++i) CHECK(t[i] == teardown[i]);
  }

  TEST_CASE("Done advances to the next step, and completes after the last one") {
    for (const auto kind : {osb::JobKind::kClone, osb::JobKind::kTeardown}) {
      const auto& steps = Steps(kind);
      for (std::size_t i = 0; i < steps.size(); ++i) {
        CAPTURE(steps[i]);
        const Decision d = Next(At(kind, std::string(steps[i])), StepOutcome::Done(), kNow);
        if (i + 1 < steps.size()) {
          CHECK(d.kind == K::kAdvance);
          CHECK(d.next_step == steps[i + 1]);
        } else {
          CHECK(d.kind == K::kComplete);
        }
      }
    }
  }

  TEST_CASE("decision table") {
    struct Row {
      const char* name;
      JobPosition position;
      StepOutcome outcome;
      base::TimePoint now;
      K kind;
      std::string next_step;
      milliseconds run_after;
    };
    const auto late = kNow + std::chrono::hours(2);
    const std::vector<Row> rows = {
        {"wait runs the same step again after the wait, attempt not counted", At(osb::JobKind::kClone, "await_droplet"),
         StepOutcome::Wait(milliseconds(1500)), kNow, K::kRunAgain, "await_droplet", milliseconds(1500)},
        {"unavailable is retried with backoff 2 s on attempt 1", At(osb::JobKind::kClone, "start", 1),
         StepOutcome::Error(base::Status::Unavailable("503")), kNow, K::kRetry, "start", milliseconds(2000)},
        {"deadline exceeded is retried, backoff 8 s on attempt 3", At(osb::JobKind::kClone, "start", 3),
         StepOutcome::Error(base::Status(base::Code::kDeadlineExceeded, "timeout")), kNow, K::kRetry, "start",
         milliseconds(8000)},
        {"aborted is retried", At(osb::JobKind::kTeardown, "stop_clone", 2),
         StepOutcome::Error(base::Status(base::Code::kAborted, "race")), kNow, K::kRetry, "stop_clone",
         milliseconds(4000)},
        {"a retryable error on the last attempt fails", At(osb::JobKind::kClone, "start", 10, 10),
         StepOutcome::Error(base::Status::Unavailable("503")), kNow, K::kFail, "", milliseconds(0)},
        {"not found is not retried", At(osb::JobKind::kClone, "resolve_source", 1),
         StepOutcome::Error(base::Status::NotFound("app")), kNow, K::kFail, "", milliseconds(0)},
        {"failed precondition is not retried", At(osb::JobKind::kClone, "start", 1),
         StepOutcome::Error(base::Status(base::Code::kFailedPrecondition, "quota")), kNow, K::kFail, "",
         milliseconds(0)},
        {"permission denied is not retried", At(osb::JobKind::kClone, "create_clone", 1),
         StepOutcome::Error(base::Status(base::Code::kPermissionDenied, "flag")), kNow, K::kFail, "", milliseconds(0)},
        {"Fail fails at once", At(osb::JobKind::kClone, "await_session"), StepOutcome::Fail("crashed"), kNow, K::kFail,
         "", milliseconds(0)},
        {"a wait that would end past the deadline fails",
         At(osb::JobKind::kClone, "await_session", 1, 10, kNow + seconds(1)), StepOutcome::Wait(seconds(2)), kNow,
         K::kFail, "", milliseconds(0)},
        {"a retry whose backoff ends past the deadline fails", At(osb::JobKind::kClone, "start", 1, 10, kNow + seconds(1)),
         StepOutcome::Error(base::Status::Unavailable("503")), kNow, K::kFail, "", milliseconds(0)},
        {"advancing past the deadline fails", At(osb::JobKind::kClone, "start"), StepOutcome::Done(), late, K::kFail, "",
         milliseconds(0)},
        {"completing past the deadline still completes", At(osb::JobKind::kClone, "await_session"),
         StepOutcome::Done(), late, K::kComplete, "", milliseconds(0)},
        {"an unknown step fails", At(osb::JobKind::kClone, "no_such_step"), StepOutcome::Done(), kNow, K::kFail, "",
         milliseconds(0)},
        {"a teardown step name in a clone job is unknown", At(osb::JobKind::kClone, "stop_clone"), StepOutcome::Done(),
         kNow, K::kFail, "", milliseconds(0)},
    };
    for (const auto& r : rows) {
      CAPTURE(r.name);
      const Decision d = Next(r.position, r.outcome, r.now);
      CHECK(d.kind == r.kind);
      if (r.kind == K::kRunAgain || r.kind == K::kRetry) {
        CHECK(d.next_step == r.next_step);
        CHECK(d.run_at == r.now + r.run_after);
      }
      if (r.kind == K::kFail) CHECK_FALSE(d.description.empty());
    }
  }

  TEST_CASE("fail descriptions are user-safe: the given text, or a fixed sentence, never the Status message") {
    const Decision fail = Next(At(osb::JobKind::kClone, "start"), StepOutcome::Fail("quota exceeded"), kNow);
    CHECK(fail.description == "quota exceeded");
    const Decision err = Next(At(osb::JobKind::kClone, "start"),
                              StepOutcome::Error(base::Status::NotFound("CF-secret-detail raw CC text")), kNow);
    CHECK(err.description.find("raw CC text") == std::string::npos);
    const Decision late = Next(At(osb::JobKind::kClone, "start", 1, 10, kNow), StepOutcome::Wait(seconds(1)), kNow);
    CHECK(late.description == DeadlineDescription(osb::JobKind::kClone));
    CHECK(DeadlineDescription(osb::JobKind::kClone) != DeadlineDescription(osb::JobKind::kTeardown));
  }

  TEST_CASE("Backoff doubles from 2 s and is capped at 60 s") {
    CHECK(Backoff(1) == milliseconds(2000));
    CHECK(Backoff(2) == milliseconds(4000));
    CHECK(Backoff(5) == milliseconds(32000));
    CHECK(Backoff(6) == milliseconds(60000));
    CHECK(Backoff(50) == milliseconds(60000));
    CHECK(Backoff(0) == milliseconds(2000));
  }

  TEST_CASE("a step that keeps failing gives up within the retry budget, naming the step, the class and the time") {
    JobPosition p = At(osb::JobKind::kClone, "copy_droplet", 3);
    p.retry_budget = seconds(60);
    p.failures_before = 2;
    const StepOutcome e503 =
        StepOutcome::Error(base::Status(base::Code::kUnavailable, "CF-ServiceUnavailable: x", "HTTP 503"));
    // 50 s into the run, a backoff of 8 s still fits the budget: retried.
    p.failing_since = kNow - seconds(50);
    CHECK(Next(p, e503, kNow).kind == K::kRetry);
    // 130 s in, an 8 s backoff would end past a 135 s budget: the bind fails now, long before the
    // job's deadline (an hour away).
    p.failing_since = kNow - seconds(130);
    p.retry_budget = seconds(135);
    const Decision d = Next(p, e503, kNow);
    REQUIRE(d.kind == K::kFail);
    CHECK(d.description ==
          "Cloud Foundry kept failing while copying the app's droplet: HTTP 503 for 2m10s (3 attempts); try again "
          "later, or ask your operator to check Cloud Foundry (the broker log has its answers)");
    // The first error of a run starts it: a budget shorter than one backoff gives up at once.
    JobPosition first = At(osb::JobKind::kTeardown, "delete_clone", 1);
    first.retry_budget = seconds(1);
    const Decision once =
        Next(first, StepOutcome::Error(base::Status(base::Code::kDeadlineExceeded, "t", "timeout")), kNow);
    REQUIRE(once.kind == K::kFail);
    CHECK(once.description.find("while deleting the clone: timeout for 0s (1 attempt)") != std::string::npos);
  }

  TEST_CASE("an outage description quotes only a failure class the adapter names, never a message or a title") {
    const auto describe = [](base::Status s) { return OutageDescription("start", s, seconds(75), 4); };
    CHECK(describe(base::Status(base::Code::kUnavailable, "reset by peer", "connection reset")) ==
          "Cloud Foundry kept failing while starting the clone: connection reset for 1m15s (4 attempts); try again "
          "later, or ask your operator to check Cloud Foundry (the broker log has its answers)");
    CHECK(describe(base::Status(base::Code::kUnavailable, "x", "UAA HTTP 502")).find(": UAA HTTP 502 for") !=
          std::string::npos);
    // Anything else is the broker's own trouble (a database outage), named by its code only.
    const std::string other = describe(base::Status(base::Code::kUnavailable, "secret detail", "CF-Secret reason"));
    CHECK(other.rfind("the broker kept failing while starting the clone: unavailable for 1m15s", 0) == 0);
    CHECK(other.find("secret") == std::string::npos);
    CHECK(other.find("CF-Secret") == std::string::npos);
    CHECK(OutageDescription("start", base::Status(base::Code::kUnavailable, "", "HTTP 5031"), seconds(3700), 2)
              .find(": unavailable for 1h01m (2 attempts)") != std::string::npos);
  }

  TEST_CASE("every step of both jobs says what it does in words") {
    for (const auto kind : {osb::JobKind::kClone, osb::JobKind::kTeardown}) {
      for (const std::string_view step : Steps(kind)) {
        CAPTURE(step);
        CHECK_FALSE(StepActivity(step).empty());
      }
    }
    CHECK(StepActivity("no_such_step").empty());
  }
}

}  // namespace
}  // namespace broker::clone
