// CcMemo: what the clone engine of one broker process remembers between binds about Cloud
// Controller facts that change rarely, so that a bind does not ask again:
//   - which service plans belong to this broker's offering (to exclude our own instances when a
//     clone's bindings are copied). A plan never moves to another offering, so a plan guid known
//     to be ours or foreign stays so; a plan guid not known yet (a plan added to our offering
//     since, or one never seen) makes the next lookup list the broker's plans again. Everything
//     is forgotten after the ttl.
//   - clone names found taken in a space (`<app>-ssh` of a much-cloned app), tried last for the
//     ttl: a name that became free meanwhile is still tried, only after the other.
//
// Thread-safe; the Cloud Controller is called without holding the lock.
#ifndef BROKER_CLONE_CC_MEMO_H_
#define BROKER_CLONE_CC_MEMO_H_

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "broker/base/clock.h"
#include "broker/base/result.h"
#include "broker/clone/cloud_controller.h"

namespace broker::clone {

class CcMemo {
 public:
  explicit CcMemo(std::chrono::milliseconds ttl = std::chrono::minutes(10)) : ttl_(ttl) {}

  // Of `plan_guids` (the plans of the service instances an app is bound to, as listed BEFORE this
  // call), those of this broker's offering `broker_name`. Lists the broker's plans
  // (ListBrokerPlanGuids; kNotFound counts as none) unless every guid is known: one of ours, or
  // one absent from a listing that started after a caller had seen it. Other failures of the
  // listing are returned.
  base::Result<std::set<std::string>> OwnPlans(CloudController& cc, const std::string& broker_name,
                                               const std::set<std::string>& plan_guids, base::TimePoint now);

  // Whether `name` was seen taken in the space within the ttl.
  bool NameTaken(const std::string& space_guid, const std::string& name, base::TimePoint now);
  void RememberTaken(const std::string& space_guid, const std::string& name, base::TimePoint now);

 private:
  static constexpr std::size_t kMaxEntries = 10'000;  // beyond: forget everything (bounded memory)

  const std::chrono::milliseconds ttl_;
  std::mutex mu_;
  // Guarded by mu_.
  std::string broker_name_;
  base::TimePoint plans_since_{};  // when the plan knowledge was first listed
  bool plans_known_ = false;
  std::set<std::string> ours_;
  std::set<std::string> foreign_;
  std::map<std::pair<std::string, std::string>, base::TimePoint> taken_;  // (space, name) -> seen at
};

}  // namespace broker::clone

#endif  // BROKER_CLONE_CC_MEMO_H_
