// PgStore's clone::JobStore side: claim, renew and fenced writes on the `jobs` table.
#include <rapidjson/document.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "broker/base/log.h"
#include "broker/osb/json_util.h"
#include "broker/store/pg_store.h"
#include "broker/store/pg_tx.h"

namespace broker::store {
namespace {

using base::Result;
using base::Status;
using internal::Log;

// "$n as a duration in milliseconds".
std::string MillisParam(int n) {
  return "($" + std::to_string(n) + "::bigint * interval '1 millisecond')";
}

// One statement: the oldest runnable row (lowest id), taken under a lease, with its binding.
// Oldest, not longest-waiting: a job that comes back from a wait on the platform goes ahead of
// the binds queued behind it, so under a burst the binds finish in the order they came (instead
// of all of them near the end) and the platform's polling of them ends sooner. A job is runnable
// only while it is not waiting, so a new job still runs whenever the older ones wait.
//
// The subquery's FOR UPDATE SKIP LOCKED makes a concurrent claimer pass over a row being taken;
// in READ COMMITTED a row that was taken and committed meanwhile is re-checked against the WHERE
// clause (no longer runnable) and skipped too. The statement commits on its own (no transaction
// around it).
//
// The binding is read with the statement's snapshot. Only the job's holder writes the fields a
// claimer could see change meanwhile (a worker whose lease expired, writing while this claim
// takes its job over), and the engine reads those from the job's outputs or re-reads the binding
// under its row lock (Fenced, LockBinding), never from the claimed copy.
const std::string& ClaimSql() {
  static const std::string sql =
      "WITH claimed AS (UPDATE jobs SET status = 'running', locked_by = $1, locked_until = now() + " +
      MillisParam(2) +
      ", updated_at = now() "
      "WHERE id = (SELECT id FROM jobs "
      "WHERE (status IN ('available', 'retryable') AND run_at <= now()) "
      "OR (status = 'running' AND locked_until < now()) "
      "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
      "RETURNING id, binding_id, kind, step, outputs, attempt, max_attempts, deadline_at, "
      "created_at) "
      "SELECT c.id, c.binding_id, c.kind, c.step, c.outputs::text, c.attempt, c.max_attempts, " +
      internal::TsColumn("c.deadline_at") + ", " + internal::TsColumn("c.created_at") +
      ", b.* FROM claimed c LEFT JOIN LATERAL (SELECT " + internal::BindingColumnList() +
      " FROM service_bindings WHERE id = c.binding_id) b ON true";
  return sql;
}

// The column of ClaimSql's rows where the binding's columns start.
constexpr int kClaimBindingColumn = 9;

const std::string& RenewSql() {
  static const std::string sql = "UPDATE jobs SET locked_until = now() + " + MillisParam(3) +
                                 ", updated_at = now() "
                                 "WHERE id = $1 AND locked_by = $2 AND status = 'running'";
  return sql;
}

// One statement: locks the job's binding row, then the job row, and reads the binding with the
// job's fence and progress columns. The binding comes first because osb::Broker locks it first
// (an unbind locks the binding, then cancels its jobs), so a fenced transaction racing an unbind
// waits for it instead of deadlocking; the lateral subquery's FOR UPDATE takes the binding
// before the outer FOR UPDATE OF j takes the job. With both held, the fence read here (status,
// locked_by: the latest committed values, re-read under the lock) cannot change before the
// transaction ends — a claimer skips a locked job, an unbind waits for the binding — so the job
// write that ends the transaction matches its row for certain and can travel with the COMMIT.
// A job's binding_id never changes.
const std::string& LockFencedSql() {
  static const std::string sql =
      "SELECT j.status, j.locked_by, j.step, j.outputs::text, j.attempt, b.* FROM jobs j "
      "JOIN LATERAL (SELECT " +
      internal::BindingColumnList() +
      " FROM service_bindings WHERE id = j.binding_id FOR UPDATE) b ON true WHERE j.id = $1 "
      "FOR UPDATE OF j";
  return sql;
}

// The column of LockFencedSql's rows where the binding's columns start.
constexpr int kFencedBindingColumn = 5;

// $1 id, $2 worker, $3 status, $4 step, $5 outputs, $6 attempt, $7 last_error, $8 run_at.
// The fence is in the WHERE clause: zero rows when the job is no longer running under this worker.
const std::string& WriteJobSql() {
  static const std::string sql =
      "UPDATE jobs SET status = $3::text, step = $4, outputs = $5::jsonb, attempt = $6::int, "
      "last_error = $7, "
      "run_at = CASE WHEN $3::text = 'retryable' THEN " +
      internal::TsParam(8) +
      " ELSE run_at END, "
      "locked_by = CASE WHEN $3::text = 'running' THEN locked_by END, "
      "locked_until = CASE WHEN $3::text = 'running' THEN locked_until END, "
      "finalized_at = CASE WHEN $3::text IN ('completed', 'failed') THEN now() END, "
      "updated_at = now() "
      "WHERE id = $1 AND locked_by = $2 AND status = 'running'";
  return sql;
}

// A binding whose time is up and whose clone has not been sent away for it: live (bind,
// succeeded, no tombstone), expires_at passed by the database clock, and no teardown job created
// at or after expires_at. An expiry's teardown is enqueued in a transaction whose now() is at or
// after expires_at, so its created_at (= now()) always satisfies the NOT EXISTS; a teardown of a
// failed clone, older than the binding's expiry, does not.
constexpr char kExpiredWhere[] =
    "b.deleted_at IS NULL AND b.operation = 'bind' AND b.state = 'succeeded' "
    "AND b.expires_at IS NOT NULL AND b.expires_at <= now() "
    "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.binding_id = b.id AND j.kind = 'teardown' "
    "AND j.created_at >= b.expires_at)";

const std::string& ListExpiredSql() {
  static const std::string sql = std::string("SELECT b.id FROM service_bindings b WHERE ") +
                                 kExpiredWhere + " ORDER BY b.expires_at, b.id LIMIT $1::int";
  return sql;
}

// Locks the row alone first: the check must be a later statement, whose snapshot sees what a
// concurrent ExpireBinding committed while this one waited for the lock (a subquery of the
// locking statement itself would still see the older snapshot).
const std::string& LockExpiringBindingSql() {
  static const std::string sql = "SELECT id FROM service_bindings WHERE id = $1 FOR UPDATE";
  return sql;
}

const std::string& CheckExpiredSql() {
  static const std::string sql =
      std::string("SELECT b.instance_id FROM service_bindings b WHERE b.id = $1 AND ") +
      kExpiredWhere;
  return sql;
}

std::string_view JobStatusWord(clone::JobUpdate::Status s) {
  switch (s) {
    case clone::JobUpdate::Status::kRunning:
      return "running";
    case clone::JobUpdate::Status::kRetryable:
      return "retryable";
    case clone::JobUpdate::Status::kCompleted:
      return "completed";
    case clone::JobUpdate::Status::kFailed:
      return "failed";
  }
  return "running";
}

// jsonb text ("{"a": 1}") -> canonical JSON text ("{"a":1}"); nullopt when it does not parse.
std::optional<std::string> CanonicalOutputs(std::string_view jsonb_text) {
  auto doc = osb::ParseJson(jsonb_text, "job outputs");
  if (!doc.ok()) return std::nullopt;
  return osb::CanonicalJson(*doc);
}

Status LeaseLost(const clone::Lease& lease, std::string_view why) {
  Log()->info("store.lease_lost job_id={} worker_id={} why={}", lease.job_id, lease.worker_id,
              why);
  return Status::FailedPrecondition("job " + std::to_string(lease.job_id) +
                                        " is no longer held by this worker",
                                    clone::kLeaseLost);
}

class PgJobTx final : public clone::JobTx {
 public:
  PgJobTx(PgConnection& conn, const KeyRing& keys) : store_(conn, keys) {}

  internal::PgStoreTx& pg_store() { return store_; }
  osb::StoreTx& store() override { return store_; }
  clone::JobUpdate& job() override { return job_; }

 private:
  internal::PgStoreTx store_;
  clone::JobUpdate job_;
};

// Locks the job's binding row and checks the fence as the job row reads now; the job as preset
// for JobTx::job() when it holds. The binding row is handed to `tx` (LockBinding answers it).
Result<clone::JobUpdate> LockFencedJob(PgConnection& conn, const clone::Lease& lease,
                                       internal::PgStoreTx& tx) {
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn.Exec("lock fenced job", LockFencedSql(),
                                                 {PgParam::Int(lease.job_id)}));
  if (rows.size() == 0) return LeaseLost(lease, "no such job");
  if (rows.Get(0, 0) != "running") return LeaseLost(lease, rows.Get(0, 0));
  if (rows.IsNull(0, 1) || rows.Get(0, 1) != lease.worker_id)
    return LeaseLost(lease, "claimed by another worker");
  clone::JobUpdate job;
  job.status = clone::JobUpdate::Status::kRunning;
  job.step = rows.Get(0, 2);
  const auto outputs = CanonicalOutputs(rows.Get(0, 3));
  const auto attempt = internal::ParseInt(rows.Get(0, 4));
  if (!outputs) return internal::Undecodable("jobs", std::to_string(lease.job_id), "outputs");
  if (!attempt) return internal::Undecodable("jobs", std::to_string(lease.job_id), "attempt");
  job.outputs_json = *outputs;
  job.attempt = static_cast<int>(*attempt);
  std::string binding_id(rows.Get(0, kFencedBindingColumn));
  tx.HoldLockedBinding(std::move(binding_id), std::move(rows), kFencedBindingColumn);
  return job;
}

// The first CTE of a fenced write to the job's binding ($1 job id): b, that binding locked, while it
// is live and still this job's operation (an unbind moves operation_id on to its teardown job,
// and the row lock re-checks that on the row's latest version). A job's binding_id never changes.
constexpr char kLockOperationBindingCte[] =
    "WITH b AS (SELECT id FROM service_bindings WHERE id = (SELECT binding_id FROM jobs WHERE id = $1) "
    "AND operation_id = $1 AND deleted_at IS NULL FOR UPDATE), ";

// WriteJobSql, and the job's binding learns its clone app (JobUpdate::clone; $9 guid, $10 name),
// in one statement. The binding is locked first (b: the order of every transaction), then the job
// row under the fence (fj; the count only orders it after b), so the binding is written only
// while the job is this worker's, and the job write that follows matches the row fj locked. A
// binding that is no longer this job's operation (an unbind moved it on to its teardown job; its
// row lock re-checks that) is left alone while the job is still written.
const std::string& WriteJobAndCloneSql() {
  static const std::string sql =
      std::string(kLockOperationBindingCte) +
      "fj AS (SELECT id FROM jobs WHERE id = $1 AND locked_by = $2 AND status = 'running' "
      "AND (SELECT count(*) FROM b) >= 0 FOR UPDATE), "
      "c AS (UPDATE service_bindings SET clone_app_guid = $9, clone_app_name = $10, updated_at = now() "
      "WHERE id = (SELECT id FROM b) AND EXISTS (SELECT 1 FROM fj) RETURNING 1) " +
      WriteJobSql() + " AND (SELECT count(*) FROM c) >= 0";
  return sql;
}

// CheckpointUnlessCredentials: WriteJobSql's parameters. The binding is locked first (the CTE is
// evaluated before the job's UPDATE looks at its condition): the order every transaction locks
// them in. A report holding that lock is waited for, and the locked row is its latest version.
// One row: whether the binding holds no credentials (NULL without a binding), and how many job
// rows were written.
const std::string& WriteJobUnlessCredentialsSql() {
  static const std::string sql =
      "WITH b AS (SELECT credentials_ciphertext IS NULL AS bare FROM service_bindings "
      "WHERE id = (SELECT binding_id FROM jobs WHERE id = $1) FOR UPDATE), u AS (" +
      WriteJobSql() + " AND (SELECT bare FROM b) RETURNING 1) SELECT (SELECT bare FROM b), (SELECT count(*) FROM u)";
  return sql;
}

// SaveSessionTokenHash. $3 the hash. The binding is locked first (b), the order of every
// transaction; the job is marked under the fence only when b found it (an uncorrelated EXISTS is
// evaluated before the job's row is touched), and the binding written only when the job was (j):
// the job's row lock makes a claim skip it or, once committed, see the mark.
const std::string& WriteSessionTokenHashSql() {
  static const std::string sql =
      std::string(kLockOperationBindingCte) +
      "j AS (UPDATE jobs SET outputs = outputs || jsonb_build_object('" +
      std::string(clone::kSessionTokenSavedOutput) +
      "', true), updated_at = now() "
      "WHERE id = $1 AND locked_by = $2 AND status = 'running' AND EXISTS (SELECT 1 FROM b) RETURNING 1) "
      "UPDATE service_bindings SET session_token_hash = $3, updated_at = now() "
      "WHERE id = (SELECT id FROM b) AND EXISTS (SELECT 1 FROM j)";
  return sql;
}

// WriteJobSql's parameters for `job`; kInvalidArgument when its outputs are not a JSON object.
Result<std::vector<PgParam>> WriteJobParams(const clone::Lease& lease, const clone::JobUpdate& job) {
  // Validated without a document (the column is jsonb: the database normalizes the text).
  BROKER_RETURN_IF_ERROR(osb::ValidateJsonObject(job.outputs_json, "job outputs"));
  return std::vector<PgParam>{PgParam::Int(lease.job_id), PgParam::Text(lease.worker_id),
                              PgParam::Text(std::string(JobStatusWord(job.status))), PgParam::Text(job.step),
                              PgParam::Text(job.outputs_json), PgParam::Int(job.attempt),
                              PgParam::Text(job.last_error), PgParam::Int(internal::ToMillis(job.run_at))};
}

// Queues the job's write on `conn`, in one statement with the binding's when it learns its
// clone: the statement's row count is the job's, and tells whether the fence held.
Status DeferJobWrite(PgConnection& conn, const clone::Lease& lease, const clone::JobUpdate& job) {
  BROKER_ASSIGN_OR_RETURN(std::vector<PgParam> params, WriteJobParams(lease, job));
  if (job.clone.has_value()) {
    params.push_back(PgParam::Text(job.clone->guid));
    params.push_back(PgParam::Text(job.clone->name));
    conn.Defer("write job and clone", WriteJobAndCloneSql(), std::move(params));
  } else {
    conn.Defer("write job", WriteJobSql(), std::move(params));
  }
  return Status::Ok();
}

}  // namespace

Result<std::optional<clone::ClaimedJob>> PgStore::Claim(const std::string& worker_id,
                                                        std::chrono::milliseconds lease) {
  if (worker_id.empty()) return Status::InvalidArgument("worker id is empty");
  if (lease < std::chrono::milliseconds(1)) return Status::InvalidArgument("lease is below 1 ms");

  // A pooled connection may have died while idle (a database failover): the broken one is
  // closed with its lease and the second attempt opens a fresh one. Had the lost statement
  // committed, its job waits for the lease to expire, as after a crash.
  Result<PgRows> result = Status::Unavailable("claim not attempted");
  for (int attempt = 1; attempt <= 2; ++attempt) {
    BROKER_ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
    result = conn->Exec("claim job", ClaimSql(),
                        {PgParam::Text(worker_id), PgParam::Int(lease.count())});
    if (result.ok() || result.status().code() != base::Code::kUnavailable) break;
  }
  BROKER_ASSIGN_OR_RETURN(PgRows claimed, std::move(result));
  if (claimed.size() == 0) return std::optional<clone::ClaimedJob>();
  // Committed: the job is ours until the lease expires, whatever the decoding below finds.
  const PgRows& j = claimed;
  clone::ClaimedJob job;
  const auto id = internal::ParseInt(j.Get(0, 0));
  if (!id) return internal::Undecodable("jobs", j.Get(0, 1), "id");
  job.id = *id;
  const std::string id_text = std::to_string(job.id);
  const auto kind = osb::ParseJobKind(j.Get(0, 2));
  if (!kind) return internal::Undecodable("jobs", id_text, "kind");
  job.kind = *kind;
  job.step = j.Get(0, 3);
  const auto outputs = CanonicalOutputs(j.Get(0, 4));
  if (!outputs) return internal::Undecodable("jobs", id_text, "outputs");
  job.outputs_json = *outputs;
  const auto attempt = internal::ParseInt(j.Get(0, 5));
  const auto max_attempts = internal::ParseInt(j.Get(0, 6));
  const auto deadline = internal::ParseInt(j.Get(0, 7));
  const auto created = internal::ParseInt(j.Get(0, 8));
  if (!attempt || !max_attempts || !deadline || !created)
    return internal::Undecodable("jobs", id_text, "attempt/max_attempts/deadline_at/created_at");
  job.attempt = static_cast<int>(*attempt);
  job.max_attempts = static_cast<int>(*max_attempts);
  job.deadline_at = internal::FromMillis(*deadline);
  job.created_at = internal::FromMillis(*created);

  if (j.IsNull(0, kClaimBindingColumn)) return internal::Undecodable("jobs", id_text, "binding_id");
  auto binding = internal::DecodeBinding(keys_, j, 0, kClaimBindingColumn);
  if (!binding.ok()) {
    Log()->error("store.claimed_binding_unreadable job_id={} binding_id={} worker_id={} code={}", job.id,
                 base::LogId(j.Get(0, 1)), worker_id, base::CodeName(binding.status().code()));
    return binding.status();
  }
  job.binding = std::move(binding).value();
  Log()->debug("store.job_claimed job_id={} binding_id={} kind={} step={} worker_id={}", job.id,
               base::LogId(job.binding.id), osb::JobKindName(job.kind), job.step, worker_id);
  return std::optional<clone::ClaimedJob>(std::move(job));
}

Status PgStore::Renew(const clone::Lease& lease, std::chrono::milliseconds duration) {
  if (duration < std::chrono::milliseconds(1))
    return Status::InvalidArgument("lease is below 1 ms");
  BROKER_ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn->Exec("renew lease", RenewSql(),
                                                  {PgParam::Int(lease.job_id),
                                                   PgParam::Text(lease.worker_id),
                                                   PgParam::Int(duration.count())}));
  if (rows.affected() == 0) return LeaseLost(lease, "renew found no running job under the lease");
  return Status::Ok();
}

Status PgStore::Fenced(const clone::Lease& lease,
                       const std::function<Status(clone::JobTx&)>& fn) {
  return internal::RunTransaction(pool_, kMaxAttempts, "fenced", [&](PgConnection& conn) -> Status {
    PgJobTx tx(conn, keys_);
    BROKER_ASSIGN_OR_RETURN(tx.job(), LockFencedJob(conn, lease, tx.pg_store()));
    BROKER_RETURN_IF_ERROR(fn(tx));
    if (conn.InFailedTransaction()) {
      Log()->error("store.transaction_error_ignored what=fenced job_id={}", lease.job_id);
      return Status::Internal("database error");
    }
    // The job row is locked under a fence that held (LockFencedSql), so this write matches it:
    // it travels with the COMMIT.
    return DeferJobWrite(conn, lease, tx.job());
  });
}

Status PgStore::Checkpoint(const clone::Lease& lease, const clone::JobUpdate& update) {
  // The same single round trip as an autocommit UPDATE: sent, then read at once.
  return BeginCheckpoint(lease, update)->Wait();
}

Result<bool> PgStore::CheckpointUnlessCredentials(const clone::Lease& lease, const clone::JobUpdate& update) {
  BROKER_ASSIGN_OR_RETURN(std::vector<PgParam> params, WriteJobParams(lease, update));
  BROKER_ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn->Exec("write job unless credentials", WriteJobUnlessCredentialsSql(), params));
  if (rows.size() != 1 || rows.Get(0, 0) != "t") return false;  // credentials, or no binding: look closer
  if (rows.Get(0, 1) != "1") return LeaseLost(lease, "not running under this worker");
  return true;
}

Status PgStore::SaveSessionTokenHash(const clone::Lease& lease, const std::string& token_hash) {
  BROKER_ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn->Exec("save session token hash", WriteSessionTokenHashSql(),
                                                  {PgParam::Int(lease.job_id), PgParam::Text(lease.worker_id),
                                                   PgParam::Text(token_hash)}));
  if (rows.affected() != 1) return LeaseLost(lease, "not running under this worker, or the binding moved on");
  return Status::Ok();
}

namespace {

// BeginCheckpoint's answer: the connection with the fenced UPDATE on the wire (or why it is not).
class PgPendingCheckpoint final : public clone::PendingCheckpoint {
 public:
  PgPendingCheckpoint(clone::Lease lease, std::optional<PgPool::Lease> conn, Status failed)
      : lease_(std::move(lease)), conn_(std::move(conn)), failed_(std::move(failed)) {}
  ~PgPendingCheckpoint() override {
    if (!read_) (void)Wait();
  }

  Status Wait() override {
    if (read_) return Status::Internal("a pending checkpoint was read twice");
    read_ = true;
    if (!failed_.ok()) return failed_;
    Result<PgRows> rows = conn_->conn().Receive();
    conn_.reset();  // back to the pool
    if (!rows.ok()) return rows.status();
    if (rows->affected() != 1) return LeaseLost(lease_, "not running under this worker");
    return Status::Ok();
  }

 private:
  clone::Lease lease_;
  std::optional<PgPool::Lease> conn_;
  Status failed_;
  bool read_ = false;
};

}  // namespace

std::unique_ptr<clone::PendingCheckpoint> PgStore::BeginCheckpoint(const clone::Lease& lease,
                                                                   const clone::JobUpdate& update) {
  auto conn = pool_.Acquire();
  if (!conn.ok()) return std::make_unique<PgPendingCheckpoint>(lease, std::nullopt, conn.status());
  if (const Status queued = DeferJobWrite(conn->conn(), lease, update); !queued.ok()) {
    conn->conn().DiscardDeferred();
    return std::make_unique<PgPendingCheckpoint>(lease, std::nullopt, queued);
  }
  conn->conn().Send();
  return std::make_unique<PgPendingCheckpoint>(lease, std::move(conn).value(), Status::Ok());
}

Result<std::optional<osb::Binding>> PgStore::ReadBinding(std::string_view binding_id) {
  return GetBinding(binding_id);
}

Result<std::vector<std::string>> PgStore::ListExpiredBindings(int limit) {
  if (limit < 1) return Status::InvalidArgument("limit is below 1");
  BROKER_ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn->Exec("list expired bindings", ListExpiredSql(),
                                                  {PgParam::Int(limit)}));
  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(rows.size()));
  for (int r = 0; r < rows.size(); ++r) ids.emplace_back(rows.Get(r, 0));
  return ids;
}

Result<std::optional<std::int64_t>> PgStore::ExpireBinding(std::string_view binding_id,
                                                           const osb::NewJob& teardown,
                                                           const osb::Event& event) {
  if (teardown.binding_id != binding_id)
    return Status::InvalidArgument("the teardown job is for another binding");
  if (teardown.kind != osb::JobKind::kTeardown)
    return Status::InvalidArgument("an expired binding gets a teardown job");
  std::optional<std::int64_t> job_id;
  const Status written = internal::RunTransaction(
      pool_, kMaxAttempts, "expire", [&](PgConnection& conn) -> Status {
        job_id.reset();
        const std::vector<PgParam> id = {PgParam::Text(std::string(binding_id))};
        BROKER_ASSIGN_OR_RETURN(PgRows locked,
                                conn.Exec("lock expiring binding", LockExpiringBindingSql(), id));
        if (locked.size() == 0) return Status::Ok();
        BROKER_ASSIGN_OR_RETURN(PgRows due, conn.Exec("check expired binding", CheckExpiredSql(), id));
        if (due.size() == 0) return Status::Ok();
        internal::PgStoreTx tx(conn, keys_);
        BROKER_ASSIGN_OR_RETURN(std::int64_t enqueued, tx.EnqueueJob(teardown));
        osb::Event e = event;
        e.binding_id = std::string(binding_id);
        if (e.instance_id.empty()) e.instance_id = due.Get(0, 0);
        BROKER_RETURN_IF_ERROR(tx.RecordEvent(e));
        job_id = enqueued;
        return Status::Ok();
      });
  if (!written.ok()) return written;
  if (job_id) {
    Log()->debug("store.binding_expired binding_id={} job_id={}", base::LogId(binding_id), *job_id);
  }
  return job_id;
}

}  // namespace broker::store
