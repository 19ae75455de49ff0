// Constructors for the OSB errors whose `error` key the spec fixes (osb-spec.md §1), in the
// spirit of brokerapi's apiresponses/errors.go. The key travels in Status::reason(); the one
// Status -> HTTP mapping (broker/http/error_mapping.h) turns these into 422 bodies.
#ifndef BROKER_OSB_ERRORS_H_
#define BROKER_OSB_ERRORS_H_

#include <string>

#include "broker/base/status.h"

namespace broker::osb {

inline constexpr char kAsyncRequired[] = "AsyncRequired";
inline constexpr char kConcurrencyError[] = "ConcurrencyError";
inline constexpr char kRequiresApp[] = "RequiresApp";
inline constexpr char kMaintenanceInfoConflict[] = "MaintenanceInfoConflict";

inline base::Status AsyncRequired(std::string msg) {
  return base::Status::FailedPrecondition(std::move(msg), kAsyncRequired);
}
inline base::Status ConcurrencyError(std::string msg) {
  return base::Status::FailedPrecondition(std::move(msg), kConcurrencyError);
}
inline base::Status RequiresApp(std::string msg) {
  return base::Status::FailedPrecondition(std::move(msg), kRequiresApp);
}
inline base::Status MaintenanceInfoConflict(std::string msg) {
  return base::Status::FailedPrecondition(std::move(msg), kMaintenanceInfoConflict);
}

}  // namespace broker::osb

#endif  // BROKER_OSB_ERRORS_H_
