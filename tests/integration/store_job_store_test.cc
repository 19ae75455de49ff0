// store::PgStore as the clone engine's clone::JobStore, against a real PostgreSQL (a fresh schema
// per test): claims under a lease, renewal, fenced writes and their failure codes.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/clone/job_store.h"
#include "broker/store/cipher.h"
#include "broker/store/pg_pool.h"
#include "broker/store/pg_store.h"
#include "tests/support/test_database.h"

namespace broker::store {
namespace {

using base::Code;
using base::Status;
using clone::ClaimedJob;
using clone::JobTx;
using clone::JobUpdate;
using clone::Lease;
using testing::TestDatabase;
using Rows = std::vector<std::vector<std::string>>;
using std::chrono::milliseconds;

constexpr const char* kKeyA = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr const char* kKeyB = "//////////////////////////////////////////8=";
constexpr milliseconds kLongLease{60000};

base::TimePoint Millis(std::int64_t ms) { return base::TimePoint(milliseconds(ms)); }

KeyRing Ring(const std::string& spec) {
  auto ring = KeyRing::FromSpec(spec);
  REQUIRE(ring.ok());
  return std::move(ring).value();
}

struct Fixture {
  explicit Fixture(int connections = 4)
      : pool(Options(db, connections)), store(pool, Ring(std::string("a:") + kKeyA)) {
    osb::Instance in;
    in.id = "inst-1";
    in.service_id = "svc-1";
    in.plan_id = "plan-1";
    in.organization_guid = "org-1";
    in.space_guid = "space-1";
    REQUIRE(store.InTransaction([&](osb::StoreTx& tx) { return tx.InsertInstance(in); }).ok());
  }

  static PgPool::Options Options(TestDatabase& db, int connections) {
    db.ApplyMigrations();
    PgPool::Options o;
    o.url = db.url();
    o.max_connections = connections;
    o.acquire_timeout = milliseconds(20000);
    return o;
  }

  osb::Binding AddBinding(const std::string& id, bool with_credentials = true) {
    osb::Binding b;
    b.id = id;
    b.instance_id = "inst-1";
    b.service_id = "svc-1";
    b.plan_id = "plan-1";
    b.app_guid = "app-" + id;
    b.space_guid = "space-1";
    b.state = osb::OperationState::kInProgress;
    b.description = "cloning";
    if (with_credentials) b.credentials_json = R"({"ssh_command":"ssh SECRETTOKEN@h"})";
    b.session_token_hash = "tokenhash-" + id;
    b.session_key_hash = "keyhash-" + id;
    b.created_at = Millis(1700000000000);
    REQUIRE(store.InTransaction([&](osb::StoreTx& tx) { return tx.InsertBinding(b); }).ok());
    return b;
  }

  std::int64_t Enqueue(const std::string& binding_id, osb::JobKind kind = osb::JobKind::kClone) {
    std::int64_t id = 0;
    const Status s = store.InTransaction([&](osb::StoreTx& tx) {
      auto r = tx.EnqueueJob(
          osb::NewJob{binding_id, kind, "resolve_source_app", 7, Millis(1900000000000)});
      if (!r.ok()) return r.status();
      id = *r;
      return Status::Ok();
    });
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    return id;
  }

  // A binding and its clone job, the binding's operation (as a PUT makes them), claimed by
  // `worker`. Returns the job's id.
  std::int64_t AddClaimedBind(const std::string& binding_id, const std::string& worker,
                              bool with_credentials = true) {
    AddBinding(binding_id, with_credentials);
    const auto id = Enqueue(binding_id);
    db.Query("UPDATE service_bindings SET operation_id = " + std::to_string(id) + " WHERE id = '" + binding_id + "'");
    REQUIRE(MustClaim(worker).has_value());
    return id;
  }

  // Runs `write` while another worker's claim of job `id` (its lease made to have lapsed) holds the
  // job row, uncommitted; checks that `write` waits for it, commits the claim, and returns what
  // `write` returned.
  Status WhileAClaimTakesTheJob(std::int64_t id, const std::function<Status()>& write) {
    db.Query("UPDATE jobs SET locked_until = now() - interval '1 second' WHERE id = " + std::to_string(id));
    db.Query("BEGIN");
    db.Query("UPDATE jobs SET locked_by = 'w2', locked_until = now() + interval '1 minute' WHERE id = " +
             std::to_string(id));
    std::atomic<bool> done{false};
    Status written;
    std::thread writer([&] {
      written = write();
      done = true;
    });
    std::this_thread::sleep_for(milliseconds(300));
    CHECK_FALSE(done.load());  // waiting for the claim's row lock
    db.Query("COMMIT");
    writer.join();
    return written;
  }

  std::optional<ClaimedJob> MustClaim(const std::string& worker, milliseconds lease = kLongLease) {
    auto r = store.Claim(worker, lease);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    return std::move(r).value();
  }

  // The job row's status, locked_by ("" for NULL), and whether locked_until / finalized_at are set.
  std::vector<std::string> JobRow(std::int64_t id) {
    const Rows rows = db.Query(
        "SELECT status, COALESCE(locked_by, ''), locked_until IS NOT NULL, "
        "finalized_at IS NOT NULL FROM jobs WHERE id = " +
        std::to_string(id));
    REQUIRE(rows.size() == 1);
    return rows[0];
  }

  std::int64_t DbNowMillis() {
    return std::stoll(db.Query("SELECT floor(extract(epoch from now()) * 1000)::bigint")[0][0]);
  }

  TestDatabase db;
  PgPool pool;
  PgStore store;
};

bool IsLeaseLost(const Status& s) {
  return s.code() == Code::kFailedPrecondition && s.reason() == clone::kLeaseLost;
}

// A Fenced() function that must never run, and writes if it does.
std::function<Status(JobTx&)> MustNotRun(int* calls) {
  return [calls](JobTx& tx) {
    ++*calls;
    tx.job().status = JobUpdate::Status::kCompleted;
    return Status::Ok();
  };
}

TEST_SUITE("store::PgStore as clone::JobStore") {
  TEST_CASE("Claim takes the oldest runnable job, with its binding, under a lease") {
    Fixture f;
    const osb::Binding b = f.AddBinding("bind-1");
    f.AddBinding("bind-2", false);
    CHECK_FALSE(f.MustClaim("w1").has_value());  // nothing enqueued

    const auto future = f.Enqueue("bind-1");
    const auto older = f.Enqueue("bind-1");
    const auto newer = f.Enqueue("bind-2", osb::JobKind::kTeardown);
    f.db.Query("UPDATE jobs SET run_at = now() + interval '1 hour' WHERE id = " +
               std::to_string(future));
    // The newer job has been runnable for longer (the older one waited on the platform and is
    // due again just now): the older one still goes first, so jobs finish in the order they came.
    f.db.Query("UPDATE jobs SET run_at = now() - interval '2 minutes' WHERE id = " +
               std::to_string(newer));
    f.db.Query("UPDATE jobs SET run_at = now() - interval '1 second', status = 'retryable' WHERE id = " +
               std::to_string(older));

    const auto first = f.MustClaim("w1");
    REQUIRE(first.has_value());
    CHECK(first->id == older);
    CHECK(first->kind == osb::JobKind::kClone);
    CHECK(first->step == "resolve_source_app");
    CHECK(first->outputs_json == "{}");
    CHECK(first->attempt == 0);
    CHECK(first->max_attempts == 7);
    CHECK(first->deadline_at == Millis(1900000000000));
    CHECK(first->created_at > Millis(1700000000000));
    CHECK(first->binding.id == "bind-1");
    CHECK(first->binding.app_guid == b.app_guid);
    CHECK(first->binding.credentials_json == b.credentials_json);  // decrypted
    CHECK(first->binding.session_token_hash == "tokenhash-bind-1");
    CHECK(first->binding.session_key_hash == "keyhash-bind-1");
    CHECK(f.JobRow(older) == std::vector<std::string>{"running", "w1", "t", "f"});
    // The lease is now() + 60 s on the database clock.
    CHECK(f.db.Query("SELECT locked_until > now() + interval '55 seconds' AND locked_until <= "
                     "now() + interval '60 seconds' FROM jobs WHERE id = " +
                     std::to_string(older)) == Rows{{"t"}});

    const auto second = f.MustClaim("w2");
    REQUIRE(second.has_value());
    CHECK(second->id == newer);
    CHECK(second->kind == osb::JobKind::kTeardown);
    CHECK(second->binding.id == "bind-2");
    CHECK(second->binding.credentials_json.empty());

    SUBCASE("when a job's run_at is in the future, it is not claimable until then") {
      CHECK_FALSE(f.MustClaim("w3").has_value());
      CHECK(f.JobRow(future) == std::vector<std::string>{"available", "", "f", "f"});
      f.db.Query("UPDATE jobs SET run_at = now() - interval '1 second' WHERE id = " +
                 std::to_string(future));
      const auto third = f.MustClaim("w3");
      REQUIRE(third.has_value());
      CHECK(third->id == future);
    }
    SUBCASE("when the worker id is empty or the lease is not positive, kInvalidArgument") {
      CHECK(f.store.Claim("", kLongLease).status().code() == Code::kInvalidArgument);
      CHECK(f.store.Claim("w3", milliseconds(0)).status().code() == Code::kInvalidArgument);
      CHECK(f.JobRow(future) == std::vector<std::string>{"available", "", "f", "f"});
    }
  }

  TEST_CASE("16 workers claiming concurrently from 50 jobs take every job exactly once") {
    constexpr int kWorkers = 16;
    constexpr int kJobs = 50;
    Fixture f(kWorkers);
    f.AddBinding("bind-1");
    std::set<std::int64_t> enqueued;
    for (int i = 0; i < kJobs; ++i) enqueued.insert(f.Enqueue("bind-1"));
    REQUIRE(enqueued.size() == kJobs);

    // Several rounds, each from all jobs available again: a claim that is not exclusive shows up
    // as a job claimed twice in some round.
    constexpr int kRounds = 4;
    for (int round = 0; round < kRounds; ++round) {
      CAPTURE(round);
      f.db.Query("UPDATE jobs SET status = 'available', locked_by = NULL, locked_until = NULL");
      std::mutex mu;
      std::vector<std::pair<std::int64_t, std::string>> claims;  // job id, worker
      std::vector<std::string> errors;
      std::atomic<int> ready{0};
      std::vector<std::thread> workers;
      for (int w = 0; w < kWorkers; ++w) {
        workers.emplace_back([&, w] {
          const std::string worker = "worker-" + std::to_string(w);
          ready.fetch_add(1);
          while (ready.load() < kWorkers) std::this_thread::yield();
          for (;;) {
            auto r = f.store.Claim(worker, kLongLease);
            std::lock_guard<std::mutex> lock(mu);
            if (!r.ok()) {
              errors.push_back(r.status().ToString());
              return;
            }
            if (!r->has_value()) return;
            claims.emplace_back((*r)->id, worker);
          }
        });
      }
      for (auto& t : workers) t.join();

      CHECK(errors.empty());
      CHECK(claims.size() == kJobs);
      std::map<std::int64_t, std::string> holder;
      for (const auto& [id, worker] : claims) {
        CHECK_MESSAGE(holder.emplace(id, worker).second, "job " << id << " was claimed twice");
      }
      std::set<std::int64_t> claimed;
      for (const auto& [id, worker] : holder) claimed.insert(id);
      CHECK(claimed == enqueued);
      // The database agrees on who holds each job.
      for (const auto& row : f.db.Query("SELECT id, status, locked_by FROM jobs ORDER BY id")) {
        CHECK(row[1] == "running");
        CHECK(holder[std::stoll(row[0])] == row[2]);
      }
      CHECK_FALSE(f.MustClaim("late-worker").has_value());
    }
  }

  TEST_CASE("an expired lease is claimed again; the first worker's Renew and Fenced then fail") {
    Fixture f;
    f.AddBinding("bind-1");
    const auto id = f.Enqueue("bind-1");
    const auto first = f.MustClaim("w1", milliseconds(1000));
    REQUIRE(first.has_value());
    CHECK_FALSE(f.MustClaim("w2").has_value());  // the lease still holds

    std::this_thread::sleep_for(milliseconds(1300));
    const auto again = f.MustClaim("w2");
    REQUIRE(again.has_value());
    CHECK(again->id == id);
    CHECK(again->attempt == 0);  // a dead worker's attempt is not counted again
    CHECK(again->step == "resolve_source_app");
    CHECK(f.JobRow(id) == std::vector<std::string>{"running", "w2", "t", "f"});

    const std::string before = f.db.Snapshot();
    CHECK(IsLeaseLost(f.store.Renew(Lease{id, "w1"}, kLongLease)));
    int calls = 0;
    CHECK(IsLeaseLost(f.store.Fenced(Lease{id, "w1"}, MustNotRun(&calls))));
    CHECK(calls == 0);
    CHECK(f.db.Snapshot() == before);

    // The new holder's fence holds.
    CHECK(f.store.Renew(Lease{id, "w2"}, kLongLease).ok());
    CHECK(f.store.Fenced(Lease{id, "w2"}, [](JobTx&) { return Status::Ok(); }).ok());
  }

  TEST_CASE("Renew extends a held lease on the database clock and is fenced") {
    Fixture f;
    f.AddBinding("bind-1");
    const auto id = f.Enqueue("bind-1");
    REQUIRE(f.MustClaim("w1", milliseconds(1000)).has_value());
    REQUIRE(f.store.Renew(Lease{id, "w1"}, kLongLease).ok());
    CHECK(f.db.Query("SELECT locked_until > now() + interval '55 seconds' FROM jobs WHERE id = " +
                     std::to_string(id)) == Rows{{"t"}});
    CHECK(f.JobRow(id) == std::vector<std::string>{"running", "w1", "t", "f"});

    const std::string before = f.db.Snapshot();
    SUBCASE("when another worker names the job") {
      CHECK(IsLeaseLost(f.store.Renew(Lease{id, "w2"}, kLongLease)));
    }
    SUBCASE("when the job does not exist") {
      CHECK(IsLeaseLost(f.store.Renew(Lease{id + 1000, "w1"}, kLongLease)));
    }
    SUBCASE("when the duration is not positive") {
      CHECK(f.store.Renew(Lease{id, "w1"}, milliseconds(0)).code() == Code::kInvalidArgument);
    }
    CHECK(f.db.Snapshot() == before);
  }

  TEST_CASE("a job cancelled through StoreTx::CancelJobs fails the fence") {
    Fixture f;
    f.AddBinding("bind-1");
    const auto id = f.Enqueue("bind-1");
    REQUIRE(f.MustClaim("w1").has_value());
    int cancelled = 0;
    REQUIRE(f.store
                .InTransaction([&](osb::StoreTx& tx) {
                  auto r = tx.CancelJobs("bind-1", osb::JobKind::kClone);
                  if (!r.ok()) return r.status();
                  cancelled = *r;
                  return Status::Ok();
                })
                .ok());
    REQUIRE(cancelled == 1);

    const std::string before = f.db.Snapshot();
    int calls = 0;
    CHECK(IsLeaseLost(f.store.Fenced(Lease{id, "w1"}, MustNotRun(&calls))));
    CHECK(calls == 0);
    CHECK(IsLeaseLost(f.store.Renew(Lease{id, "w1"}, kLongLease)));
    CHECK(f.db.Snapshot() == before);
    CHECK(f.db.Query("SELECT status FROM jobs") == Rows{{"cancelled"}});
    CHECK_FALSE(f.MustClaim("w2").has_value());
  }

  TEST_CASE("Fenced whose function fails writes nothing, neither job nor binding") {
    Fixture f;
    f.AddBinding("bind-1");
    const auto id = f.Enqueue("bind-1");
    REQUIRE(f.MustClaim("w1").has_value());
    const std::string before = f.db.Snapshot();

    int calls = 0;
    const Status s = f.store.Fenced(Lease{id, "w1"}, [&](JobTx& tx) {
      ++calls;
      auto b = tx.store().LockBinding("bind-1");
      if (!b.ok()) return b.status();
      (*b)->state = osb::OperationState::kSucceeded;
      (*b)->description = "should not be written";
      BROKER_RETURN_IF_ERROR(tx.store().UpdateBinding(**b));
      auto job = tx.store().EnqueueJob(
          osb::NewJob{"bind-1", osb::JobKind::kTeardown, "stop", 3, Millis(1900000000000)});
      if (!job.ok()) return job.status();
      tx.job().status = JobUpdate::Status::kCompleted;
      tx.job().step = "done";
      tx.job().outputs_json = R"({"clone_app_guid":"g"})";
      return Status::PermissionDenied("not allowed to create apps");
    });
    CHECK(s.code() == Code::kPermissionDenied);
    CHECK(s.message() == "not allowed to create apps");
    CHECK(calls == 1);
    CHECK(f.db.Snapshot() == before);
    CHECK(f.JobRow(id) == std::vector<std::string>{"running", "w1", "t", "f"});
  }

  TEST_CASE("Fenced writes a binding update and the job update in one transaction") {
    Fixture f;
    f.AddBinding("bind-1", false);
    const auto id = f.Enqueue("bind-1");
    REQUIRE(f.MustClaim("w1").has_value());

    const auto succeed = [&](const std::string& outputs) {
      return f.store.Fenced(Lease{id, "w1"}, [&](JobTx& tx) {
        auto b = tx.store().LockBinding("bind-1");
        if (!b.ok()) return b.status();
        (*b)->state = osb::OperationState::kSucceeded;
        (*b)->description = "ssh session ready";
        (*b)->credentials_json = R"({"ssh_command":"ssh NEWSECRET@h"})";
        (*b)->session_key_hash = "final-key-hash";
        BROKER_RETURN_IF_ERROR(tx.store().UpdateBinding(**b));
        tx.job().status = JobUpdate::Status::kCompleted;
        tx.job().step = "done";
        tx.job().outputs_json = outputs;
        tx.job().attempt = 0;
        tx.job().last_error = "";
        return Status::Ok();
      });
    };

    SUBCASE("when both writes succeed, both are visible") {
      REQUIRE(succeed(R"({"clone_app_guid":"clone-1"})").ok());
      auto b = f.store.ReadBinding("bind-1");
      REQUIRE(b.ok());
      REQUIRE(b->has_value());
      CHECK((*b)->state == osb::OperationState::kSucceeded);
      CHECK((*b)->credentials_json == R"({"ssh_command":"ssh NEWSECRET@h"})");
      CHECK((*b)->session_key_hash == "final-key-hash");
      CHECK((*b)->session_token_hash == "tokenhash-bind-1");
      CHECK(f.JobRow(id) == std::vector<std::string>{"completed", "", "f", "t"});
      CHECK(f.db.Query("SELECT step, outputs->>'clone_app_guid' FROM jobs") ==
            Rows{{"done", "clone-1"}});
      CHECK(f.db.Snapshot().find("NEWSECRET") == std::string::npos);
    }
    SUBCASE("when the job update fails, the binding update is rolled back with it") {
      const std::string before = f.db.Snapshot();
      for (const char* bad : {"{not json", "[1,2]"}) {
        CAPTURE(bad);
        CHECK(succeed(bad).code() == Code::kInvalidArgument);
        CHECK(f.db.Snapshot() == before);
      }
      auto b = f.store.ReadBinding("bind-1");
      REQUIRE(b.ok());
      CHECK((*b)->state == osb::OperationState::kInProgress);
      CHECK((*b)->credentials_json.empty());
    }
  }

  TEST_CASE("kRunning keeps the lease and checkpoints step, outputs and attempt") {
    const std::string canonical = R"({"a":{"x":null,"y":true},"b":[1,"two",3.5],"c":"é"})";
    const std::string sloppy = R"({ "c": "é", "b": [1, "two", 3.5], "a": {"y": true, "x": null} })";
    for (const std::string& written : {canonical, sloppy}) {
      CAPTURE(written);
      Fixture f;
      f.AddBinding("bind-1");
      const auto id = f.Enqueue("bind-1");
      REQUIRE(f.MustClaim("w1", milliseconds(300)).has_value());
      const Rows lock_before = f.db.Query("SELECT locked_until FROM jobs");

      REQUIRE(f.store
                  .Fenced(Lease{id, "w1"},
                          [&](JobTx& tx) {
                            CHECK(tx.job().status == JobUpdate::Status::kRunning);
                            CHECK(tx.job().step == "resolve_source_app");
                            CHECK(tx.job().outputs_json == "{}");
                            CHECK(tx.job().attempt == 0);
                            tx.job().step = "copy_droplet";
                            tx.job().outputs_json = written;
                            tx.job().attempt = 2;
                            tx.job().last_error = "cc unavailable";
                            return Status::Ok();
                          })
                  .ok());
      CHECK(f.JobRow(id) == std::vector<std::string>{"running", "w1", "t", "f"});
      CHECK(f.db.Query("SELECT locked_until FROM jobs") == lock_before);
      CHECK(f.db.Query("SELECT step, attempt, last_error, outputs->'a'->>'y' FROM jobs") ==
            Rows{{"copy_droplet", "2", "cc unavailable", "true"}});

      // The next fenced call starts from what was written; outputs come back canonical.
      REQUIRE(f.store
                  .Fenced(Lease{id, "w1"},
                          [&](JobTx& tx) {
                            CHECK(tx.job().step == "copy_droplet");
                            CHECK(tx.job().outputs_json == canonical);
                            CHECK(tx.job().attempt == 2);
                            CHECK(tx.job().last_error.empty());
                            return Status::Ok();
                          })
                  .ok());
      CHECK(f.db.Query("SELECT last_error FROM jobs") == Rows{{""}});

      // A worker that claims it after the lease expires gets the checkpoint too.
      std::this_thread::sleep_for(milliseconds(450));
      const auto again = f.MustClaim("w2");
      REQUIRE(again.has_value());
      CHECK(again->step == "copy_droplet");
      CHECK(again->outputs_json == canonical);
      CHECK(again->attempt == 2);
    }
  }

  TEST_CASE("Checkpoint and BeginCheckpoint write the job row in one fenced statement") {
    Fixture f;
    f.AddBinding("bind-1");
    const auto id = f.Enqueue("bind-1");
    REQUIRE(f.MustClaim("w1").has_value());
    JobUpdate u;
    u.status = JobUpdate::Status::kRunning;
    u.step = "copy_droplet";
    u.outputs_json = R"({"a":1})";
    REQUIRE(f.store.Checkpoint(Lease{id, "w1"}, u).ok());
    CHECK(f.db.Query("SELECT step, outputs::text FROM jobs") == Rows{{"copy_droplet", R"({"a": 1})"}});

    // Sent at once, confirmed by Wait(): the row is written and the lease kept.
    u.step = "set_droplet";
    u.outputs_json = R"({"a":2})";
    auto pending = f.store.BeginCheckpoint(Lease{id, "w1"}, u);
    REQUIRE(pending != nullptr);
    CHECK(pending->Wait().ok());
    CHECK(pending->Wait().code() == Code::kInternal);  // read once
    CHECK(f.db.Query("SELECT step, outputs::text FROM jobs") == Rows{{"set_droplet", R"({"a": 2})"}});
    CHECK(f.JobRow(id) == std::vector<std::string>{"running", "w1", "t", "f"});

    // One destroyed unread is read by its destructor: written, and the store works on.
    u.step = "configure_process";
    f.store.BeginCheckpoint(Lease{id, "w1"}, u).reset();
    CHECK(f.db.Query("SELECT step FROM jobs") == Rows{{"configure_process"}});
    CHECK(f.store.Checkpoint(Lease{id, "w1"}, u).ok());

    // Outputs that are not a JSON object: refused before anything is sent.
    u.outputs_json = "[1]";
    CHECK(f.store.BeginCheckpoint(Lease{id, "w1"}, u)->Wait().code() == Code::kInvalidArgument);
    u.outputs_json = "{}";

    // The fence: another worker's name, or a cancelled job, writes nothing.
    const std::string before = f.db.Snapshot();
    CHECK(IsLeaseLost(f.store.Checkpoint(Lease{id, "w2"}, u)));
    CHECK(IsLeaseLost(f.store.BeginCheckpoint(Lease{id, "w2"}, u)->Wait()));
    CHECK(f.db.Snapshot() == before);
    REQUIRE(f.store.InTransaction([&](osb::StoreTx& tx) { return tx.CancelJobs("bind-1", osb::JobKind::kClone).status(); })
                .ok());
    CHECK(IsLeaseLost(f.store.BeginCheckpoint(Lease{id, "w1"}, u)->Wait()));
    CHECK(f.db.Query("SELECT status, step FROM jobs") == Rows{{"cancelled", "configure_process"}});
  }

  TEST_CASE("a job write that names the clone writes it to the binding too, under the same fence") {
    Fixture f;
    const auto id = f.AddClaimedBind("bind-1", "w1");
    const auto clone_columns = [&f] {
      return f.db.Query("SELECT COALESCE(clone_app_guid, ''), COALESCE(clone_app_name, '') FROM service_bindings");
    };
    JobUpdate u;
    u.status = JobUpdate::Status::kRunning;
    u.step = "copy_droplet";
    u.clone = JobUpdate::Clone{"clone-guid-1", "app-ssh"};

    SUBCASE("written with the job, by Checkpoint and by BeginCheckpoint") {
      REQUIRE(f.store.Checkpoint(Lease{id, "w1"}, u).ok());
      CHECK(clone_columns() == Rows{{"clone-guid-1", "app-ssh"}});
      CHECK(f.db.Query("SELECT step FROM jobs") == Rows{{"copy_droplet"}});
      u.clone = JobUpdate::Clone{"clone-guid-2", "app-ssh-2"};
      u.step = "await_droplet";
      REQUIRE(f.store.BeginCheckpoint(Lease{id, "w1"}, u)->Wait().ok());
      CHECK(clone_columns() == Rows{{"clone-guid-2", "app-ssh-2"}});
      CHECK(f.db.Query("SELECT step FROM jobs") == Rows{{"await_droplet"}});
      // And by Fenced, whose job update may name it as well.
      u.clone = JobUpdate::Clone{"clone-guid-3", "app-ssh-3"};
      REQUIRE(f.store.Fenced(Lease{id, "w1"}, [&](JobTx& tx) {
                        tx.job() = u;
                        return Status::Ok();
                      }).ok());
      CHECK(clone_columns() == Rows{{"clone-guid-3", "app-ssh-3"}});
    }
    SUBCASE("when the fence does not hold, neither row is written") {
      const std::string before = f.db.Snapshot();
      CHECK(IsLeaseLost(f.store.BeginCheckpoint(Lease{id, "w2"}, u)->Wait()));
      CHECK(IsLeaseLost(f.store.Checkpoint(Lease{id, "w2"}, u)));
      CHECK(f.db.Snapshot() == before);
    }
    SUBCASE("a claim taking the job meanwhile is waited for; after it, neither row is written") {
      // The binding's lock is held meanwhile: the job's is taken under it.
      CHECK(IsLeaseLost(f.WhileAClaimTakesTheJob(id, [&] { return f.store.BeginCheckpoint(Lease{id, "w1"}, u)->Wait(); })));
      CHECK(clone_columns() == Rows{{"", ""}});
      CHECK(f.db.Query("SELECT step, locked_by FROM jobs") == Rows{{"resolve_source_app", "w2"}});
    }
    SUBCASE("when the binding is no longer this job's operation, only the job is written") {
      f.db.Query("UPDATE service_bindings SET operation_id = " + std::to_string(id + 1000));
      REQUIRE(f.store.Checkpoint(Lease{id, "w1"}, u).ok());
      CHECK(clone_columns() == Rows{{"", ""}});
      CHECK(f.db.Query("SELECT step FROM jobs") == Rows{{"copy_droplet"}});
    }
    SUBCASE("an unbind holding the binding is waited for; after it, the fence fails and nothing is written") {
      std::atomic<bool> locked{false};
      int tx_calls = 0;
      Status unbind;
      std::thread unbinder([&] {
        unbind = f.store.InTransaction([&](osb::StoreTx& tx) {
          ++tx_calls;
          auto b = tx.LockBinding("bind-1");
          if (!b.ok()) return b.status();
          auto c = tx.CancelJobs("bind-1", osb::JobKind::kClone);
          if (!c.ok()) return c.status();
          locked = true;
          // The checkpoint below is sent meanwhile and must wait for this transaction.
          std::this_thread::sleep_for(milliseconds(300));
          // As osb::Broker::StartTeardown: the binding moves on to its teardown job.
          (*b)->operation = osb::BindingOperation::kUnbind;
          (*b)->operation_id = id + 1000;
          return tx.UpdateBinding(**b);
        });
      });
      while (!locked) std::this_thread::yield();
      const Status written = f.store.BeginCheckpoint(Lease{id, "w1"}, u)->Wait();
      unbinder.join();
      CHECK(unbind.ok());
      CHECK(tx_calls == 1);  // no deadlock, no re-run
      CHECK(IsLeaseLost(written));
      CHECK(clone_columns() == Rows{{"", ""}});
      CHECK(f.db.Query("SELECT status, step FROM jobs") == Rows{{"cancelled", "resolve_source_app"}});
    }
  }

  TEST_CASE("CheckpointUnlessCredentials writes the wait only while the binding holds no credentials") {
    Fixture f;
    const auto id = f.AddClaimedBind("bind-1", "w1", /*with_credentials=*/false);
    JobUpdate wait;
    wait.status = JobUpdate::Status::kRetryable;
    wait.step = "await_session";
    wait.run_at = Millis(f.DbNowMillis() + 60000);

    SUBCASE("no credentials: written, the lease released") {
      const auto written = f.store.CheckpointUnlessCredentials(Lease{id, "w1"}, wait);
      REQUIRE(written.ok());
      CHECK(*written);
      CHECK(f.JobRow(id) == std::vector<std::string>{"retryable", "", "f", "f"});
      CHECK(f.db.Query("SELECT step FROM jobs") == Rows{{"await_session"}});
    }
    SUBCASE("not this worker's: lease lost, nothing written") {
      const std::string before = f.db.Snapshot();
      CHECK(IsLeaseLost(f.store.CheckpointUnlessCredentials(Lease{id, "w2"}, wait).status()));
      CHECK(f.db.Snapshot() == before);
    }
    SUBCASE("credentials (a report came): nothing written, false") {
      f.db.Query("UPDATE service_bindings SET credentials_ciphertext = '\\x00'::bytea");
      const std::string before = f.db.Snapshot();
      const auto written = f.store.CheckpointUnlessCredentials(Lease{id, "w1"}, wait);
      REQUIRE(written.ok());
      CHECK_FALSE(*written);
      CHECK(f.db.Snapshot() == before);
    }
    SUBCASE("a report holding the binding is waited for, and its credentials are seen") {
      std::atomic<bool> locked{false};
      Status report;
      std::thread reporter([&] {
        report = f.store.InTransaction([&](osb::StoreTx& tx) {
          auto b = tx.LockBinding("bind-1");
          if (!b.ok()) return b.status();
          locked = true;
          std::this_thread::sleep_for(milliseconds(300));
          (*b)->credentials_json = R"({"ssh_command":"ssh SECRETTOKEN@h"})";
          return tx.UpdateBinding(**b);
        });
      });
      while (!locked) std::this_thread::yield();
      const auto written = f.store.CheckpointUnlessCredentials(Lease{id, "w1"}, wait);
      reporter.join();
      REQUIRE(report.ok());
      REQUIRE(written.ok());
      CHECK_FALSE(*written);
      CHECK(f.JobRow(id) == std::vector<std::string>{"running", "w1", "t", "f"});
    }
  }

  TEST_CASE("SaveSessionTokenHash writes the binding's token hash and marks the job, in one fenced statement") {
    Fixture f;
    const auto id = f.AddClaimedBind("bind-1", "w1");
    const auto hash = [&f] { return f.db.Query("SELECT session_token_hash FROM service_bindings"); };
    const auto mark = [&f] { return f.db.Query("SELECT outputs::text FROM jobs"); };
    f.db.Query(R"(UPDATE jobs SET outputs = '{"source":{"guid":"app-1"}}')");

    SUBCASE("written: the hash, and the mark next to the job's other outputs") {
      REQUIRE(f.store.SaveSessionTokenHash(Lease{id, "w1"}, "hash-1").ok());
      CHECK(hash() == Rows{{"hash-1"}});
      CHECK(mark() == Rows{{R"({"source": {"guid": "app-1"}, "session_token_saved": true})"}});
      CHECK(f.JobRow(id) == std::vector<std::string>{"running", "w1", "t", "f"});  // still this worker's
    }
    SUBCASE("another worker's name, a binding that moved on, a cancelled job: nothing written") {
      const std::string before = f.db.Snapshot();
      CHECK(IsLeaseLost(f.store.SaveSessionTokenHash(Lease{id, "w2"}, "hash-2")));
      CHECK(f.db.Snapshot() == before);
      f.db.Query("UPDATE service_bindings SET operation_id = " + std::to_string(id + 1000));
      const std::string moved_on = f.db.Snapshot();
      CHECK(IsLeaseLost(f.store.SaveSessionTokenHash(Lease{id, "w1"}, "hash-3")));
      CHECK(f.db.Snapshot() == moved_on);
      f.db.Query("UPDATE service_bindings SET operation_id = " + std::to_string(id));
      REQUIRE(f.store.InTransaction([&](osb::StoreTx& tx) { return tx.CancelJobs("bind-1", osb::JobKind::kClone).status(); })
                  .ok());
      const std::string cancelled = f.db.Snapshot();
      CHECK(IsLeaseLost(f.store.SaveSessionTokenHash(Lease{id, "w1"}, "hash-4")));
      CHECK(f.db.Snapshot() == cancelled);
      CHECK(hash() == Rows{{"tokenhash-bind-1"}});
    }
    SUBCASE("a claim taking the job meanwhile is waited for; after it, nothing is written") {
      // (A binding write fenced by an unlocked look at the job would go through at once, and the
      // claim would read the binding without it.)
      CHECK(IsLeaseLost(f.WhileAClaimTakesTheJob(id, [&] { return f.store.SaveSessionTokenHash(Lease{id, "w1"}, "hash-1"); })));
      CHECK(hash() == Rows{{"tokenhash-bind-1"}});
      CHECK(mark() == Rows{{R"({"source": {"guid": "app-1"}})"}});
    }
    SUBCASE("a worker whose lease lapsed but was not taken writes; the next claim gets the mark with the job") {
      f.db.Query("UPDATE jobs SET locked_until = now() - interval '1 second'");
      REQUIRE(f.store.SaveSessionTokenHash(Lease{id, "w1"}, "hash-1").ok());
      const auto claimed = f.MustClaim("w2");
      REQUIRE(claimed.has_value());
      CHECK(claimed->id == id);
      CHECK(claimed->outputs_json == R"({"session_token_saved":true,"source":{"guid":"app-1"}})");
      CHECK(IsLeaseLost(f.store.SaveSessionTokenHash(Lease{id, "w1"}, "hash-2")));
      CHECK(hash() == Rows{{"hash-1"}});
    }
  }

  TEST_CASE("kRetryable releases the lease; the job is claimable again only after run_at") {
    Fixture f;
    f.AddBinding("bind-1");
    const auto id = f.Enqueue("bind-1");
    REQUIRE(f.MustClaim("w1").has_value());
    const std::int64_t run_at = f.DbNowMillis() + 1500;
    REQUIRE(f.store
                .Fenced(Lease{id, "w1"},
                        [&](JobTx& tx) {
                          tx.job().status = JobUpdate::Status::kRetryable;
                          tx.job().attempt = 1;
                          tx.job().run_at = Millis(run_at);
                          tx.job().last_error = "cloud controller unavailable";
                          return Status::Ok();
                        })
                .ok());
    CHECK(f.JobRow(id) == std::vector<std::string>{"retryable", "", "f", "f"});
    CHECK(f.db.Query("SELECT floor(extract(epoch from run_at) * 1000)::bigint, attempt, "
                     "last_error FROM jobs") ==
          Rows{{std::to_string(run_at), "1", "cloud controller unavailable"}});
    CHECK_FALSE(f.MustClaim("w2").has_value());  // run_at is still ahead
    CHECK(IsLeaseLost(f.store.Renew(Lease{id, "w1"}, kLongLease)));
    int calls = 0;
    CHECK(IsLeaseLost(f.store.Fenced(Lease{id, "w1"}, MustNotRun(&calls))));
    CHECK(calls == 0);

    while (f.DbNowMillis() <= run_at) std::this_thread::sleep_for(milliseconds(50));
    const auto again = f.MustClaim("w2");
    REQUIRE(again.has_value());
    CHECK(again->id == id);
    CHECK(again->attempt == 1);
    CHECK(f.JobRow(id) == std::vector<std::string>{"running", "w2", "t", "f"});
  }

  TEST_CASE("completed and failed jobs are never claimed again") {
    Fixture f;
    f.AddBinding("bind-1");
    const auto done = f.Enqueue("bind-1");
    const auto failed = f.Enqueue("bind-1");
    const auto a = f.MustClaim("w1", milliseconds(200));
    const auto b = f.MustClaim("w1", milliseconds(200));
    REQUIRE((a.has_value() && b.has_value()));
    const auto finish = [&](std::int64_t id, JobUpdate::Status status) {
      return f.store.Fenced(Lease{id, "w1"}, [&](JobTx& tx) {
        tx.job().status = status;
        tx.job().step = "done";
        tx.job().last_error = status == JobUpdate::Status::kFailed ? "deadline passed" : "";
        return Status::Ok();
      });
    };
    REQUIRE(finish(done, JobUpdate::Status::kCompleted).ok());
    REQUIRE(finish(failed, JobUpdate::Status::kFailed).ok());
    CHECK(f.JobRow(done) == std::vector<std::string>{"completed", "", "f", "t"});
    CHECK(f.JobRow(failed) == std::vector<std::string>{"failed", "", "f", "t"});

    std::this_thread::sleep_for(milliseconds(300));  // past the leases they were claimed with
    CHECK_FALSE(f.MustClaim("w2").has_value());
    const std::string before = f.db.Snapshot();
    int calls = 0;
    CHECK(IsLeaseLost(f.store.Fenced(Lease{done, "w1"}, MustNotRun(&calls))));
    CHECK(IsLeaseLost(f.store.Renew(Lease{failed, "w1"}, kLongLease)));
    CHECK(calls == 0);
    CHECK(f.db.Snapshot() == before);
  }

  TEST_CASE("an unbind racing a fenced write waits for it instead of deadlocking") {
    Fixture f;
    f.AddBinding("bind-1");
    const auto id = f.Enqueue("bind-1");
    REQUIRE(f.MustClaim("w1").has_value());

    std::atomic<bool> in_fn{false};
    int fn_calls = 0;
    Status fenced;
    std::thread worker([&] {
      fenced = f.store.Fenced(Lease{id, "w1"}, [&](JobTx& tx) {
        ++fn_calls;
        in_fn = true;
        // Give the unbind below time to take whatever it can before this function continues.
        std::this_thread::sleep_for(milliseconds(300));
        auto b = tx.store().LockBinding("bind-1");
        if (!b.ok()) return b.status();
        (*b)->description = "droplet copied";
        BROKER_RETURN_IF_ERROR(tx.store().UpdateBinding(**b));
        tx.job().step = "set_droplet";
        return Status::Ok();
      });
    });
    while (!in_fn) std::this_thread::yield();
    int tx_calls = 0;
    int cancelled = -1;
    const Status unbind = f.store.InTransaction([&](osb::StoreTx& tx) {
      ++tx_calls;
      auto b = tx.LockBinding("bind-1");
      if (!b.ok()) return b.status();
      auto c = tx.CancelJobs("bind-1", osb::JobKind::kClone);
      if (!c.ok()) return c.status();
      cancelled = *c;
      return Status::Ok();
    });
    worker.join();

    CHECK(fenced.ok());
    CHECK(unbind.ok());
    CHECK(fn_calls == 1);   // a deadlock would have aborted and re-run one side
    CHECK(tx_calls == 1);
    CHECK(cancelled == 1);  // the unbind ran after the fenced write committed
    CHECK(f.db.Query("SELECT status, step FROM jobs") == Rows{{"cancelled", "set_droplet"}});
    CHECK((*f.store.ReadBinding("bind-1"))->description == "droplet copied");
  }

  TEST_CASE("a fenced transaction holds its job: a claimer skips it even after the lease expired") {
    Fixture f;
    f.AddBinding("bind-1");
    const auto id = f.Enqueue("bind-1");
    REQUIRE(f.MustClaim("w1", milliseconds(200)).has_value());

    std::optional<ClaimedJob> taken_meanwhile;
    const Status fenced = f.store.Fenced(Lease{id, "w1"}, [&](JobTx& tx) {
      std::this_thread::sleep_for(milliseconds(500));  // the lease has expired by now
      taken_meanwhile = f.MustClaim("w2");
      tx.job().step = "set_droplet";
      return Status::Ok();
    });
    // The job write that travels with the COMMIT matched the row: the fence could not move.
    CHECK(fenced.ok());
    CHECK_FALSE(taken_meanwhile.has_value());
    CHECK(f.db.Query("SELECT status, locked_by, step FROM jobs") == Rows{{"running", "w1", "set_droplet"}});
    // Once the transaction ended, the expired lease is claimable as before.
    const auto again = f.MustClaim("w2");
    REQUIRE(again.has_value());
    CHECK(again->id == id);
  }

  TEST_CASE("a function that loses a race runs again with the job preset afresh") {
    Fixture f;
    f.AddBinding("bind-1");
    const auto id = f.Enqueue("bind-1");
    REQUIRE(f.MustClaim("w1").has_value());
    int calls = 0;
    const Status s = f.store.Fenced(Lease{id, "w1"}, [&](JobTx& tx) {
      ++calls;
      CHECK(tx.job().step == "resolve_source_app");
      tx.job().step = "attempt-" + std::to_string(calls);
      osb::Event e;
      e.kind = "test.attempt";
      e.binding_id = "bind-1";
      BROKER_RETURN_IF_ERROR(tx.store().RecordEvent(e));
      if (calls == 1) return Status::Aborted("lost a race");
      return Status::Ok();
    });
    CHECK(s.ok());
    CHECK(calls == 2);
    CHECK(f.db.Query("SELECT step FROM jobs") == Rows{{"attempt-2"}});
    CHECK(f.db.Query("SELECT count(*) FROM events") == Rows{{"1"}});
  }

  TEST_CASE("ReadBinding returns the binding as stored, nullopt when unknown") {
    Fixture f;
    const osb::Binding b = f.AddBinding("bind-1");
    auto got = f.store.ReadBinding("bind-1");
    REQUIRE_MESSAGE(got.ok(), got.status().ToString());
    REQUIRE(got->has_value());
    CHECK((*got)->credentials_json == b.credentials_json);
    CHECK((*got)->session_token_hash == b.session_token_hash);
    CHECK((*got)->session_key_hash == b.session_key_hash);
    CHECK((*got)->created_at == b.created_at);
    auto missing = f.store.ReadBinding("nope");
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());
  }

  TEST_CASE("a claimed job whose binding cannot be read stays leased and blocks no other job") {
    Fixture f;
    f.AddBinding("bind-sealed");         // credentials under key "a"
    f.AddBinding("bind-plain", false);  // no credentials
    const auto sealed = f.Enqueue("bind-sealed");
    const auto plain = f.Enqueue("bind-plain");
    PgStore other(f.pool, Ring(std::string("b:") + kKeyB));  // lacks key "a"

    auto r = other.Claim("w1", kLongLease);
    CHECK(r.status().code() == Code::kInternal);
    CHECK(r.status().ToString().find("SECRETTOKEN") == std::string::npos);
    CHECK(f.JobRow(sealed) == std::vector<std::string>{"running", "w1", "t", "f"});
    auto next = other.Claim("w1", kLongLease);
    REQUIRE_MESSAGE(next.ok(), next.status().ToString());
    REQUIRE(next->has_value());
    CHECK((*next)->id == plain);
  }
}

}  // namespace
}  // namespace broker::store
