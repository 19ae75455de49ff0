// Status: the outcome of an operation that can fail in an expected way.
//
// Codes are abseil's subset, chosen by abseil's retry rule: kUnavailable / kDeadlineExceeded
// mean "retry the same call", kAborted means "retry at a higher level" (e.g. a transaction
// that lost a race), everything else means "do not retry until something changes".
// `reason` carries the OSB error key (AsyncRequired, ConcurrencyError, RequiresApp,
// MaintenanceInfoConflict) where one applies; `message` is user-safe text (it becomes the OSB
// `description`). Raw third-party error text belongs in logs, not in a Status that reaches users.
//
// Status is a small value type; copying it copies two strings. Thread-compatible.
#ifndef BROKER_BASE_STATUS_H_
#define BROKER_BASE_STATUS_H_

#include <string>
#include <string_view>
#include <utility>

namespace broker::base {

enum class Code {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kAborted,
  kOutOfRange,
  kUnavailable,
  kDeadlineExceeded,
  kUnauthenticated,
  kPermissionDenied,
  kResourceExhausted,
  kInternal,
};

// Returns the code's name, e.g. "kNotFound" -> "not_found". Never null.
std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message, std::string reason = {})
      : code_(code), message_(std::move(message)), reason_(std::move(reason)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg, std::string reason = {}) {
    return {Code::kFailedPrecondition, std::move(msg), std::move(reason)};
  }
  static Status Aborted(std::string msg) { return {Code::kAborted, std::move(msg)}; }
  static Status OutOfRange(std::string msg) { return {Code::kOutOfRange, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) { return {Code::kDeadlineExceeded, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) { return {Code::kUnauthenticated, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) { return {Code::kPermissionDenied, std::move(msg)}; }
  static Status ResourceExhausted(std::string msg) { return {Code::kResourceExhausted, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& reason() const { return reason_; }

  // Returns a copy whose message is prefixed with `context` ("store: insert instance: ...").
  Status WithContext(std::string_view context) const;

  // "not_found: binding b1 does not exist" (reason appended in brackets when set).
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string reason_;
};

}  // namespace broker::base

#define BROKER_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::broker::base::Status broker_status_ = (expr);  \
    if (!broker_status_.ok()) return broker_status_; \
  } while (0)

#endif  // BROKER_BASE_STATUS_H_
