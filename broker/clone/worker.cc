#include "broker/clone/worker.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "broker/base/log.h"
#include "broker/base/thread.h"
#include "broker/osb/json_util.h"

namespace broker::clone {
namespace {

using base::Status;

std::shared_ptr<spdlog::logger> Log() {
  static const std::shared_ptr<spdlog::logger> logger = base::Logger("worker");
  return logger;
}

constexpr std::chrono::minutes kCleanupDeadline{30};
constexpr int kCleanupMaxAttempts = 10;

bool LeaseLost(const Status& s) {
  return s.code() == base::Code::kFailedPrecondition && s.reason() == kLeaseLost;
}

// A write of the job's progress that failed: the job is no longer this worker's (its lease
// lost), or the database is unreachable (the lease then expires and the job is claimed again).
void LogWriteFailure(const Status& s, const ClaimedJob& job) {
  if (LeaseLost(s)) {
    Log()->warn("worker.lease_lost job={} binding={} step={}", job.id, job.binding.id, job.step);
  } else {
    Log()->error("worker.write_failed job={} binding={} step={} error={}", job.id, job.binding.id, job.step,
                 base::LogQuote(s.ToString()));
  }
}

rapidjson::Document ParseOutputs(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError() || !d.IsObject()) d.SetObject();
  return d;
}

bool IsAtOrAfter(osb::JobKind kind, const std::string& step, std::string_view reference) {
  const auto& steps = Steps(kind);
  const auto at = std::find(steps.begin(), steps.end(), step);
  const auto ref = std::find(steps.begin(), steps.end(), reference);
  return at != steps.end() && ref != steps.end() && at >= ref;
}

// The run of retryable errors the job's current step is in (JobPosition::failing_since), kept in
// the outputs so it survives a restart or another worker's claim: {"step", "since_ms", "count"}.
constexpr char kFailureRunOutput[] = "failure_run";

struct FailureRun {
  std::optional<base::TimePoint> since;
  int count = 0;
};

FailureRun ReadFailureRun(const rapidjson::Document& outputs, const std::string& step) {
  FailureRun run;
  if (!outputs.IsObject()) return run;
  const auto it = outputs.FindMember(kFailureRunOutput);
  if (it == outputs.MemberEnd() || !it->value.IsObject()) return run;
  const auto& v = it->value;
  const auto s = v.FindMember("step");
  const auto since = v.FindMember("since_ms");
  const auto count = v.FindMember("count");
  if (s == v.MemberEnd() || !s->value.IsString() || step != s->value.GetString()) return run;
  if (since == v.MemberEnd() || !since->value.IsInt64() || count == v.MemberEnd() || !count->value.IsInt()) return run;
  run.since = base::TimePoint(std::chrono::milliseconds(since->value.GetInt64()));
  run.count = std::max(0, count->value.GetInt());
  return run;
}

// Records the run after a retried error, or ends it after any other outcome.
void UpdateFailureRun(rapidjson::Document& outputs, const std::string& step, const FailureRun& before, bool retried,
                      base::TimePoint now) {
  if (!outputs.IsObject()) outputs.SetObject();
  outputs.RemoveMember(kFailureRunOutput);
  if (!retried) return;
  auto& a = outputs.GetAllocator();
  const auto since = std::chrono::duration_cast<std::chrono::milliseconds>(before.since.value_or(now).time_since_epoch());
  rapidjson::Value run(rapidjson::kObjectType);
  run.AddMember("step", rapidjson::Value(step.c_str(), a), a);
  run.AddMember("since_ms", rapidjson::Value(static_cast<std::int64_t>(since.count())), a);
  run.AddMember("count", rapidjson::Value(before.count + 1), a);
  outputs.AddMember(rapidjson::StringRef(kFailureRunOutput), std::move(run), a);
}

}  // namespace

Worker::Worker(JobStore& store, CloudController& cc, const EngineSettings& settings, const base::Clock& clock,
               WorkerOptions options)
    : store_(store), cc_(cc), settings_(settings), clock_(clock), options_(std::move(options)) {
  const int n = std::max(options_.threads, 1);
  for (int i = 0; i < n; ++i) ids_.push_back(options_.worker_id + "/" + std::to_string(i));
}

Worker::~Worker() { Stop(); }

void Worker::Start() {
  if (options_.threads <= 0 || !threads_.empty()) return;
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this, i] {
      base::NameThisThread("worker/" + std::to_string(i));
      Loop(i);
    });
  }
  heartbeat_ = std::thread([this] {
    base::NameThisThread("heartbeat");
    Heartbeat();
  });
  Log()->info("worker.started id={} threads={} lease_ms={}", options_.worker_id, options_.threads,
              options_.lease.count());
}

void Worker::Notify() { wake_.notify_all(); }

void Worker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  stop_flag_ = true;
  wake_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (heartbeat_.joinable()) heartbeat_.join();
}

void Worker::Loop(int index) {
  while (!stop_flag_) {
    auto claimed = store_.Claim(Id(index), options_.lease);
    if (!claimed.ok()) {
      Log()->warn("worker.claim_failed id={} error={}", Id(index), base::LogQuote(claimed.status().ToString()));
    } else if (claimed->has_value()) {
      Run(std::move(**claimed), Id(index), /*single_step=*/false);
      continue;
    }
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, options_.idle_poll, [this] { return stopping_; });
  }
}

void Worker::Heartbeat() {
  const auto every = std::max(options_.lease / 3, std::chrono::milliseconds(10));
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, every, [this] { return stopping_; });
    if (stopping_) break;
    const auto leases = running_;
    lock.unlock();
    for (const auto& [job_id, worker] : leases) {
      const Status s = store_.Renew(Lease{job_id, worker}, options_.lease);
      if (!s.ok()) {
        Log()->warn("worker.renew_failed job={} worker={} error={}", job_id, worker, base::LogQuote(s.ToString()));
      }
    }
    lock.lock();
  }
}

bool Worker::RunOnce() {
  auto claimed = store_.Claim(ids_.front(), options_.lease);
  if (!claimed.ok() || !claimed->has_value()) return false;
  Run(std::move(**claimed), ids_.front(), /*single_step=*/true);
  return true;
}

void Worker::Run(ClaimedJob job, const std::string& owner, bool single_step) {
  const Lease lease{job.id, owner};
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_.insert({job.id, owner});
  }
  rapidjson::Document outputs = ParseOutputs(job.outputs_json);
  // The first step of a claim may be a re-run (StepContext::resumed). It also gets the binding row
  // the claim read in the same statement that took the job when it asks for the row as it is
  // now: a second read would be younger only by the time the step took to start.
  bool first_step_of_claim = true;
  // The checkpoint of the step before, sent but not yet confirmed, and settle(), which waits for
  // it: before the step touches the store, and before the job's next write, so that a lost fence
  // still stops the job before it writes anything again.
  std::unique_ptr<PendingCheckpoint> pending;
  auto settle = [&pending]() -> Status {
    if (!pending) return Status::Ok();
    const Status s = pending->Wait();
    pending.reset();
    return s;
  };
  const auto claimed_at = std::chrono::steady_clock::now();
  Log()->info("worker.job_claimed job={} kind={} binding={} step={} attempt={}", job.id, osb::JobKindName(job.kind),
              job.binding.id, job.step, job.attempt);

  for (;;) {
    const FailureRun run = ReadFailureRun(outputs, job.step);
    JobPosition position;
    position.kind = job.kind;
    position.step = job.step;
    position.attempt = job.attempt + 1;
    position.max_attempts = job.max_attempts;
    position.deadline_at = job.deadline_at;
    position.failing_since = run.since;
    position.failures_before = run.count;
    position.retry_budget = options_.step_retry_budget;
    StepOutcome outcome;
    Decision d;
    if (clock_.Now() >= job.deadline_at) {
      d.kind = Decision::Kind::kFail;
      d.description = DeadlineDescription(job.kind);
    } else {
      StepContext ctx{job,
                      outputs,
                      cc_,
                      settings_,
                      clock_,
                      [this, &lease, &settle](const std::string& token_hash) {
                        BROKER_RETURN_IF_ERROR(settle());
                        return store_.SaveSessionTokenHash(lease, token_hash);
                      },
                      [this, &job, &first_step_of_claim, &settle]() -> base::Result<std::optional<osb::Binding>> {
                        if (first_step_of_claim) return std::optional<osb::Binding>(job.binding);
                        BROKER_RETURN_IF_ERROR(settle());
                        return store_.ReadBinding(job.binding.id);
                      },
                      &memo_,
                      /*resumed=*/first_step_of_claim};
      const auto started = std::chrono::steady_clock::now();
      outcome = RunStep(job.step, ctx);
      first_step_of_claim = false;
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
      if (outcome.kind == StepOutcome::Kind::kError && LeaseLost(outcome.status)) {
        Log()->warn("worker.lease_lost job={} binding={} step={}", job.id, job.binding.id, job.step);
        break;
      }
      const base::TimePoint ended = clock_.Now();
      d = Next(position, outcome, ended);
      UpdateFailureRun(outputs, job.step, run, d.kind == Decision::Kind::kRetry, ended);
      Log()->debug("worker.step job={} step={} outcome={} ms={}", job.id, job.step, static_cast<int>(outcome.kind), ms);
    }

    // The previous step's checkpoint first: when its fence did not hold, this step ran on a job
    // that was no longer this worker's, and its outcome is dropped unwritten.
    if (const Status settled = settle(); !settled.ok()) {
      LogWriteFailure(settled, job);
      break;
    }

    const base::TimePoint now = clock_.Now();
    const bool keep_going = d.kind == Decision::Kind::kAdvance && !single_step && !stop_flag_;

    // The job row's new state.
    JobUpdate update;
    update.outputs_json = osb::WriteJson(outputs);
    update.last_error = outcome.kind == StepOutcome::Kind::kError ? outcome.status.ToString() : std::string();
    update.step = job.step;
    update.attempt = job.attempt;
    update.run_at = now;
    switch (d.kind) {
      case Decision::Kind::kAdvance:
        update.step = d.next_step;
        update.attempt = 0;
        update.status = keep_going ? JobUpdate::Status::kRunning : JobUpdate::Status::kRetryable;
        break;
      case Decision::Kind::kRunAgain:
        update.status = JobUpdate::Status::kRetryable;
        update.run_at = d.run_at;
        break;
      case Decision::Kind::kRetry:
        update.status = JobUpdate::Status::kRetryable;
        update.run_at = d.run_at;
        update.attempt = job.attempt + 1;
        break;
      case Decision::Kind::kComplete:
        update.status = JobUpdate::Status::kCompleted;
        break;
      case Decision::Kind::kFail:
        update.status = JobUpdate::Status::kFailed;
        if (update.last_error.empty()) update.last_error = d.description;
        break;
    }

    // The binding learns its clone as soon as it exists (a teardown looks for it besides its
    // label), in the job's own write.
    if (job.kind == osb::JobKind::kClone && job.step == step::kCreateClone && d.kind == Decision::Kind::kAdvance) {
      update.clone = JobUpdate::Clone{CloneOutput(outputs, "guid"), CloneOutput(outputs, "name")};
    }

    // Decisions that move only the job row (and the binding's clone columns) take one fenced
    // write; the others (the job ends, or waits for the report) a transaction that locks the
    // binding row too.
    // The wait for the session report looks at the binding under its lock as it releases the job:
    // a report that came meanwhile ends the bind here; one that comes later finds the job waiting
    // (the session desk's lock order is the same, binding then job), so none falls in between.
    const bool awaits_report =
        job.kind == osb::JobKind::kClone && job.step == step::kAwaitSession && d.kind == Decision::Kind::kRunAgain;
    const bool job_only = d.kind == Decision::Kind::kAdvance ||
                          (d.kind == Decision::Kind::kRunAgain && !awaits_report) || d.kind == Decision::Kind::kRetry;
    // A checkpoint between two steps of this claim is confirmed while the next step runs: the
    // database writes it while the worker waits for Cloud Controller anyway, which saves a
    // round trip's wait (most of a statement's CPU) per step. Its fence is then known only after
    // the next step's platform calls. The lease cannot have run out by then while the claim is
    // younger than half the lease (steps take milliseconds to seconds; the heartbeat renews it
    // besides), so no other worker can hold the job meanwhile; an unbind that cancelled it is
    // seen at the next write, after one step more than before, whose calls the unbind's
    // teardown removes with the clone (it runs after any step, as when an unbind cancels a
    // running step). Older claims write synchronously.
    const bool pipelined =
        job_only && keep_going && std::chrono::steady_clock::now() - claimed_at < options_.lease / 2;
    if (pipelined) {
      pending = store_.BeginCheckpoint(lease, update);
      job.step = d.next_step;
      job.attempt = 0;
      continue;
    }
    bool ended_by_report = false;
    // The wait for the report, in one statement while the binding holds no credentials at all
    // (then no report came); otherwise the transaction below looks at what did.
    base::Result<bool> waiting = false;
    if (awaits_report) waiting = store_.CheckpointUnlessCredentials(lease, update);
    const Status written =
        !waiting.ok() ? waiting.status()
        : *waiting    ? Status::Ok()
        : job_only    ? store_.Checkpoint(lease, update)
                      : store_.Fenced(lease, [&](JobTx& tx) -> Status {
                          tx.job() = update;
                          ended_by_report = false;
                          if (!awaits_report) return ApplyToBinding(tx.store(), job, d, outputs, now);
                          BROKER_ASSIGN_OR_RETURN(ended_by_report, EndIfReported(tx.store(), job, outputs, now));
                          if (ended_by_report) tx.job().status = JobUpdate::Status::kCompleted;
                          return Status::Ok();
                        });

    if (!written.ok()) {
      LogWriteFailure(written, job);
      break;
    }
    switch (ended_by_report ? Decision::Kind::kComplete : d.kind) {
      case Decision::Kind::kComplete:
        Log()->info("worker.job_completed job={} kind={} binding={}", job.id, osb::JobKindName(job.kind), job.binding.id);
        break;
      case Decision::Kind::kFail:
        Log()->warn("worker.job_failed job={} kind={} binding={} step={} description={}", job.id,
                    osb::JobKindName(job.kind), job.binding.id, job.step, base::LogQuote(d.description));
        break;
      case Decision::Kind::kRetry:
        Log()->warn("worker.step_retry job={} binding={} step={} attempt={} error={}", job.id, job.binding.id, job.step,
                    job.attempt + 1, base::LogQuote(outcome.status.ToString()));
        break;
      default:
        break;
    }
    if (!keep_going) break;
    job.step = d.next_step;
    job.attempt = 0;
  }

  (void)settle();  // only after a break that already stopped the job: nothing left to decide
  std::lock_guard<std::mutex> lock(mu_);
  running_.erase({job.id, owner});
}

base::Result<bool> Worker::EndIfReported(osb::StoreTx& tx, const ClaimedJob& job,
                                         const rapidjson::Document& outputs, base::TimePoint now) const {
  BROKER_ASSIGN_OR_RETURN(std::optional<osb::Binding> row, tx.LockBinding(job.binding.id));
  if (!row.has_value() || row->deleted || row->operation_id != job.id || !SessionReported(*row)) return false;
  Decision complete;
  complete.kind = Decision::Kind::kComplete;
  BROKER_RETURN_IF_ERROR(ApplyToBinding(tx, job, complete, outputs, now));
  return true;
}

Status Worker::ApplyToBinding(osb::StoreTx& tx, const ClaimedJob& job, const Decision& d,
                              const rapidjson::Document& outputs, base::TimePoint now) const {
  BROKER_ASSIGN_OR_RETURN(std::optional<osb::Binding> row, tx.LockBinding(job.binding.id));
  // A binding that moved on (unbound, bound again) is no longer this job's to change.
  if (!row.has_value() || row->deleted || row->operation_id != job.id) return Status::Ok();
  osb::Event event;
  event.instance_id = row->instance_id;
  event.binding_id = job.binding.id;
  switch (d.kind) {
    case Decision::Kind::kComplete:
      if (job.kind == osb::JobKind::kClone) {
        CompleteBind(*row, outputs, settings_, now);
        event.kind = "binding.bound";
      } else {
        row->deleted = true;
        row->state = osb::OperationState::kSucceeded;
        row->description.clear();
        event.kind = "binding.unbound";
      }
      BROKER_RETURN_IF_ERROR(tx.UpdateBinding(*row));
      return tx.RecordEvent(event);
    case Decision::Kind::kFail: {
      row->state = osb::OperationState::kFailed;
      row->description = d.description;
      BROKER_RETURN_IF_ERROR(tx.UpdateBinding(*row));
      event.kind = job.kind == osb::JobKind::kClone ? "binding.bind_failed" : "binding.unbind_failed";
      BROKER_RETURN_IF_ERROR(tx.RecordEvent(event));
      if (job.kind == osb::JobKind::kClone && IsAtOrAfter(job.kind, job.step, step::kCreateClone)) {
        // Whatever part of the clone exists goes now, not when the platform's unbind comes.
        osb::NewJob cleanup;
        cleanup.binding_id = row->id;
        cleanup.kind = osb::JobKind::kTeardown;
        cleanup.first_step = step::kFindClone;
        cleanup.max_attempts = kCleanupMaxAttempts;
        cleanup.deadline_at = now + kCleanupDeadline;
        BROKER_RETURN_IF_ERROR(tx.EnqueueJob(cleanup).status());
      }
      return Status::Ok();
    }
    case Decision::Kind::kAdvance:  // the job's own write (JobUpdate::clone)
    case Decision::Kind::kRunAgain:
    case Decision::Kind::kRetry:
      return Status::Ok();
  }
  return Status::Internal("unknown decision");
}

}  // namespace broker::clone
