#include "broker/clone/cc_memo.h"

#include <vector>

namespace broker::clone {

base::Result<std::set<std::string>> CcMemo::OwnPlans(CloudController& cc, const std::string& broker_name,
                                                     const std::set<std::string>& plan_guids, base::TimePoint now) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (plans_known_ && (broker_name != broker_name_ || now - plans_since_ >= ttl_ ||
                         ours_.size() + foreign_.size() > kMaxEntries)) {
      plans_known_ = false;
      ours_.clear();
      foreign_.clear();
    }
    if (plans_known_) {
      std::set<std::string> own;
      bool all_known = true;
      for (const auto& g : plan_guids) {
        if (ours_.count(g) > 0) {
          own.insert(g);
        } else if (foreign_.count(g) == 0) {
          all_known = false;
          break;
        }
      }
      if (all_known) return own;
    }
  }

  // Listed after the caller saw plan_guids: a guid of ours among them is in the listing.
  auto listed = cc.ListBrokerPlanGuids(broker_name);
  if (!listed.ok() && listed.status().code() != base::Code::kNotFound) return listed.status();
  std::set<std::string> ours;
  if (listed.ok()) ours.insert(listed->begin(), listed->end());

  std::set<std::string> own;
  std::lock_guard<std::mutex> lock(mu_);
  if (!plans_known_ || broker_name != broker_name_) {
    broker_name_ = broker_name;
    plans_since_ = now;
    plans_known_ = true;
    ours_.clear();
    foreign_.clear();
  }
  ours_.insert(ours.begin(), ours.end());
  for (const auto& g : plan_guids) {
    if (ours.count(g) > 0) {
      own.insert(g);
    } else {
      foreign_.insert(g);
    }
  }
  return own;
}

bool CcMemo::NameTaken(const std::string& space_guid, const std::string& name, base::TimePoint now) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = taken_.find({space_guid, name});
  if (it == taken_.end()) return false;
  if (now - it->second < ttl_) return true;
  taken_.erase(it);
  return false;
}

void CcMemo::RememberTaken(const std::string& space_guid, const std::string& name, base::TimePoint now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (taken_.size() >= kMaxEntries) {
    for (auto it = taken_.begin(); it != taken_.end();) it = now - it->second >= ttl_ ? taken_.erase(it) : std::next(it);
    if (taken_.size() >= kMaxEntries) taken_.clear();
  }
  taken_[{space_guid, name}] = now;
}

}  // namespace broker::clone
