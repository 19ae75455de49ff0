// JobStore: the persistence port of the clone engine's worker (DESIGN.md §4): claim a job under a
// lease, renew the lease, and write the job's progress, together with the binding and instance
// rows it serves, in fenced transactions.
//
// The lease is the crash recovery: a claimed job has locked_by = the worker and locked_until =
// now + lease; the worker renews it while it runs a step. A worker that dies stops renewing, the
// lease expires, and any worker may claim the job again and re-run its current step (steps are
// check-then-act, so the re-run adopts what the dead attempt made).
//
// Fencing: every write goes through Fenced() or Checkpoint() (or BeginCheckpoint(), whose answer
// comes later), whose job write matches only while the job is still `running` and locked by this
// worker. When it is not (the lease expired and another worker took it, or an unbind cancelled
// it) nothing is written and the result is kFailedPrecondition with reason "lease_lost"; the
// worker must stop working on that job at once.
//
// Real implementation: store::PgStore (broker/store/pg_store.h). Thread-safe; a JobTx belongs to
// the one thread running the Fenced() call.
#ifndef BROKER_CLONE_JOB_STORE_H_
#define BROKER_CLONE_JOB_STORE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/result.h"
#include "broker/base/status.h"
#include "broker/osb/store.h"
#include "broker/osb/types.h"

namespace broker::clone {

// The reason() of the Status a fenced write returns when the job is no longer this worker's.
inline constexpr char kLeaseLost[] = "lease_lost";

// The member of a job's outputs that JobStore::SaveSessionTokenHash sets to true.
inline constexpr char kSessionTokenSavedOutput[] = "session_token_saved";

// Who holds a job: the fence of every write.
struct Lease {
  std::int64_t job_id = 0;
  std::string worker_id;
};

// A job as claimed, with the binding it serves (read in the claim's transaction).
struct ClaimedJob {
  std::int64_t id = 0;
  osb::JobKind kind = osb::JobKind::kClone;
  std::string step;           // the step to run
  std::string outputs_json;   // "{}" or what earlier steps checkpointed (never a secret)
  int attempt = 0;            // attempts of `step` already used (retries, not waits)
  int max_attempts = 10;
  base::TimePoint deadline_at{};
  base::TimePoint created_at{};
  osb::Binding binding;       // credentials decrypted; may be a tombstone
};

// The job row's new state, written by Fenced() after its function returns OK.
struct JobUpdate {
  enum class Status {
    kRunning,    // keep the lease: the worker goes on with `step` now
    kRetryable,  // release the lease: claimable again at run_at
    kCompleted,  // finished
    kFailed,     // finished, failed (the binding carries the user-safe description)
  };
  Status status = Status::kRunning;
  std::string step;
  std::string outputs_json = "{}";
  int attempt = 0;
  base::TimePoint run_at{};   // kRetryable
  std::string last_error;     // operator text for the jobs row; never a secret
  // When set, the job's binding row learns its clone app in the same write: clone_app_guid and
  // clone_app_name, written before the job row (binding before job, as every transaction locks
  // them), only while the binding is still this job's operation (an unbind moves it on to its
  // teardown job; that is checked again under the binding's lock) and the job is running under
  // this lease.
  struct Clone {
    std::string guid;
    std::string name;
  };
  std::optional<Clone> clone;
};

// A Checkpoint() on its way: the statement is sent, its answer not yet read.
class PendingCheckpoint {
 public:
  virtual ~PendingCheckpoint() = default;
  // Waits for the answer: what Checkpoint() would have returned. Call it once; a pending
  // checkpoint destroyed unread is read by its destructor.
  virtual base::Status Wait() = 0;
};

// A fenced transaction: the osb::StoreTx for binding / instance rows, plus the job's own update
// and follow-up jobs.
class JobTx {
 public:
  virtual ~JobTx() = default;
  // Rows other than the job's, under the same transaction (LockBinding, UpdateBinding,
  // LockInstance, UpdateInstance, LockLiveBindings, EnqueueJob, RecordEvent, ...).
  virtual osb::StoreTx& store() = 0;
  // What the job row becomes when the function returns OK. Preset from the job row as it is
  // (status kRunning, its step, outputs and attempt; last_error empty).
  virtual JobUpdate& job() = 0;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Claims the oldest job (the first enqueued) among those that are runnable now: status
  // 'available' or 'retryable' with run_at <= now, or 'running' with an expired lease (a dead
  // worker's; its attempt is not counted again). The claim sets status 'running', locked_by =
  // worker_id, locked_until = now + lease, in one statement (FOR UPDATE SKIP LOCKED), so two
  // workers never hold one job. nullopt when nothing is runnable.
  virtual base::Result<std::optional<ClaimedJob>> Claim(const std::string& worker_id,
                                                        std::chrono::milliseconds lease) = 0;

  // Extends the lease to now + `lease`. kFailedPrecondition (reason kLeaseLost) when the job is
  // no longer running under this worker.
  virtual base::Status Renew(const Lease& lease, std::chrono::milliseconds duration) = 0;

  // Runs `fn` in a transaction that holds the job's binding row and then the job row locked (as
  // osb::Broker locks them: binding before job), after checking the fence, then writes tx.job()
  // to the job row (releasing the lease unless the status stays kRunning) and commits. While the
  // transaction holds the job row no claimer or unbind can move the fence, so the check before
  // `fn` is the one that counts. Nothing is written when `fn` fails (its Status is returned) or
  // the fence does not hold (kFailedPrecondition, reason kLeaseLost). Like osb::Store::InTransaction,
  // `fn` may be run again after a lost race, so it must reset whatever it captures. `fn` must not
  // lock the instance row (deprovision locks instance then bindings: the opposite order
  // deadlocks). tx.store().LockBinding of the job's binding costs no extra round trip.
  virtual base::Status Fenced(const Lease& lease, const std::function<base::Status(JobTx&)>& fn) = 0;

  // Writes `update` to the job row in ONE fenced statement (no row locks besides the job's, no
  // transaction): the cheap checkpoint between steps that change nothing but the job itself.
  // Same fence and failure codes as Fenced().
  virtual base::Status Checkpoint(const Lease& lease, const JobUpdate& update) = 0;

  // Checkpoint() without the wait: sends the statement and returns at once, so the caller can do
  // other work (the next step's Cloud Controller calls) while the database writes it. The write
  // is durable, and its fence known, only once Wait() returns OK. The pending checkpoint holds
  // one of the store's connections until then: the caller must Wait() before it uses the store
  // again (or it may wait for a connection its own pending checkpoint holds).
  virtual std::unique_ptr<PendingCheckpoint> BeginCheckpoint(const Lease& lease, const JobUpdate& update) = 0;

  // The clone job's wait for the session report in ONE statement, when it can be: locks the job's
  // binding row, and writes `update` to the job row (fenced, as Checkpoint()) only while that
  // binding holds no credentials at all. A report stores them, and looks at the job, under that
  // same lock: so then none has come, and one that comes later finds the job waiting. Returns
  // true when written; false when the binding holds credentials (nothing written: the caller
  // looks at them under Fenced()); kFailedPrecondition (reason kLeaseLost) when the fence does
  // not hold.
  virtual base::Result<bool> CheckpointUnlessCredentials(const Lease& lease, const JobUpdate& update) = 0;
  // Sets the session_token_hash of the job's binding in ONE fenced statement (autocommit): the
  // clone's report token, durable before the clone app exists. The same statement sets the
  // member kSessionTokenSavedOutput of the job's stored outputs to true (the rest of them
  // unchanged; a later checkpoint writes the caller's outputs whole, so the caller keeps the mark
  // in its own). Locks the binding, then the job row, and writes both only while the job is
  // running under this lease and the binding is still this job's operation; otherwise nothing
  // is written and the result is kFailedPrecondition (reason kLeaseLost), as for Checkpoint().
  // The mark is for the next claim: Claim() returns the job row at its latest version (it locks
  // it), but the binding as its statement's snapshot saw it, which may be from just before this
  // write when the lease had lapsed meanwhile.
  virtual base::Status SaveSessionTokenHash(const Lease& lease, const std::string& token_hash) = 0;
  // The binding as it is now (unlocked read; credentials decrypted). nullopt when unknown.
  virtual base::Result<std::optional<osb::Binding>> ReadBinding(std::string_view binding_id) = 0;

  // ---- For the reconciler (reconciler.h) ----

  // Ids of the live bindings whose time is up: operation bind, state succeeded, not a tombstone,
  // expires_at at or before now (the database clock), and no teardown job created at or after
  // their expires_at (so a binding whose clone the reconciler already sent away is not listed
  // again). At most `limit` ids, those that expired first first. An unlocked read: a listed
  // binding may have moved on by the time ExpireBinding looks. kInvalidArgument when limit < 1.
  virtual base::Result<std::vector<std::string>> ListExpiredBindings(int limit) = 0;

  // In one transaction: locks the binding row, checks again under the lock every condition of
  // ListExpiredBindings, and when they all hold enqueues `teardown` (its binding_id must be
  // `binding_id`; the binding's operation and operation_id are left as they are, so the row
  // stays succeeded and only its clone goes) and records `event` (its binding_id is set to
  // `binding_id`, and an empty instance_id to the binding's). Returns the new job's id, or
  // nullopt when the binding no longer qualifies (unknown, tombstoned, unbound or re-bound
  // meanwhile, or a teardown for this expiry exists: two brokers expiring one binding at once
  // enqueue one job). kInvalidArgument when teardown.binding_id differs or its kind is not
  // kTeardown (nothing written).
  virtual base::Result<std::optional<std::int64_t>> ExpireBinding(std::string_view binding_id,
                                                                  const osb::NewJob& teardown,
                                                                  const osb::Event& event) = 0;
};

}  // namespace broker::clone

#endif  // BROKER_CLONE_JOB_STORE_H_
