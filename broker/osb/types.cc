#include "broker/osb/types.h"

#include <charconv>

namespace broker::osb {

std::string_view OperationStateName(OperationState s) {
  switch (s) {
    case OperationState::kInProgress: return "in progress";
    case OperationState::kSucceeded: return "succeeded";
    case OperationState::kFailed: return "failed";
  }
  return "failed";
}

std::optional<OperationState> ParseOperationState(std::string_view s) {
  if (s == "in progress") return OperationState::kInProgress;
  if (s == "succeeded") return OperationState::kSucceeded;
  if (s == "failed") return OperationState::kFailed;
  return std::nullopt;
}

std::string_view InstanceStateName(InstanceState s) {
  switch (s) {
    case InstanceState::kActive: return "active";
    case InstanceState::kDeprovisioning: return "deprovisioning";
    case InstanceState::kDeleted: return "deleted";
  }
  return "deleted";
}

std::optional<InstanceState> ParseInstanceState(std::string_view s) {
  if (s == "active") return InstanceState::kActive;
  if (s == "deprovisioning") return InstanceState::kDeprovisioning;
  if (s == "deleted") return InstanceState::kDeleted;
  return std::nullopt;
}

std::string_view BindingOperationName(BindingOperation op) {
  return op == BindingOperation::kBind ? "bind" : "unbind";
}

std::optional<BindingOperation> ParseBindingOperation(std::string_view s) {
  if (s == "bind") return BindingOperation::kBind;
  if (s == "unbind") return BindingOperation::kUnbind;
  return std::nullopt;
}

std::string_view JobKindName(JobKind k) { return k == JobKind::kClone ? "clone" : "teardown"; }

std::optional<JobKind> ParseJobKind(std::string_view s) {
  if (s == "clone") return JobKind::kClone;
  if (s == "teardown") return JobKind::kTeardown;
  return std::nullopt;
}

std::string OperationToken(std::string_view verb, std::int64_t id) {
  return std::string(verb) + "-" + std::to_string(id);
}

std::optional<ParsedOperation> ParseOperationToken(std::string_view token) {
  const auto dash = token.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == token.size()) return std::nullopt;
  ParsedOperation out;
  out.verb = std::string(token.substr(0, dash));
  const auto digits = token.substr(dash + 1);
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out.id);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || out.id <= 0) return std::nullopt;
  return out;
}

}  // namespace broker::osb
