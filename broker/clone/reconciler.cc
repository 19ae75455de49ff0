#include "broker/clone/reconciler.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "broker/base/log.h"
#include "broker/base/thread.h"

namespace broker::clone {
namespace {

using base::Code;
using base::Status;

std::shared_ptr<spdlog::logger> Log() {
  static const std::shared_ptr<spdlog::logger> logger = base::Logger("reconciler");
  return logger;
}

std::string Quoted(const Status& s) { return base::LogQuote(s.ToString()); }

std::optional<std::string> Find(const std::map<std::string, std::string>& m, const std::string& key) {
  const auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

}  // namespace

Reconciler::Reconciler(JobStore& store, CloudController& cc, const EngineSettings& settings, const base::Clock& clock,
                       ReconcilerOptions options)
    : store_(store), cc_(cc), settings_(settings), clock_(clock), options_(std::move(options)) {}

Reconciler::~Reconciler() { Stop(); }

void Reconciler::Start() {
  if (options_.interval.count() <= 0 || thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] {
    base::NameThisThread("reconciler");
    Loop();
  });
  Log()->info("reconciler.started interval_ms={} orphan_grace_s={}", options_.interval.count(),
              options_.orphan_grace.count());
}

void Reconciler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    Log()->info("reconciler.stopped");
  }
}

bool Reconciler::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !wake_.wait_for(lock, d, [this] { return stopping_; });
}

void Reconciler::Loop() {
  do {
    const auto started = std::chrono::steady_clock::now();
    auto report = RunOnce();
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    if (!report.ok()) {
      Log()->warn("reconciler.pass_incomplete ms={} error={}", ms, Quoted(report.status()));
    } else if (report->expired > 0 || report->orphans_found > 0 || report->errors > 0) {
      Log()->info("reconciler.pass expired={} orphans_found={} orphans_deleted={} orphans_young={} errors={} ms={}",
                  report->expired, report->orphans_found, report->orphans_deleted, report->orphans_young,
                  report->errors, ms);
    } else {
      Log()->debug("reconciler.pass expired=0 orphans_found=0 errors=0 ms={}", ms);
    }
  } while (SleepFor(options_.interval));
}

base::Result<ReconcileReport> Reconciler::RunOnce() {
  ReconcileReport report;
  Status first_failure = Status::Ok();
  ExpireBindings(report, first_failure);
  DeleteOrphans(report, first_failure);
  if (!first_failure.ok()) return first_failure;
  return report;
}

void Reconciler::ExpireBindings(ReconcileReport& report, Status& first_failure) {
  auto ids = store_.ListExpiredBindings(std::max(options_.expired_batch, 1));
  if (!ids.ok()) {
    Log()->warn("reconciler.list_expired_failed error={}", Quoted(ids.status()));
    if (first_failure.ok()) first_failure = ids.status();
    return;
  }
  for (const std::string& id : *ids) {
    osb::NewJob teardown;
    teardown.binding_id = id;
    teardown.kind = osb::JobKind::kTeardown;
    teardown.first_step = std::string(step::kFindClone);
    teardown.max_attempts = options_.teardown_max_attempts;
    teardown.deadline_at = clock_.Now() + options_.teardown_deadline;
    osb::Event event;
    event.kind = "binding.expired";
    event.binding_id = id;
    auto job = store_.ExpireBinding(id, teardown, event);
    if (!job.ok()) {
      ++report.errors;
      Log()->warn("reconciler.expire_failed binding={} error={}", id, Quoted(job.status()));
    } else if (job->has_value()) {
      ++report.expired;
      Log()->info("reconciler.binding_expired binding={} job={}", id, **job);
    } else {
      Log()->debug("reconciler.expire_skipped binding={} why=no_longer_due", id);
    }
  }
}

void Reconciler::DeleteOrphans(ReconcileReport& report, Status& first_failure) {
  const std::string selector = ManagedByLabel(settings_) + "=ssh-access";
  auto apps = cc_.FindAppsByLabel(selector);
  if (!apps.ok()) {
    Log()->warn("reconciler.list_clones_failed error={}", Quoted(apps.status()));
    if (first_failure.ok()) first_failure = apps.status();
    return;
  }
  const std::string binding_label = BindingLabel(settings_);
  const std::string created_annotation = settings_.metadata_prefix + "/created-at";
  for (const App& app : *apps) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    const auto binding_id = Find(app.labels, binding_label);
    if (!binding_id.has_value() || binding_id->empty()) {
      Log()->debug("reconciler.clone_unattributed app={}", app.guid);
      continue;
    }
    auto binding = store_.ReadBinding(*binding_id);
    if (!binding.ok()) {
      ++report.errors;
      Log()->warn("reconciler.read_binding_failed app={} binding={} error={}", app.guid, *binding_id,
                  Quoted(binding.status()));
      continue;
    }
    if (binding->has_value() && !(*binding)->deleted) continue;  // live: not ours to touch
    ++report.orphans_found;
    const char* why = binding->has_value() ? "tombstone" : "unknown_binding";

    if (const auto created_text = Find(app.annotations, created_annotation); created_text.has_value()) {
      const auto created = base::ParseIso8601(*created_text);
      if (!created.has_value()) {
        Log()->warn("reconciler.orphan_created_at_unreadable app={} binding={}", app.guid, *binding_id);
      } else if (clock_.Now() - *created < options_.orphan_grace) {
        ++report.orphans_young;
        Log()->info("reconciler.orphan_young app={} binding={} why={}", app.guid, *binding_id, why);
        continue;
      }
    }
    Log()->info("reconciler.orphan_found app={} binding={} why={}", app.guid, *binding_id, why);
    if (DeleteOrphan(app, *binding_id)) {
      ++report.orphans_deleted;
    } else {
      ++report.errors;
    }
  }
}

bool Reconciler::DeleteOrphan(const App& app, const std::string& binding_id) {
  const std::string& guid = app.guid;
  auto gone = [&] {
    Log()->info("reconciler.orphan_gone app={} binding={}", guid, binding_id);
    return true;
  };
  auto failed = [&](const char* call, const Status& s) {
    Log()->warn("reconciler.cc_failed app={} binding={} call={} error={}", guid, binding_id, call, Quoted(s));
    return false;
  };

  if (const Status s = cc_.StopApp(guid); !s.ok()) {
    if (s.code() == Code::kNotFound) return gone();
    return failed("stop_app", s);
  }

  auto bindings = cc_.ListAppBindings(guid);
  if (!bindings.ok()) {
    if (bindings.status().code() == Code::kNotFound) return gone();
    return failed("list_app_bindings", bindings.status());
  }
  std::vector<std::string> unbind_jobs;
  for (const ServiceBinding& b : *bindings) {
    auto job = cc_.DeleteServiceBinding(b.guid);
    if (!job.ok()) {
      const Code code = job.status().code();
      if (code == Code::kNotFound) continue;
      if (code == Code::kFailedPrecondition) {
        // An operation on it is in progress: the app delete takes it along, or fails and the
        // next pass tries again once it settled.
        Log()->info("reconciler.orphan_unbind_deferred app={} binding={} service_binding={} error={}", guid,
                    binding_id, b.guid, Quoted(job.status()));
        continue;
      }
      return failed("delete_service_binding", job.status());
    }
    if (job->has_value()) unbind_jobs.push_back(**job);
  }

  // A CC without recursive app delete fails the delete while a managed unbind runs: follow the
  // unbind jobs for a while first.
  const auto until = std::chrono::steady_clock::now() + options_.orphan_job_wait;
  bool unbind_failed = false;  // logged; the app delete goes ahead
  if (auto s = FollowJobs(unbind_jobs, until, guid, binding_id, unbind_failed); !s.ok()) return failed("get_job", s);

  auto deleted = cc_.DeleteApp(guid);
  if (!deleted.ok()) {
    if (deleted.status().code() == Code::kNotFound) return gone();
    return failed("delete_app", deleted.status());
  }
  // Follow the delete job too (again for a bounded while): a FAILED delete (an unbind still in
  // progress on a legacy CC) leaves the app for the next pass.
  std::vector<std::string> delete_job = {*deleted};
  bool delete_failed = false;
  if (auto s = FollowJobs(delete_job, until, guid, binding_id, delete_failed); !s.ok()) return failed("get_job", s);
  if (delete_failed) {
    Log()->warn("reconciler.orphan_delete_failed app={} binding={} cc_job={}", guid, binding_id, *deleted);
    return false;
  }
  if (!delete_job.empty()) {
    Log()->info("reconciler.orphan_delete_pending app={} binding={} cc_job={}", guid, binding_id, *deleted);
    return true;
  }
  Log()->info("reconciler.orphan_deleted app={} binding={} cc_job={}", guid, binding_id, *deleted);
  return true;
}

Status Reconciler::FollowJobs(std::vector<std::string>& jobs, std::chrono::steady_clock::time_point until,
                              const std::string& app_guid, const std::string& binding_id, bool& any_failed) {
  while (!jobs.empty()) {
    std::vector<std::string> still;
    for (const std::string& j : jobs) {
      auto job = cc_.GetJob(j);
      if (!job.ok()) {
        if (job.status().code() != Code::kNotFound) return job.status();
        continue;  // pruned: finished long ago
      }
      if (job->state == "FAILED") {
        any_failed = true;
        Log()->warn("reconciler.cc_job_failed app={} binding={} cc_job={} title={}", app_guid, binding_id, j,
                    job->error_title);
      } else if (job->state != "COMPLETE") {
        still.push_back(j);
      }
    }
    jobs = std::move(still);
    if (jobs.empty() || std::chrono::steady_clock::now() >= until) break;
    if (!SleepFor(settings_.poll_interval)) break;
  }
  return Status::Ok();
}

}  // namespace broker::clone
