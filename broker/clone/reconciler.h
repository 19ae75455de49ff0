// Reconciler: the clone engine's janitor (DESIGN.md §1 item 5; cloud-controller.md §5 "Orphans"
// and TTL, §6.3 scenario 10). Every `interval` one pass:
//
//  1. TTL. Each live binding whose expires_at has passed (JobStore::ListExpiredBindings) gets a
//     teardown job (kind teardown, first step find_clone) and a "binding.expired" event, in one
//     transaction that re-checks the binding under its row lock (JobStore::ExpireBinding), so any
//     number of brokers enqueue one teardown per expiry. The job is not the binding's operation:
//     the worker deletes the clone and leaves the binding row as it is (succeeded; its
//     credentials simply lead nowhere any more) until the platform unbinds.
//  2. Orphans. Every app labelled `<prefix>/managed-by=ssh-access` (FindAppsByLabel, every page)
//     whose `<prefix>/binding-guid` names a binding the broker does not have, or a tombstone, is
//     deleted at once through the Cloud Controller: stop, delete its service bindings (404 and an
//     operation in progress are tolerated: the app delete takes them along or fails and the next
//     pass tries again; managed unbind jobs are followed for a bounded while), delete the app
//     (404 = already gone) and follow its delete job for the rest of that while. A clone younger than `orphan_grace` (its `<prefix>/created-at`
//     annotation; without one it counts as old) is left alone, so a clone being created right
//     now is never touched. Apps without a binding-guid label are left alone too: the broker
//     cannot tell whose they are. Clones of live bindings (in progress, succeeded or failed) are
//     the worker's and the platform's business, never the reconciler's.
//
// Every action is logged on the `reconciler` logger (`reconciler.<event>`, ids only). A failing
// Cloud Controller call or store write is logged and the pass goes on with the next item; the
// item is looked at again by the next pass.
//
// Any number of broker processes may run a reconciler on one database and one foundation: the
// TTL half is fenced by the binding's row lock; the orphan half's Cloud Controller calls are
// idempotent (a second deleter sees 404s).
//
// Thread-safe: Start()/Stop() from one controlling thread; RunOnce() may be called from a test
// while no loop runs.
#ifndef BROKER_CLONE_RECONCILER_H_
#define BROKER_CLONE_RECONCILER_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/result.h"
#include "broker/clone/cloud_controller.h"
#include "broker/clone/job_store.h"
#include "broker/clone/steps.h"

namespace broker::clone {

struct ReconcilerOptions {
  std::chrono::milliseconds interval{300'000};  // RECONCILE_INTERVAL_MS; 0 = Start() runs nothing
  std::chrono::seconds orphan_grace{600};       // CLONE_ORPHAN_GRACE_SECONDS
  int expired_batch = 100;                      // bindings expired per pass at most
  int teardown_max_attempts = 10;               // of an expiry's teardown job
  std::chrono::minutes teardown_deadline{30};   // from the pass that enqueues it
  // How long one orphan's Cloud Controller jobs (managed unbinds, then the app delete) are
  // followed, in all; an unbind still running then does not hold the app delete back.
  std::chrono::milliseconds orphan_job_wait{30'000};
};

// What one pass did.
struct ReconcileReport {
  int expired = 0;           // teardown jobs enqueued for bindings past expires_at
  int orphans_found = 0;     // labelled apps whose binding is unknown or a tombstone (young ones included)
  int orphans_deleted = 0;   // of those, deleted now (delete job complete or still running, or app already gone)
  int orphans_young = 0;     // of those, left alone: younger than orphan_grace
  int errors = 0;            // items skipped after a failure (logged), looked at again next pass
};

class Reconciler {
 public:
  // Every reference must outlive the reconciler.
  Reconciler(JobStore& store, CloudController& cc, const EngineSettings& settings, const base::Clock& clock,
             ReconcilerOptions options);
  ~Reconciler();  // Stop()s
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // Starts the thread: a pass at once, then one every interval (no-op when interval is 0 or it
  // runs already).
  void Start();
  // Wakes the thread and joins it; a pass in progress ends after the item it is on (an orphan's
  // unbind wait is cut short). Idempotent.
  void Stop();

  // One pass on the calling thread. The report counts what was done; items that failed are
  // counted in `errors`. Both halves always run; the Status is that of the first listing that
  // failed (the expired bindings from the store, or the labelled apps from the Cloud
  // Controller), when one did.
  base::Result<ReconcileReport> RunOnce();

 private:
  void Loop();
  void ExpireBindings(ReconcileReport& report, base::Status& first_failure);
  void DeleteOrphans(ReconcileReport& report, base::Status& first_failure);
  // Stops and deletes one orphan; false (logged) when a call failed.
  bool DeleteOrphan(const App& app, const std::string& binding_id);
  // Polls the Cloud Controller jobs every poll_interval until each is COMPLETE or FAILED, `until`
  // passes or Stop() is called. Leaves in `jobs` those still running; sets `any_failed` when one
  // ended FAILED (logged). A GetJob error other than 404 is returned.
  base::Status FollowJobs(std::vector<std::string>& jobs, std::chrono::steady_clock::time_point until,
                          const std::string& app_guid, const std::string& binding_id, bool& any_failed);
  // Sleeps up to `d`; false when Stop() was called.
  bool SleepFor(std::chrono::milliseconds d);

  JobStore& store_;
  CloudController& cc_;
  const EngineSettings& settings_;
  const base::Clock& clock_;
  const ReconcilerOptions options_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace broker::clone

#endif  // BROKER_CLONE_RECONCILER_H_
