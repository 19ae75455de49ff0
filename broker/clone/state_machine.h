// The clone and teardown state machines: which step runs after which, and what a step's outcome
// does to its job (DESIGN.md §4-§5). Pure and table-tested; the worker applies the decisions.
//
// A step ends in one of four ways:
//   kDone      its work is finished (outputs checkpointed): go to the next step, or finish the job;
//   kWait      it is waiting on the platform (a droplet copying, a job polling, an instance
//              starting): run the same step again after a short delay; no attempt is used up;
//   kError     it failed with a Status; the Status code alone decides (abseil's retry rule):
//              kUnavailable / kDeadlineExceeded / kAborted -> retry the step with backoff while
//              attempts remain and the run of errors is within the retry budget (then the
//              binding fails naming the step, the failure class and how long it lasted),
//              anything else -> fail the binding;
//   kFail      it decided the binding cannot succeed (user-safe description given): fail now.
// Every decision also respects the job's deadline: past it, the job fails whatever the outcome,
// so nothing stays "in progress" forever.
#ifndef BROKER_CLONE_STATE_MACHINE_H_
#define BROKER_CLONE_STATE_MACHINE_H_

#include <chrono>
#include <optional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/status.h"
#include "broker/osb/types.h"

namespace broker::clone {

// Step names as stored in jobs.step (stable: a newer broker must understand an older one's jobs).
namespace step {
inline constexpr char kResolveSource[] = "resolve_source";
inline constexpr char kCreateClone[] = "create_clone";
inline constexpr char kCopyDroplet[] = "copy_droplet";
inline constexpr char kAwaitDroplet[] = "await_droplet";
inline constexpr char kSetDroplet[] = "set_droplet";
inline constexpr char kConfigureProcess[] = "configure_process";
inline constexpr char kBindServices[] = "bind_services";
inline constexpr char kAwaitBindings[] = "await_bindings";
inline constexpr char kStart[] = "start";
inline constexpr char kAwaitSession[] = "await_session";
inline constexpr char kFindClone[] = "find_clone";
inline constexpr char kStopClone[] = "stop_clone";
inline constexpr char kUnbindServices[] = "unbind_services";
inline constexpr char kDeleteClone[] = "delete_clone";
inline constexpr char kAwaitDelete[] = "await_delete";
}  // namespace step

// The steps of a job kind, in order.
const std::vector<std::string_view>& Steps(osb::JobKind kind);

struct StepOutcome {
  enum class Kind { kDone, kWait, kError, kFail };
  Kind kind = Kind::kDone;
  base::Status status;                   // kError: why
  std::string description;               // kFail: user-safe text for last_operation
  std::chrono::milliseconds wait{1000};  // kWait: when to look again

  static StepOutcome Done() { return {}; }
  static StepOutcome Wait(std::chrono::milliseconds after) { return {Kind::kWait, {}, {}, after}; }
  static StepOutcome Error(base::Status s) { return {Kind::kError, std::move(s), {}, {}}; }
  static StepOutcome Fail(std::string description) { return {Kind::kFail, {}, std::move(description), {}}; }
};

// Where the job stands when a step ends.
struct JobPosition {
  osb::JobKind kind = osb::JobKind::kClone;
  std::string step;
  int attempt = 1;        // attempts used so far, this one included
  int max_attempts = 10;
  base::TimePoint deadline_at{};
  // The run of retryable errors this step is in: when its first one came (nullopt: this is the
  // first) and how many came before this one. A run ends at the first outcome that is no error.
  std::optional<base::TimePoint> failing_since;
  int failures_before = 0;
  // How long a run may last before the step gives up (CLONE_STEP_RETRY_BUDGET_SECONDS): a
  // platform that keeps failing fails the bind saying so, well before the job's deadline.
  std::chrono::seconds retry_budget{300};
};

struct Decision {
  enum class Kind {
    kAdvance,   // checkpoint and run next_step now
    kComplete,  // the job is finished: the binding succeeded (clone) or is gone (teardown)
    kRunAgain,  // same step again at run_at (a wait: the attempt is not counted)
    kRetry,     // same step again at run_at, counting an attempt
    kFail,      // the job failed: the binding gets `description`
  };
  Kind kind = Kind::kFail;
  std::string next_step;
  base::TimePoint run_at{};
  std::string description;  // user-safe
};

// Backoff before retry number `attempt` (1-based): 2, 4, 8, ... seconds, capped at 60 s.
std::chrono::milliseconds Backoff(int attempt);

// The user-safe description of a job that ran past its deadline.
std::string DeadlineDescription(osb::JobKind kind);

// What a step does, in words a developer reads ("copying the app's droplet"); "" for an
// unknown step.
std::string_view StepActivity(std::string_view step);

// The user-safe description of a step that kept failing with retryable errors for `lasted`, in
// `attempts` attempts, the last one `last`: "Cloud Foundry kept failing while copying the app's
// droplet: HTTP 503 for 2m10s (12 attempts); ...". Only a failure class the Cloud Controller
// adapter names (cloud_controller.h: "HTTP 503", "timeout", ...) is quoted, never a message.
std::string OutageDescription(std::string_view step, const base::Status& last, std::chrono::milliseconds lasted,
                              int attempts);

// The pure transition function. `now` is the time the step ended.
Decision Next(const JobPosition& position, const StepOutcome& outcome, base::TimePoint now);

}  // namespace broker::clone

#endif  // BROKER_CLONE_STATE_MACHINE_H_
