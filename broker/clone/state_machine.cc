#include "broker/clone/state_machine.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace broker::clone {
namespace {

using base::Code;

bool Retryable(Code code) {
  return code == Code::kUnavailable || code == Code::kDeadlineExceeded || code == Code::kAborted;
}

// "45s", "2m10s", "1h05m".
std::string Duration(std::chrono::milliseconds d) {
  const long long total = std::max<long long>(0, std::chrono::duration_cast<std::chrono::seconds>(d).count());
  char buf[32];
  if (total < 60) {
    std::snprintf(buf, sizeof buf, "%llds", total);
  } else if (total < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", total / 60, total % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", total / 3600, (total % 3600) / 60);
  }
  return buf;
}

// The failure class of a retryable error, when the Cloud Controller adapter named one.
std::string FailureClass(const base::Status& s) {
  static const char* const kNamed[] = {"timeout",          "connection refused",    "connection reset",
                                       "host not found",   "TLS handshake failure", "malformed answer",
                                       "transport failure"};
  const std::string& r = s.reason();
  for (const char* named : kNamed) {
    if (r == named) return r;
  }
  for (std::string_view prefix : {"HTTP ", "UAA HTTP "}) {
    if (r.size() == prefix.size() + 3 && r.compare(0, prefix.size(), prefix) == 0 &&
        std::all_of(r.begin() + static_cast<std::ptrdiff_t>(prefix.size()), r.end(),
                    [](char c) { return c >= '0' && c <= '9'; })) {
      return r;
    }
  }
  return {};
}

}  // namespace

std::string_view StepActivity(std::string_view step) {
  static const std::pair<std::string_view, std::string_view> kWords[] = {
      {step::kResolveSource, "reading the app to clone"},
      {step::kCreateClone, "creating the clone app"},
      {step::kCopyDroplet, "copying the app's droplet"},
      {step::kAwaitDroplet, "waiting for the droplet copy"},
      {step::kSetDroplet, "setting the clone's droplet"},
      {step::kConfigureProcess, "configuring the clone's process"},
      {step::kBindServices, "binding the app's services to the clone"},
      {step::kAwaitBindings, "waiting for the clone's service bindings"},
      {step::kStart, "starting the clone"},
      {step::kAwaitSession, "waiting for the clone's session"},
      {step::kFindClone, "looking for the clone"},
      {step::kStopClone, "stopping the clone"},
      {step::kUnbindServices, "unbinding the clone's services"},
      {step::kDeleteClone, "deleting the clone"},
      {step::kAwaitDelete, "waiting for the clone's deletion"},
  };
  for (const auto& [name, words] : kWords) {
    if (name == step) return words;
  }
  return {};
}

std::string OutageDescription(std::string_view step, const base::Status& last, std::chrono::milliseconds lasted,
                              int attempts) {
  const std::string cls = FailureClass(last);
  const std::string_view activity = StepActivity(step);
  std::string d = cls.empty() ? "the broker kept failing while " : "Cloud Foundry kept failing while ";
  d += activity.empty() ? "running step " + std::string(step) : std::string(activity);
  d += ": ";
  d += cls.empty() ? std::string(base::CodeName(last.code())) : cls;
  d += " for " + Duration(lasted) + " (" + std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts") + ")";
  d += cls.empty() ? "; try again later, or ask your operator to check the broker's log"
                   : "; try again later, or ask your operator to check Cloud Foundry (the broker log has its answers)";
  return d;
}

std::string DeadlineDescription(osb::JobKind kind) {
  return kind == osb::JobKind::kClone
             ? "the clone did not become ready in time; unbind and bind again, or ask the operator to check the "
               "broker's log"
             : "the clone could not be deleted in time; unbind again to retry";
}

const std::vector<std::string_view>& Steps(osb::JobKind kind) {
  static const std::vector<std::string_view> kClone = {
      step::kResolveSource, step::kCreateClone,  step::kCopyDroplet,   step::kAwaitDroplet, step::kSetDroplet,
      step::kConfigureProcess, step::kBindServices, step::kAwaitBindings, step::kStart,       step::kAwaitSession};
  static const std::vector<std::string_view> kTeardown = {step::kFindClone, step::kStopClone, step::kUnbindServices,
                                                          step::kDeleteClone, step::kAwaitDelete};
  return kind == osb::JobKind::kClone ? kClone : kTeardown;
}

std::chrono::milliseconds Backoff(int attempt) {
  const int exponent = std::clamp(attempt, 1, 6);
  return std::min(std::chrono::milliseconds(1000 << exponent), std::chrono::milliseconds(60000));
}

Decision Next(const JobPosition& position, const StepOutcome& outcome, base::TimePoint now) {
  Decision d;
  const auto& steps = Steps(position.kind);
  const auto it = std::find(steps.begin(), steps.end(), position.step);
  if (it == steps.end()) {
    d.kind = Decision::Kind::kFail;
    d.description = "internal error: unknown step " + position.step;
    return d;
  }
  switch (outcome.kind) {
    case StepOutcome::Kind::kDone:
      // Finishing the work is never refused for being late.
      if (std::next(it) == steps.end()) {
        d.kind = Decision::Kind::kComplete;
      } else {
        d.kind = Decision::Kind::kAdvance;
        d.next_step = std::string(*std::next(it));
      }
      if (d.kind == Decision::Kind::kAdvance && now >= position.deadline_at) break;
      return d;
    case StepOutcome::Kind::kWait:
      if (now + outcome.wait >= position.deadline_at) break;
      d.kind = Decision::Kind::kRunAgain;
      d.next_step = position.step;
      d.run_at = now + outcome.wait;
      return d;
    case StepOutcome::Kind::kError: {
      d.kind = Decision::Kind::kFail;
      if (!Retryable(outcome.status.code())) {
        d.description = "the broker could not complete step " + position.step + " (" +
                        std::string(base::CodeName(outcome.status.code())) + ")";
        return d;
      }
      // Retried while attempts remain, the run of errors stays within the budget and the retry
      // comes before the deadline; otherwise the binding learns what kept failing.
      const base::TimePoint since = position.failing_since.value_or(now);
      const auto at = now + Backoff(position.attempt);
      if (position.attempt < position.max_attempts && at - since < position.retry_budget && at < position.deadline_at) {
        d.kind = Decision::Kind::kRetry;
        d.next_step = position.step;
        d.run_at = at;
        return d;
      }
      d.description = OutageDescription(position.step, outcome.status,
                                        std::chrono::duration_cast<std::chrono::milliseconds>(now - since),
                                        position.failures_before + 1);
      return d;
    }
    case StepOutcome::Kind::kFail:
      d.kind = Decision::Kind::kFail;
      d.description = outcome.description;
      return d;
  }
  d.kind = Decision::Kind::kFail;
  d.description = DeadlineDescription(position.kind);
  return d;
}

}  // namespace broker::clone
