#include "broker/clone/worker.h"

#include <algorithm>

#include "broker/base/digest.h"
#include "broker/base/ids.h"
#include "broker/base/log.h"
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

rapidjson::Document ParseOutputs(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError() || !d.IsObject()) d.SetObject();
  return d;
}

std::string OutputString(const rapidjson::Value& outputs, const char* object, const char* key) {
  if (!outputs.IsObject()) return {};
  const auto o = outputs.FindMember(object);
  if (o == outputs.MemberEnd() || !o->value.IsObject()) return {};
  const auto v = o->value.FindMember(key);
  return v != o->value.MemberEnd() && v->value.IsString() ? v->value.GetString() : "";
}

// https://<binding>:<key>@host/ssh-access/v1/bindings/<binding>/session: `curl "$session_url"`
// authenticates with HTTP Basic, and the key never travels in a request line a proxy might log.
std::string SessionUrl(const std::string& public_url, const std::string& binding_id, const std::string& key) {
  std::string base = public_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const auto scheme = base.find("://");
  const std::string userinfo = binding_id + ":" + key + "@";
  if (scheme == std::string::npos) return base + "/ssh-access/v1/bindings/" + binding_id + "/session";
  return base.substr(0, scheme + 3) + userinfo + base.substr(scheme + 3) + "/ssh-access/v1/bindings/" + binding_id +
         "/session";
}

bool IsAtOrAfter(osb::JobKind kind, const std::string& step, std::string_view reference) {
  const auto& steps = Steps(kind);
  const auto at = std::find(steps.begin(), steps.end(), step);
  const auto ref = std::find(steps.begin(), steps.end(), reference);
  return at != steps.end() && ref != steps.end() && at >= ref;
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
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this, i] { Loop(i); });
  heartbeat_ = std::thread([this] { Heartbeat(); });
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
  Log()->info("worker.job_claimed job={} kind={} binding={} step={} attempt={}", job.id, osb::JobKindName(job.kind),
              job.binding.id, job.step, job.attempt);

  for (;;) {
    const JobPosition position{job.kind, job.step, job.attempt + 1, job.max_attempts, job.deadline_at};
    StepOutcome outcome;
    Decision d;
    if (clock_.Now() >= job.deadline_at) {
      d.kind = Decision::Kind::kFail;
      d.description = DeadlineDescription(job.kind);
    } else {
      StepContext ctx{job, outputs, cc_, settings_, clock_,
                      [this, &lease](const std::function<Status(JobTx&)>& fn) { return store_.Fenced(lease, fn); },
                      [this, &job]() { return store_.ReadBinding(job.binding.id); }};
      const auto started = std::chrono::steady_clock::now();
      outcome = RunStep(job.step, ctx);
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
      if (outcome.kind == StepOutcome::Kind::kError && LeaseLost(outcome.status)) {
        Log()->warn("worker.lease_lost job={} binding={} step={}", job.id, job.binding.id, job.step);
        break;
      }
      d = Next(position, outcome, clock_.Now());
      Log()->debug("worker.step job={} step={} outcome={} ms={}", job.id, job.step, static_cast<int>(outcome.kind), ms);
    }

    const base::TimePoint now = clock_.Now();
    const bool keep_going = d.kind == Decision::Kind::kAdvance && !single_step && !stop_flag_;
    const std::string outputs_text = osb::WriteJson(outputs);
    const Status written = store_.Fenced(lease, [&](JobTx& tx) -> Status {
      JobUpdate& u = tx.job();
      u.outputs_json = outputs_text;
      u.last_error = outcome.kind == StepOutcome::Kind::kError ? outcome.status.ToString() : std::string();
      u.step = job.step;
      u.attempt = job.attempt;
      switch (d.kind) {
        case Decision::Kind::kAdvance:
          u.step = d.next_step;
          u.attempt = 0;
          u.status = keep_going ? JobUpdate::Status::kRunning : JobUpdate::Status::kRetryable;
          u.run_at = now;
          if (job.kind == osb::JobKind::kClone && job.step == step::kCreateClone) {
            // The binding learns its clone as soon as it exists (GET and teardown use it).
            BROKER_ASSIGN_OR_RETURN(std::optional<osb::Binding> row, tx.store().LockBinding(job.binding.id));
            if (row.has_value() && row->operation_id == job.id) {
              row->clone_app_guid = OutputString(outputs, "clone", "guid");
              row->clone_app_name = OutputString(outputs, "clone", "name");
              BROKER_RETURN_IF_ERROR(tx.store().UpdateBinding(*row));
            }
          }
          return Status::Ok();
        case Decision::Kind::kRunAgain:
          u.status = JobUpdate::Status::kRetryable;
          u.run_at = d.run_at;
          return Status::Ok();
        case Decision::Kind::kRetry:
          u.status = JobUpdate::Status::kRetryable;
          u.run_at = d.run_at;
          u.attempt = job.attempt + 1;
          return Status::Ok();
        case Decision::Kind::kComplete: {
          u.status = JobUpdate::Status::kCompleted;
          BROKER_ASSIGN_OR_RETURN(std::optional<osb::Binding> row, tx.store().LockBinding(job.binding.id));
          if (!row.has_value() || row->deleted || row->operation_id != job.id) return Status::Ok();
          osb::Event event;
          event.instance_id = row->instance_id;
          event.binding_id = row->id;
          if (job.kind == osb::JobKind::kClone) {
            const std::string key = base::RandomHex(32);
            const auto expires = now + std::chrono::minutes(CloneTtlMinutes(*row, settings_));
            row->credentials_json =
                AssembleCredentials(row->credentials_json, outputs, SessionUrl(settings_.public_url, row->id, key), expires);
            row->session_key_hash = base::Sha256Hex(key);
            row->expires_at = expires;
            row->clone_app_guid = OutputString(outputs, "clone", "guid");
            row->clone_app_name = OutputString(outputs, "clone", "name");
            event.kind = "binding.bound";
          } else {
            row->deleted = true;
            event.kind = "binding.unbound";
          }
          row->state = osb::OperationState::kSucceeded;
          row->description.clear();
          BROKER_RETURN_IF_ERROR(tx.store().UpdateBinding(*row));
          return tx.store().RecordEvent(event);
        }
        case Decision::Kind::kFail: {
          u.status = JobUpdate::Status::kFailed;
          if (u.last_error.empty()) u.last_error = d.description;
          BROKER_ASSIGN_OR_RETURN(std::optional<osb::Binding> row, tx.store().LockBinding(job.binding.id));
          if (!row.has_value() || row->deleted || row->operation_id != job.id) return Status::Ok();
          row->state = osb::OperationState::kFailed;
          row->description = d.description;
          BROKER_RETURN_IF_ERROR(tx.store().UpdateBinding(*row));
          osb::Event event;
          event.kind = job.kind == osb::JobKind::kClone ? "binding.bind_failed" : "binding.unbind_failed";
          event.instance_id = row->instance_id;
          event.binding_id = row->id;
          BROKER_RETURN_IF_ERROR(tx.store().RecordEvent(event));
          if (job.kind == osb::JobKind::kClone && IsAtOrAfter(job.kind, job.step, step::kCreateClone)) {
            // Whatever part of the clone exists goes now, not when the platform's unbind comes.
            osb::NewJob cleanup;
            cleanup.binding_id = row->id;
            cleanup.kind = osb::JobKind::kTeardown;
            cleanup.first_step = step::kFindClone;
            cleanup.max_attempts = kCleanupMaxAttempts;
            cleanup.deadline_at = now + kCleanupDeadline;
            BROKER_RETURN_IF_ERROR(tx.store().EnqueueJob(cleanup).status());
          }
          return Status::Ok();
        }
      }
      return Status::Internal("unknown decision");
    });

    if (!written.ok()) {
      if (LeaseLost(written)) {
        Log()->warn("worker.lease_lost job={} binding={} step={}", job.id, job.binding.id, job.step);
      } else {
        // The database is unreachable: the lease expires and the job is claimed again later.
        Log()->error("worker.write_failed job={} binding={} step={} error={}", job.id, job.binding.id, job.step,
                     base::LogQuote(written.ToString()));
      }
      break;
    }
    switch (d.kind) {
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

  std::lock_guard<std::mutex> lock(mu_);
  running_.erase({job.id, owner});
}

}  // namespace broker::clone
