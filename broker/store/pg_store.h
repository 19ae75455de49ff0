// PgStore: the PostgreSQL implementation of the OSB domain's persistence port (osb::Store) and
// of the clone engine's (clone::JobStore), against the tables of migrations/ (0001 core tables,
// 0002 session_key_hash).
//
// Mapping: every field of osb::Instance and osb::Binding has a column of the same name (JSON
// fields in `context`, `parameters`, `plan_settings`); enum fields are stored as their osb name
// words; Instance state 'deleted' and Binding::deleted set `deleted_at` (the tombstone); times
// are timestamptz and come back with millisecond precision. Binding credentials are sealed with
// the KeyRing's current key (AES-256-GCM, the binding id as associated data) into
// `credentials_ciphertext` + `credentials_key_id`, both empty/NULL when there are none; older
// keys in the ring still open what they sealed. Inserting over a tombstone updates that row in
// place (jobs reference it); every column, `session_token_hash`, `session_key_hash` and
// `created_at` included, then holds what the new Binding carries. UpdateBinding writes every
// column but `created_at` (immutable), the session hashes included.
//
// Transactions are READ COMMITTED; the domain serializes with row locks (Lock*: FOR UPDATE).
// InTransaction retries the whole function, in a fresh transaction, when it or the commit fails
// with kAborted (a unique-key race, serialization failure or deadlock): kMaxAttempts in total.
//
// Failure codes of every operation, besides those the port documents: kUnavailable when the
// database or a pooled connection cannot be had (see PgPool); kInternal "database error" for an
// unexpected SQL failure, and for a row that cannot be decoded (an unknown state word, or
// credentials that no configured key opens — "binding <id>: credentials could not be decrypted").
// Raw database text is logged to the `store` logger only.
//
// Jobs (clone::JobStore). Every lease and run_at comparison uses the database clock (now()), so
// brokers on hosts whose clocks differ agree on whose lease has expired.
//  - Claim is one statement, `UPDATE jobs SET status='running', locked_by, locked_until =
//    now() + lease WHERE id = (SELECT id ... ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP
//    LOCKED) RETURNING ...`: a row is taken by exactly one worker (a concurrent claimer skips it,
//    or re-checks it after the taker commits and finds it no longer claimable). Runnable means
//    'available'/'retryable' with run_at <= now(), or 'running' with locked_until < now(); never
//    'completed', 'failed' or 'cancelled'. It does not touch `attempt`.
//  - Fencing: Renew is `UPDATE ... WHERE id AND locked_by AND status = 'running'`. Fenced locks
//    (SELECT ... FOR UPDATE) the job's binding row, then the job row, and checks status
//    'running' and locked_by = the worker. Binding before job is osb::Broker's order (an unbind
//    locks the binding, then cancels its jobs), so the two wait for each other rather than
//    deadlock. The locks are held until commit, so neither a new claim nor CancelJobs can slip
//    in between the check and the writes: the check, fn's writes and the job row's update
//    commit together or not at all. (fn taking LockInstance inverts deprovision's order,
//    instance then bindings: PostgreSQL detects that deadlock, it comes back as kAborted and fn
//    runs again.) The lease's expiry alone does not fail the fence: a late worker may still
//    write until another worker actually claims the job.
//  - Job row written by Fenced from tx.job(): step, outputs, attempt, last_error and updated_at
//    always; kRunning keeps locked_by and locked_until as they are (Renew extends them);
//    kRetryable sets run_at and clears the lock; kCompleted / kFailed set finalized_at = now()
//    and clear the lock. tx.job() is preset from the row (status kRunning, step, outputs,
//    attempt; last_error empty, run_at unset).
//  - Expiry (ListExpiredBindings / ExpireBinding, for the reconciler) compares expires_at with
//    now() too; see those functions.
//  - `outputs` is jsonb; outputs_json comes back as canonical JSON text (osb::CanonicalJson:
//    keys sorted, no whitespace), so canonical text round-trips exactly.
//
// Thread-safety: PgStore is thread-safe (each call leases its own connection from the pool). The
// StoreTx handed to InTransaction's function, and the JobTx handed to Fenced's, belong to that
// call's thread and transaction.
#ifndef BROKER_STORE_PG_STORE_H_
#define BROKER_STORE_PG_STORE_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/clone/job_store.h"
#include "broker/osb/store.h"
#include "broker/store/cipher.h"
#include "broker/store/pg_pool.h"

namespace broker::store {

class PgStore final : public osb::Store, public clone::JobStore {
 public:
  static constexpr int kMaxAttempts = 3;
  static constexpr std::chrono::milliseconds kPingTimeout{2000};

  // `pool` must outlive the store.
  PgStore(PgPool& pool, KeyRing keys);

  // See osb::Store. Returns fn's Status, or the commit's; kAborted after kMaxAttempts lost races.
  // A function that swallows a failed statement and returns OK gets kInternal (PostgreSQL
  // refuses to commit such a transaction), and nothing is written. kUnavailable from the COMMIT
  // itself (the connection dropped mid-commit) leaves the outcome unknown, as with any database;
  // the domain's idempotent re-reads (Lock*) settle it on the platform's retry.
  base::Status InTransaction(const std::function<base::Status(osb::StoreTx&)>& fn) override;

  base::Result<std::optional<osb::Instance>> GetInstance(std::string_view id) override;
  base::Result<std::optional<osb::Binding>> GetBinding(std::string_view id) override;
  base::Result<std::optional<osb::BindingStatus>> GetBindingStatus(std::string_view id) override;

  // SELECT 1 within kPingTimeout on a pooled connection; kUnavailable otherwise.
  base::Status Ping() override;

  // ---- clone::JobStore (see the file comment for the SQL) ----

  // Claims in a transaction that also reads the job's binding; nullopt when nothing is runnable.
  // kInvalidArgument for an empty worker_id or a lease below 1 ms. kInternal when the claimed
  // row or its binding cannot be decoded (e.g. credentials no configured key opens): the claim
  // has then committed, so the job stays leased to `worker_id` until the lease expires and
  // other jobs stay claimable meanwhile (no head-of-line blocking); the error is logged with
  // the job and binding ids.
  base::Result<std::optional<clone::ClaimedJob>> Claim(const std::string& worker_id,
                                                       std::chrono::milliseconds lease) override;

  // locked_until = now() + duration when the fence holds; kFailedPrecondition (reason
  // clone::kLeaseLost) when the job is not 'running' under lease.worker_id (re-claimed,
  // cancelled, finished or unknown). kInvalidArgument for a duration below 1 ms.
  base::Status Renew(const clone::Lease& lease, std::chrono::milliseconds duration) override;

  // See clone::JobStore. kFailedPrecondition (reason clone::kLeaseLost) when the fence does not
  // hold; fn is then not called. kInvalidArgument (nothing written) when tx.job().outputs_json
  // is not a JSON object. fn runs again, on a fresh transaction with tx.job() preset afresh,
  // when it or the commit fails with kAborted: kMaxAttempts in total, like InTransaction.
  base::Status Fenced(const clone::Lease& lease,
                      const std::function<base::Status(clone::JobTx&)>& fn) override;

  // clone::JobStore::Checkpoint: the fenced job UPDATE on its own (autocommit), as
  // BeginCheckpoint(lease, update)->Wait().
  base::Status Checkpoint(const clone::Lease& lease, const clone::JobUpdate& update) override;
  // The same UPDATE, sent in pipeline mode and read by Wait() (PgConnection::Send/Receive).
  std::unique_ptr<clone::PendingCheckpoint> BeginCheckpoint(const clone::Lease& lease,
                                                            const clone::JobUpdate& update) override;
  // One statement each (see clone::JobStore).
  base::Result<bool> CheckpointUnlessCredentials(const clone::Lease& lease, const clone::JobUpdate& update) override;
  base::Status SaveSessionTokenHash(const clone::Lease& lease, const std::string& token_hash) override;
  // As GetBinding.
  base::Result<std::optional<osb::Binding>> ReadBinding(std::string_view binding_id) override;

  // See clone::JobStore. One SELECT over service_bindings with a NOT EXISTS on jobs (kind
  // 'teardown', created_at >= the binding's expires_at); expires_at <= now() by the database
  // clock.
  base::Result<std::vector<std::string>> ListExpiredBindings(int limit) override;

  // See clone::JobStore. Locks the binding row (FOR UPDATE), then re-runs ListExpiredBindings'
  // condition for that one row in the same transaction: in READ COMMITTED each statement sees
  // what committed before it began, so a second caller blocked on the lock sees the first
  // caller's teardown job once it gets the lock, and enqueues nothing. The job (created_at =
  // now(), hence at or after expires_at) and the event commit together or not at all.
  base::Result<std::optional<std::int64_t>> ExpireBinding(std::string_view binding_id,
                                                          const osb::NewJob& teardown,
                                                          const osb::Event& event) override;

 private:
  PgPool& pool_;
  const KeyRing keys_;
};

}  // namespace broker::store

#endif  // BROKER_STORE_PG_STORE_H_
