// Result<T>: a value of type T, or the non-OK Status that explains why there is none.
//
// Constructing a Result from an OK Status is a programming error (it aborts in debug builds and
// becomes kInternal otherwise). Thread-compatible, like the T it holds.
#ifndef BROKER_BASE_RESULT_H_
#define BROKER_BASE_RESULT_H_

#include <cassert>
#include <utility>
#include <variant>

#include "broker/base/status.h"

namespace broker::base {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design, like absl::StatusOr
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
    if (std::get<Status>(v_).ok()) v_ = Status::Internal("Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The error; OK when the Result holds a value.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  // Requires ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace broker::base

#define BROKER_CONCAT_INNER_(a, b) a##b
#define BROKER_CONCAT_(a, b) BROKER_CONCAT_INNER_(a, b)
#define BROKER_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
// BROKER_ASSIGN_OR_RETURN(auto x, MaybeX()); returns the Status from the enclosing function on error.
#define BROKER_ASSIGN_OR_RETURN(lhs, expr) \
  BROKER_ASSIGN_OR_RETURN_IMPL_(BROKER_CONCAT_(broker_result_, __LINE__), lhs, expr)

#endif  // BROKER_BASE_RESULT_H_
