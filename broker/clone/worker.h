// Worker: the clone engine's job runner (DESIGN.md §4; river / graphile-worker style).
//
// N threads per broker process each loop: claim a runnable job (JobStore::Claim, FOR UPDATE SKIP
// LOCKED under a lease), run its current step (steps.h), ask the state machine what that means
// (state_machine.h), and write the decision in one fenced transaction: advance (checkpoint the
// outputs and go on at once), run again / retry later (release the lease until run_at), complete
// or fail the job together with the binding it serves. An advance within a young claim (younger
// than half the lease) is sent without waiting (JobStore::BeginCheckpoint) and confirmed before
// the next step touches the store and before the job's next write: the database writes it while
// the next step waits for Cloud Controller. A heartbeat thread renews the lease of
// every job in progress every lease/3; a job whose lease cannot be renewed (another worker took
// it after an outage, or an unbind cancelled it) is abandoned at its next write.
//
// Outcomes written with the job:
//   clone completes   -> binding succeeded, credentials = the reported session + clone facts +
//                        session_url (its key stored hashed), expires_at set;
//   clone fails       -> binding failed with the user-safe description, and a teardown job is
//                        enqueued to remove whatever part of the clone exists;
//   teardown completes-> the binding becomes a tombstone when the teardown was its unbind;
//   teardown fails    -> the unbind fails with the description (the platform may send it again).
// A job whose binding has moved on (its operation_id is another job's) finishes without touching
// the binding.
//
// Stop() (SIGTERM): no new claims; each thread finishes the step it is running, writes its
// outcome and releases the lease (the job is claimable again at once), then exits.
//
// Any number of broker processes may run workers on one database. Thread-safe.
#ifndef BROKER_CLONE_WORKER_H_
#define BROKER_CLONE_WORKER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/base/clock.h"
#include "broker/clone/cc_memo.h"
#include "broker/clone/cloud_controller.h"
#include "broker/clone/job_store.h"
#include "broker/clone/steps.h"

namespace broker::clone {

struct WorkerOptions {
  int threads = 2;                                 // WORKER_THREADS; 0 = no worker
  std::string worker_id;                           // unique per process, e.g. "<host>:<pid>:<random>"
  std::chrono::milliseconds lease{30'000};         // a claim's lifetime without renewal
  std::chrono::milliseconds idle_poll{500};        // how long an idle thread waits before claiming again
  // CLONE_STEP_RETRY_BUDGET_SECONDS: how long a step may keep meeting retryable errors before the
  // job fails saying what kept failing (JobPosition::retry_budget).
  std::chrono::seconds step_retry_budget{300};
};

class Worker {
 public:
  // Every reference must outlive the worker.
  Worker(JobStore& store, CloudController& cc, const EngineSettings& settings, const base::Clock& clock,
         WorkerOptions options);
  ~Worker();  // Stop()s
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the threads (no-op when options.threads is 0).
  void Start();
  // Wakes idle threads so they claim at once (e.g. after a bind enqueued a job).
  void Notify();
  // As the file comment says; returns when every thread has exited. Idempotent.
  void Stop();

  // Runs at most one step of one claimable job on the calling thread; false when none was
  // runnable. For tests and tools that drive the engine step by step.
  bool RunOnce();

 private:
  void Loop(int index);
  void Heartbeat();
  // Runs the claimed job step after step until it leaves this worker.
  void Run(ClaimedJob job, const std::string& owner, bool single_step);
  // The binding (and follow-up job) side of a decision that ends the job, in the fenced
  // transaction (other decisions change nothing there).
  base::Status ApplyToBinding(osb::StoreTx& tx, const ClaimedJob& job, const Decision& d,
                              const rapidjson::Document& outputs, base::TimePoint now) const;
  // In the fenced transaction of a clone job's wait for the session report: when the binding
  // (locked) holds the report, completes the bind as the last step would have and returns true
  // (the caller completes the job); otherwise false, nothing written.
  base::Result<bool> EndIfReported(osb::StoreTx& tx, const ClaimedJob& job, const rapidjson::Document& outputs,
                                   base::TimePoint now) const;
  const std::string& Id(int index) const { return ids_[static_cast<std::size_t>(index)]; }

  JobStore& store_;
  CloudController& cc_;
  const EngineSettings& settings_;
  const base::Clock& clock_;
  const WorkerOptions options_;
  std::vector<std::string> ids_;  // worker id per thread: "<worker_id>/<n>"
  CcMemo memo_;                   // shared by the threads' steps (thread-safe)

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;              // guarded by mu_
  std::set<std::pair<std::int64_t, std::string>> running_;  // guarded by mu_: leases to renew
  std::atomic<bool> stop_flag_{false};
  std::vector<std::thread> threads_;
  std::thread heartbeat_;
};

}  // namespace broker::clone

#endif  // BROKER_CLONE_WORKER_H_
