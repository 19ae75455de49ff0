// store::PgStore's reconciler side of clone::JobStore against a real PostgreSQL (a fresh schema
// per test): which bindings ListExpiredBindings finds, and ExpireBinding's locked re-check,
// teardown job and event — one job per expiry however many brokers ask at once.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
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
using testing::TestDatabase;
using Rows = std::vector<std::vector<std::string>>;
using std::chrono::milliseconds;

constexpr const char* kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

base::TimePoint Millis(std::int64_t ms) { return base::TimePoint(milliseconds(ms)); }

struct Fixture {
  explicit Fixture(int connections = 12) : pool(Options(db, connections)), store(pool, Ring()) {
    osb::Instance in;
    in.id = "inst-1";
    in.service_id = "svc-1";
    in.plan_id = "plan-1";
    in.organization_guid = "org-1";
    in.space_guid = "space-1";
    REQUIRE(store.InTransaction([&](osb::StoreTx& tx) { return tx.InsertInstance(in); }).ok());
  }

  static KeyRing Ring() {
    auto ring = KeyRing::FromSpec(std::string("a:") + kKey);
    REQUIRE(ring.ok());
    return std::move(ring).value();
  }

  static PgPool::Options Options(TestDatabase& db, int connections) {
    db.ApplyMigrations();
    PgPool::Options o;
    o.url = db.url();
    o.max_connections = connections;
    o.acquire_timeout = milliseconds(20000);
    return o;
  }

  // A binding as a succeeded bind leaves it; `expires` is SQL for its expires_at ("NULL" for none).
  void AddBinding(const std::string& id, const std::string& expires,
                  osb::OperationState state = osb::OperationState::kSucceeded,
                  osb::BindingOperation operation = osb::BindingOperation::kBind, bool deleted = false) {
    osb::Binding b;
    b.id = id;
    b.instance_id = "inst-1";
    b.service_id = "svc-1";
    b.plan_id = "plan-1";
    b.app_guid = "app-" + id;
    b.operation = operation;
    b.state = state;
    b.operation_id = 41;
    b.credentials_json = R"({"ssh_command":"ssh SECRETTOKEN@h"})";
    b.deleted = deleted;
    REQUIRE(store.InTransaction([&](osb::StoreTx& tx) { return tx.InsertBinding(b); }).ok());
    db.Query("UPDATE service_bindings SET expires_at = " + expires + " WHERE id = '" + id + "'");
  }

  // A teardown job row for `id` created at `created` (SQL).
  void AddTeardown(const std::string& id, const std::string& created) {
    db.Query("INSERT INTO jobs (binding_id, kind, status, step, max_attempts, deadline_at, created_at) VALUES ('" +
             id + "', 'teardown', 'completed', 'find_clone', 10, now() + interval '1 hour', " + created + ")");
  }

  static osb::NewJob Teardown(const std::string& id) {
    osb::NewJob j;
    j.binding_id = id;
    j.kind = osb::JobKind::kTeardown;
    j.first_step = "find_clone";
    j.max_attempts = 10;
    j.deadline_at = Millis(1900000000000);
    return j;
  }

  static osb::Event Expired() {
    osb::Event e;
    e.kind = "binding.expired";
    return e;
  }

  std::vector<std::string> MustList(int limit = 100) {
    auto r = store.ListExpiredBindings(limit);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    return *r;
  }

  std::string Count(const std::string& sql) { return db.Query(sql)[0][0]; }

  TestDatabase db;
  PgPool pool;
  PgStore store;
};

TEST_SUITE("store::PgStore as clone::JobStore (reconciler)") {
  TEST_CASE("ListExpiredBindings lists live succeeded binds past expires_at, first expired first") {
    Fixture f;
    f.AddBinding("due-late", "now() - interval '1 minute'");
    f.AddBinding("due-early", "now() - interval '2 hours'");
    f.AddBinding("future", "now() + interval '1 hour'");
    f.AddBinding("no-ttl", "NULL");
    f.AddBinding("in-progress", "now() - interval '1 hour'", osb::OperationState::kInProgress);
    f.AddBinding("failed", "now() - interval '1 hour'", osb::OperationState::kFailed);
    f.AddBinding("unbinding", "now() - interval '1 hour'", osb::OperationState::kInProgress,
                 osb::BindingOperation::kUnbind);
    f.AddBinding("tombstone", "now() - interval '1 hour'", osb::OperationState::kSucceeded,
                 osb::BindingOperation::kUnbind, /*deleted=*/true);
    // A teardown from before the expiry (a failed first clone's cleanup) does not count ...
    f.AddBinding("old-teardown", "now() - interval '30 minutes'");
    f.AddTeardown("old-teardown", "now() - interval '1 hour'");
    // ... one from at or after it does: the clone was sent away already.
    f.AddBinding("handled", "now() - interval '30 minutes'");
    f.AddTeardown("handled", "now() - interval '10 minutes'");

    CHECK(f.MustList() == std::vector<std::string>{"due-early", "old-teardown", "due-late"});
    CHECK(f.MustList(2) == std::vector<std::string>{"due-early", "old-teardown"});

    SUBCASE("when the limit is below 1") {
      auto r = f.store.ListExpiredBindings(0);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == Code::kInvalidArgument);
    }
  }

  TEST_CASE("ExpireBinding enqueues one teardown and an event, and leaves the binding row as it is") {
    Fixture f;
    f.AddBinding("due", "now() - interval '1 minute'");
    const Rows before = f.db.Query("SELECT * FROM service_bindings WHERE id = 'due'");

    auto job = f.store.ExpireBinding("due", Fixture::Teardown("due"), Fixture::Expired());
    REQUIRE_MESSAGE(job.ok(), job.status().ToString());
    REQUIRE(job->has_value());

    const Rows jobs = f.db.Query(
        "SELECT id, kind, status, step, max_attempts, locked_by IS NULL FROM jobs WHERE binding_id = 'due'");
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0] == std::vector<std::string>{std::to_string(**job), "teardown", "available", "find_clone", "10", "t"});
    const Rows events = f.db.Query("SELECT kind, instance_id, binding_id FROM events");
    REQUIRE(events.size() == 1);
    CHECK(events[0] == std::vector<std::string>{"binding.expired", "inst-1", "due"});
    // The binding keeps its operation, state, operation_id and credentials: only its clone goes.
    CHECK(f.db.Query("SELECT * FROM service_bindings WHERE id = 'due'") == before);
    CHECK(f.MustList().empty());

    SUBCASE("when asked again, nothing more is written") {
      const std::string snapshot = f.db.Snapshot();
      auto again = f.store.ExpireBinding("due", Fixture::Teardown("due"), Fixture::Expired());
      REQUIRE(again.ok());
      CHECK_FALSE(again->has_value());
      CHECK(f.db.Snapshot() == snapshot);
    }
  }

  TEST_CASE("ExpireBinding writes nothing for a binding that does not qualify") {
    Fixture f;
    f.AddBinding("future", "now() + interval '1 hour'");
    f.AddBinding("tombstone", "now() - interval '1 hour'", osb::OperationState::kSucceeded,
                 osb::BindingOperation::kUnbind, /*deleted=*/true);
    f.AddBinding("in-progress", "now() - interval '1 hour'", osb::OperationState::kInProgress);
    const std::string snapshot = f.db.Snapshot();
    for (const std::string id : {"future", "tombstone", "in-progress", "unknown"}) {
      CAPTURE(id);
      auto r = f.store.ExpireBinding(id, Fixture::Teardown(id), Fixture::Expired());
      REQUIRE_MESSAGE(r.ok(), r.status().ToString());
      CHECK_FALSE(r->has_value());
    }
    CHECK(f.db.Snapshot() == snapshot);

    SUBCASE("when the job is for another binding or not a teardown, it is kInvalidArgument") {
      f.AddBinding("due", "now() - interval '1 minute'");
      const std::string before = f.db.Snapshot();
      auto other = f.store.ExpireBinding("due", Fixture::Teardown("future"), Fixture::Expired());
      REQUIRE_FALSE(other.ok());
      CHECK(other.status().code() == Code::kInvalidArgument);
      osb::NewJob clone_job = Fixture::Teardown("due");
      clone_job.kind = osb::JobKind::kClone;
      auto wrong_kind = f.store.ExpireBinding("due", clone_job, Fixture::Expired());
      REQUIRE_FALSE(wrong_kind.ok());
      CHECK(wrong_kind.status().code() == Code::kInvalidArgument);
      CHECK(f.db.Snapshot() == before);
    }
  }

  TEST_CASE("concurrent ExpireBinding calls for one binding enqueue one job") {
    constexpr int kThreads = 8;
    constexpr int kBindings = 4;
    Fixture f(kThreads + 2);
    for (int b = 0; b < kBindings; ++b) f.AddBinding("due-" + std::to_string(b), "now() - interval '1 minute'");

    for (int b = 0; b < kBindings; ++b) {
      const std::string id = "due-" + std::to_string(b);
      CAPTURE(id);
      std::atomic<int> ready{0};
      std::atomic<int> enqueued{0};
      std::atomic<int> failures{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
          ready.fetch_add(1);
          while (ready.load() < kThreads) std::this_thread::yield();
          auto r = f.store.ExpireBinding(id, Fixture::Teardown(id), Fixture::Expired());
          if (!r.ok()) {
            failures.fetch_add(1);
          } else if (r->has_value()) {
            enqueued.fetch_add(1);
          }
        });
      }
      for (auto& t : threads) t.join();
      CHECK(failures.load() == 0);
      CHECK(enqueued.load() == 1);
      CHECK(f.Count("SELECT count(*) FROM jobs WHERE binding_id = '" + id + "'") == "1");
      CHECK(f.Count("SELECT count(*) FROM events WHERE binding_id = '" + id + "'") == "1");
    }
  }

  TEST_CASE("an ExpireBinding that waited on the binding's lock sees the teardown committed meanwhile") {
    Fixture f;
    f.AddBinding("due", "now() - interval '1 minute'");
    std::atomic<bool> locked{false};
    std::optional<base::Result<std::optional<std::int64_t>>> second;
    std::thread other;
    // Another broker's expiry: it holds the row lock while this one's ExpireBinding starts.
    const Status first = f.store.InTransaction([&](osb::StoreTx& tx) -> Status {
      auto row = tx.LockBinding("due");
      if (!row.ok()) return row.status();
      auto job = tx.EnqueueJob(Fixture::Teardown("due"));
      if (!job.ok()) return job.status();
      if (!locked.exchange(true)) {
        other = std::thread([&] { second = f.store.ExpireBinding("due", Fixture::Teardown("due"), Fixture::Expired()); });
        // Until the second call waits on the row lock this transaction holds.
        bool waited = false;
        for (int i = 0; i < 200 && !waited; ++i) {
          waited = f.Count("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock' AND query LIKE '%service_bindings WHERE id = $1 FOR UPDATE%'") ==
                   "1";
          if (!waited) std::this_thread::sleep_for(milliseconds(25));
        }
        CHECK(waited);
      }
      return Status::Ok();
    });
    REQUIRE_MESSAGE(first.ok(), first.ToString());
    other.join();
    REQUIRE(second.has_value());
    REQUIRE_MESSAGE(second->ok(), second->status().ToString());
    CHECK_FALSE((*second)->has_value());
    CHECK(f.Count("SELECT count(*) FROM jobs WHERE binding_id = 'due'") == "1");
    CHECK(f.Count("SELECT count(*) FROM events") == "0");
  }
}

}  // namespace
}  // namespace broker::store
