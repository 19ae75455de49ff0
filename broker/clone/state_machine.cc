#include "broker/clone/state_machine.h"

#include <algorithm>

namespace broker::clone {
namespace {

using base::Code;

bool Retryable(Code code) {
  return code == Code::kUnavailable || code == Code::kDeadlineExceeded || code == Code::kAborted;
}

}  // namespace

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
    case StepOutcome::Kind::kError:
      if (Retryable(outcome.status.code()) && position.attempt < position.max_attempts) {
        const auto at = now + Backoff(position.attempt);
        if (at >= position.deadline_at) break;
        d.kind = Decision::Kind::kRetry;
        d.next_step = position.step;
        d.run_at = at;
        return d;
      }
      d.kind = Decision::Kind::kFail;
      d.description = Retryable(outcome.status.code())
                          ? "Cloud Foundry kept failing at step " + position.step + "; try again later"
                          : "the broker could not complete step " + position.step + " (" +
                                std::string(base::CodeName(outcome.status.code())) + ")";
      return d;
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
