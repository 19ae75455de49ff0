// store::PgStore and store::PgPool against a real PostgreSQL (a fresh schema per test).
#include "broker/store/pg_store.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "broker/base/ids.h"
#include "broker/store/cipher.h"
#include "broker/store/pg_pool.h"
#include "tests/support/test_database.h"

namespace broker::store {
namespace {

using base::Code;
using base::Status;
using testing::TestDatabase;
using Rows = std::vector<std::vector<std::string>>;

constexpr const char* kKeyA = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr const char* kKeyB = "//////////////////////////////////////////8=";

base::TimePoint Millis(std::int64_t ms) { return base::TimePoint(std::chrono::milliseconds(ms)); }

KeyRing Ring(const std::string& spec) {
  auto ring = KeyRing::FromSpec(spec);
  REQUIRE(ring.ok());
  return std::move(ring).value();
}

// A migrated schema, a pool on it and a store over the pool.
struct Fixture {
  explicit Fixture(bool prepare_statements = true,
                   const std::string& keys = std::string("a:") + kKeyA)
      : pool(Options(db, prepare_statements)), store(pool, Ring(keys)) {}

  static PgPool::Options Options(TestDatabase& db, bool prepare_statements) {
    db.ApplyMigrations();
    PgPool::Options o;
    o.url = db.url();
    o.max_connections = 4;
    o.prepare_statements = prepare_statements;
    return o;
  }

  TestDatabase db;
  PgPool pool;
  PgStore store;
};

osb::Instance SampleInstance(const std::string& id) {
  osb::Instance in;
  in.id = id;
  in.service_id = "svc-1";
  in.plan_id = "plan-1";
  in.organization_guid = "org-1";
  in.space_guid = "space-1";
  in.context_json = R"({"platform":"cloudfoundry","space_guid":"space-1"})";
  in.parameters_json = R"({"ttl":"2h"})";
  in.maintenance_version = "1.2.3";
  in.state = osb::InstanceState::kActive;
  in.deprovision_operation = 0;
  in.created_at = Millis(1700000000123);
  return in;
}

osb::Binding SampleBinding(const std::string& id, const std::string& instance_id) {
  osb::Binding b;
  b.id = id;
  b.instance_id = instance_id;
  b.service_id = "svc-1";
  b.plan_id = "plan-1";
  b.app_guid = "app-guid-1";
  b.space_guid = "space-1";
  b.parameters_json = R"({"authorized_keys":["ssh-ed25519 AAAA"]})";
  b.context_json = R"({"platform":"cloudfoundry"})";
  b.plan_settings_json = R"({"read_only":false})";
  b.operation = osb::BindingOperation::kBind;
  b.state = osb::OperationState::kSucceeded;
  b.description = "ssh session ready";
  b.operation_id = 0;
  b.clone_app_guid = "clone-guid-1";
  b.clone_app_name = "spring-music-ssh";
  b.credentials_json = R"({"ssh_command":"ssh -p 2222 TOKENXYZ@tmate.example.com"})";
  b.expires_at = Millis(1700007200456);
  b.session_token_hash = std::string(64, 'a');
  b.session_key_hash = std::string(64, 'b');
  b.deleted = false;
  b.created_at = Millis(1700000001789);
  return b;
}

void CheckSame(const osb::Instance& a, const osb::Instance& b) {
  CHECK(a.id == b.id);
  CHECK(a.service_id == b.service_id);
  CHECK(a.plan_id == b.plan_id);
  CHECK(a.organization_guid == b.organization_guid);
  CHECK(a.space_guid == b.space_guid);
  CHECK(a.context_json == b.context_json);
  CHECK(a.parameters_json == b.parameters_json);
  CHECK(a.maintenance_version == b.maintenance_version);
  CHECK(a.state == b.state);
  CHECK(a.deprovision_operation == b.deprovision_operation);
  CHECK(a.created_at == b.created_at);
}

void CheckSame(const osb::Binding& a, const osb::Binding& b) {
  CHECK(a.id == b.id);
  CHECK(a.instance_id == b.instance_id);
  CHECK(a.service_id == b.service_id);
  CHECK(a.plan_id == b.plan_id);
  CHECK(a.app_guid == b.app_guid);
  CHECK(a.space_guid == b.space_guid);
  CHECK(a.parameters_json == b.parameters_json);
  CHECK(a.context_json == b.context_json);
  CHECK(a.plan_settings_json == b.plan_settings_json);
  CHECK(a.operation == b.operation);
  CHECK(a.state == b.state);
  CHECK(a.description == b.description);
  CHECK(a.operation_id == b.operation_id);
  CHECK(a.clone_app_guid == b.clone_app_guid);
  CHECK(a.clone_app_name == b.clone_app_name);
  CHECK(a.credentials_json == b.credentials_json);
  CHECK(a.expires_at == b.expires_at);
  CHECK(a.session_token_hash == b.session_token_hash);
  CHECK(a.session_key_hash == b.session_key_hash);
  CHECK(a.deleted == b.deleted);
  CHECK(a.created_at == b.created_at);
}

Status Put(osb::Store& store, const osb::Instance& in) {
  return store.InTransaction([&](osb::StoreTx& tx) { return tx.InsertInstance(in); });
}

Status Put(osb::Store& store, const osb::Binding& b) {
  return store.InTransaction([&](osb::StoreTx& tx) { return tx.InsertBinding(b); });
}

std::int64_t Enqueue(osb::Store& store, const std::string& binding_id, osb::JobKind kind) {
  std::int64_t id = 0;
  const Status s = store.InTransaction([&](osb::StoreTx& tx) {
    osb::NewJob job;
    job.binding_id = binding_id;
    job.kind = kind;
    job.first_step = "resolve_source_app";
    job.max_attempts = 7;
    job.deadline_at = Millis(1700003600000);
    auto r = tx.EnqueueJob(job);
    if (!r.ok()) return r.status();
    id = *r;
    return Status::Ok();
  });
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return id;
}

// Forwards the single calls to a real transaction and leaves the combined forms to StoreTx's
// defaults, so that a test can show both give the same answers and the same rows.
class SinglesOnly final : public osb::StoreTx {
 public:
  explicit SinglesOnly(osb::StoreTx& tx) : tx_(tx) {}
  base::Result<std::optional<osb::Instance>> LockInstance(std::string_view id) override { return tx_.LockInstance(id); }
  Status InsertInstance(const osb::Instance& in) override { return tx_.InsertInstance(in); }
  Status UpdateInstance(const osb::Instance& in) override { return tx_.UpdateInstance(in); }
  base::Result<std::optional<osb::Binding>> LockBinding(std::string_view id) override { return tx_.LockBinding(id); }
  Status InsertBinding(const osb::Binding& b) override { return tx_.InsertBinding(b); }
  Status UpdateBinding(const osb::Binding& b) override { return tx_.UpdateBinding(b); }
  base::Result<std::vector<osb::Binding>> LockLiveBindings(std::string_view id) override {
    return tx_.LockLiveBindings(id);
  }
  base::Result<std::int64_t> EnqueueJob(const osb::NewJob& job) override { return tx_.EnqueueJob(job); }
  base::Result<int> CancelJobs(std::string_view id, osb::JobKind kind) override { return tx_.CancelJobs(id, kind); }
  base::Result<std::optional<osb::JobRow>> LockJob(std::int64_t id) override { return tx_.LockJob(id); }
  Status CompleteJob(std::int64_t id) override { return tx_.CompleteJob(id); }
  Status RecordEvent(const osb::Event& e) override { return tx_.RecordEvent(e); }

 private:
  osb::StoreTx& tx_;
};

TEST_SUITE("store::PgStore") {
  TEST_CASE("an instance round-trips every field") {
    for (const bool prepare : {true, false}) {
      CAPTURE(prepare);
      Fixture f(prepare);
      const osb::Instance in = SampleInstance("inst-1");
      REQUIRE(Put(f.store, in).ok());

      auto got = f.store.GetInstance("inst-1");
      REQUIRE(got.ok());
      REQUIRE(got->has_value());
      CheckSame(**got, in);
      CHECK(f.db.Query("SELECT state, deleted_at IS NULL FROM service_instances") ==
            Rows{{"active", "t"}});

      std::optional<osb::Instance> locked;
      REQUIRE(f.store
                  .InTransaction([&](osb::StoreTx& tx) {
                    auto r = tx.LockInstance("inst-1");
                    if (!r.ok()) return r.status();
                    locked = *r;
                    return Status::Ok();
                  })
                  .ok());
      REQUIRE(locked.has_value());
      CheckSame(*locked, in);

      auto missing = f.store.GetInstance("nope");
      REQUIRE(missing.ok());
      CHECK_FALSE(missing->has_value());
    }
  }

  TEST_CASE("UpdateInstance overwrites every mutable column and keeps created_at") {
    Fixture f;
    REQUIRE(Put(f.store, SampleInstance("inst-1")).ok());
    osb::Instance changed = SampleInstance("inst-1");
    changed.service_id = "svc-2";
    changed.plan_id = "plan-2";
    changed.organization_guid = "org-2";
    changed.space_guid = "space-2";
    changed.context_json = R"({"x":1})";
    changed.parameters_json = R"({"y":2})";
    changed.maintenance_version = "2.0.0";
    changed.state = osb::InstanceState::kDeprovisioning;
    changed.deprovision_operation = 77;
    changed.created_at = Millis(42);  // ignored: created_at is immutable
    REQUIRE(
        f.store.InTransaction([&](osb::StoreTx& tx) { return tx.UpdateInstance(changed); }).ok());
    auto got = f.store.GetInstance("inst-1");
    REQUIRE(got.ok());
    changed.created_at = SampleInstance("inst-1").created_at;
    CheckSame(**got, changed);

    SUBCASE("when the state becomes deleted, the row is tombstoned") {
      changed.state = osb::InstanceState::kDeleted;
      REQUIRE(
          f.store.InTransaction([&](osb::StoreTx& tx) { return tx.UpdateInstance(changed); }).ok());
      CHECK(f.db.Query("SELECT state, deleted_at IS NOT NULL FROM service_instances") ==
            Rows{{"deleted", "t"}});
      auto tomb = f.store.GetInstance("inst-1");
      REQUIRE(tomb.ok());
      REQUIRE(tomb->has_value());
      CHECK((*tomb)->state == osb::InstanceState::kDeleted);
    }
    SUBCASE("when no row has the id, kNotFound") {
      const Status s = f.store.InTransaction(
          [&](osb::StoreTx& tx) { return tx.UpdateInstance(SampleInstance("other")); });
      CHECK(s.code() == Code::kNotFound);
    }
  }

  TEST_CASE("a binding round-trips every field, with its credentials encrypted at rest") {
    for (const bool prepare : {true, false}) {
      CAPTURE(prepare);
      Fixture f(prepare);
      REQUIRE(Put(f.store, SampleInstance("inst-1")).ok());
      osb::Binding b = SampleBinding("bind-1", "inst-1");
      b.operation_id = 41;
      REQUIRE(Put(f.store, b).ok());

      auto got = f.store.GetBinding("bind-1");
      REQUIRE_MESSAGE(got.ok(), got.status().ToString());
      REQUIRE(got->has_value());
      CheckSame(**got, b);

      const Rows raw = f.db.Query(
          "SELECT encode(credentials_ciphertext, 'escape'), encode(credentials_ciphertext, 'hex'), "
          "credentials_key_id, octet_length(credentials_ciphertext) FROM service_bindings");
      REQUIRE(raw.size() == 1);
      CHECK(raw[0][0].find("TOKENXYZ") == std::string::npos);
      CHECK(raw[0][1].find(base::HexEncode("TOKENXYZ")) == std::string::npos);
      CHECK(raw[0][2] == "a");
      CHECK(raw[0][3] == std::to_string(12 + b.credentials_json.size() + 16));
      CHECK(f.db.Snapshot().find("TOKENXYZ") == std::string::npos);
      CHECK(f.db.Query("SELECT session_token_hash, session_key_hash FROM service_bindings") ==
            Rows{{std::string(64, 'a'), std::string(64, 'b')}});
    }
  }

  TEST_CASE("GetBindingStatus reads the operation's state and leaves the credentials alone") {
    Fixture f;
    REQUIRE(Put(f.store, SampleInstance("inst-1")).ok());
    osb::Binding b = SampleBinding("bind-1", "inst-1");
    b.operation = osb::BindingOperation::kUnbind;
    b.state = osb::OperationState::kFailed;
    b.description = "the clone could not be deleted";
    REQUIRE(Put(f.store, b).ok());

    auto got = f.store.GetBindingStatus("bind-1");
    REQUIRE_MESSAGE(got.ok(), got.status().ToString());
    REQUIRE(got->has_value());
    CHECK((*got)->instance_id == "inst-1");
    CHECK((*got)->operation == osb::BindingOperation::kUnbind);
    CHECK((*got)->state == osb::OperationState::kFailed);
    CHECK((*got)->description == "the clone could not be deleted");
    CHECK_FALSE((*got)->deleted);
    CHECK_FALSE(f.store.GetBindingStatus("bind-2")->has_value());

    // Nothing is decrypted: credentials under a key this broker does not have break GetBinding,
    // not the status.
    f.db.Query("UPDATE service_bindings SET credentials_key_id = 'gone', deleted_at = now()");
    CHECK(f.store.GetBinding("bind-1").status().code() == Code::kInternal);
    got = f.store.GetBindingStatus("bind-1");
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK((*got)->deleted);
    CHECK((*got)->state == osb::OperationState::kFailed);
  }

  TEST_CASE("a binding without credentials stores NULL ciphertext and no key id") {
    Fixture f;
    REQUIRE(Put(f.store, SampleInstance("inst-1")).ok());
    osb::Binding b = SampleBinding("bind-1", "inst-1");
    b.credentials_json.clear();
    b.expires_at.reset();
    b.state = osb::OperationState::kInProgress;
    b.description.clear();
    REQUIRE(Put(f.store, b).ok());
    CHECK(
        f.db.Query("SELECT credentials_ciphertext IS NULL, credentials_key_id, expires_at IS NULL "
                   "FROM service_bindings") == Rows{{"t", "", "t"}});
    auto got = f.store.GetBinding("bind-1");
    REQUIRE(got.ok());
    CheckSame(**got, b);
  }

  TEST_CASE("UpdateBinding overwrites every mutable column and re-encrypts credentials") {
    Fixture f;
    REQUIRE(Put(f.store, SampleInstance("inst-1")).ok());
    REQUIRE(Put(f.store, SampleInstance("inst-2")).ok());
    osb::Binding b = SampleBinding("bind-1", "inst-1");
    b.credentials_json.clear();
    b.session_token_hash.clear();
    b.session_key_hash.clear();
    REQUIRE(Put(f.store, b).ok());
    CHECK(f.db.Query("SELECT session_token_hash, session_key_hash FROM service_bindings") ==
          Rows{{"", ""}});

    osb::Binding changed = b;
    changed.instance_id = "inst-2";
    changed.service_id = "svc-2";
    changed.plan_id = "plan-2";
    changed.app_guid = "app-2";
    changed.space_guid = "space-2";
    changed.parameters_json = "{}";
    changed.context_json = R"({"a":"b"})";
    changed.plan_settings_json = R"({"read_only":true})";
    changed.operation = osb::BindingOperation::kUnbind;
    changed.state = osb::OperationState::kFailed;
    changed.description = "clone app could not be started";
    changed.operation_id = 99;
    changed.clone_app_guid = "clone-2";
    changed.clone_app_name = "app-ssh-2";
    changed.credentials_json = R"({"ssh_command":"ssh NEWTOKEN@h"})";
    changed.expires_at = Millis(1800000000001);
    changed.session_token_hash = "token-hash-2";
    changed.session_key_hash = "key-hash-2";
    REQUIRE(
        f.store.InTransaction([&](osb::StoreTx& tx) { return tx.UpdateBinding(changed); }).ok());
    auto got = f.store.GetBinding("bind-1");
    REQUIRE_MESSAGE(got.ok(), got.status().ToString());
    CheckSame(**got, changed);
    CHECK(f.db.Query("SELECT session_token_hash, session_key_hash, deleted_at IS NULL "
                     "FROM service_bindings") == Rows{{"token-hash-2", "key-hash-2", "t"}});
    CHECK(f.db.Snapshot().find("NEWTOKEN") == std::string::npos);

    SUBCASE("when the binding is marked deleted, deleted_at is set and reads say deleted") {
      changed.deleted = true;
      REQUIRE(
          f.store.InTransaction([&](osb::StoreTx& tx) { return tx.UpdateBinding(changed); }).ok());
      CHECK(f.db.Query("SELECT deleted_at IS NOT NULL FROM service_bindings") == Rows{{"t"}});
      auto tomb = f.store.GetBinding("bind-1");
      REQUIRE(tomb.ok());
      CHECK((*tomb)->deleted);
    }
    SUBCASE("when no row has the id, kNotFound") {
      changed.id = "other";
      const Status s =
          f.store.InTransaction([&](osb::StoreTx& tx) { return tx.UpdateBinding(changed); });
      CHECK(s.code() == Code::kNotFound);
    }
  }

  TEST_CASE("LockLiveBindings returns the instance's live bindings, oldest first") {
    Fixture f;
    REQUIRE(Put(f.store, SampleInstance("inst-1")).ok());
    REQUIRE(Put(f.store, SampleInstance("inst-2")).ok());
    osb::Binding newer = SampleBinding("b-newer", "inst-1");
    newer.created_at = Millis(3000);
    osb::Binding older = SampleBinding("b-older", "inst-1");
    older.created_at = Millis(1000);
    osb::Binding tomb = SampleBinding("b-tomb", "inst-1");
    tomb.created_at = Millis(2000);
    tomb.deleted = true;
    osb::Binding elsewhere = SampleBinding("b-elsewhere", "inst-2");
    for (const auto* b : {&newer, &older, &tomb, &elsewhere}) REQUIRE(Put(f.store, *b).ok());

    std::vector<osb::Binding> live;
    REQUIRE(f.store
                .InTransaction([&](osb::StoreTx& tx) {
                  auto r = tx.LockLiveBindings("inst-1");
                  if (!r.ok()) return r.status();
                  live = *r;
                  return Status::Ok();
                })
                .ok());
    REQUIRE(live.size() == 2);
    CHECK(live[0].id == "b-older");
    CHECK(live[1].id == "b-newer");
    CheckSame(live[0], older);
  }

  TEST_CASE("EnqueueJob inserts an available job and returns its id") {
    Fixture f;
    REQUIRE(Put(f.store, SampleInstance("inst-1")).ok());
    REQUIRE(Put(f.store, SampleBinding("bind-1", "inst-1")).ok());
    const std::int64_t first = Enqueue(f.store, "bind-1", osb::JobKind::kClone);
    const std::int64_t second = Enqueue(f.store, "bind-1", osb::JobKind::kTeardown);
    CHECK(first > 0);
    CHECK(second > first);
    CHECK(f.db.Query("SELECT id, binding_id, kind, status, step, max_attempts, attempt, "
                     "floor(extract(epoch from deadline_at) * 1000)::bigint, finalized_at IS NULL "
                     "FROM jobs ORDER BY id") ==
          Rows{{std::to_string(first), "bind-1", "clone", "available", "resolve_source_app", "7",
                "0", "1700003600000", "t"},
               {std::to_string(second), "bind-1", "teardown", "available", "resolve_source_app",
                "7", "0", "1700003600000", "t"}});
  }

  TEST_CASE("the combined forms do what the single calls they name do, in one statement each") {
    Fixture f;
    bool singles = false;
    SUBCASE("PgStoreTx's own") { singles = false; }
    SUBCASE("StoreTx's defaults, made of the single calls") { singles = true; }
    CAPTURE(singles);
    // Runs `fn` in a transaction, on PgStoreTx itself or on its single calls alone.
    const auto in_tx = [&](const std::function<Status(osb::StoreTx&)>& fn) {
      return f.store.InTransaction([&](osb::StoreTx& tx) {
        if (!singles) return fn(tx);
        SinglesOnly only(tx);
        return fn(only);
      });
    };
    osb::NewJob job;
    job.kind = osb::JobKind::kClone;
    job.first_step = "resolve_source_app";
    job.max_attempts = 7;
    job.deadline_at = Millis(1700003600000);

    // LockInstanceAndBinding: nothing, the instance alone, both.
    osb::StoreTx::InstanceAndBinding got;
    const auto lock_both = [&](const std::string& instance, const std::string& binding) {
      return in_tx([&](osb::StoreTx& tx) {
        BROKER_ASSIGN_OR_RETURN(got, tx.LockInstanceAndBinding(instance, binding));
        return Status::Ok();
      });
    };
    REQUIRE(lock_both("inst-1", "bind-1").ok());
    CHECK_FALSE(got.instance.has_value());
    CHECK_FALSE(got.binding.has_value());
    REQUIRE(Put(f.store, SampleInstance("inst-1")).ok());
    REQUIRE(lock_both("inst-1", "bind-1").ok());
    REQUIRE(got.instance.has_value());
    CheckSame(*got.instance, SampleInstance("inst-1"));
    CHECK_FALSE(got.binding.has_value());
    REQUIRE(Put(f.store, SampleBinding("bind-1", "inst-1")).ok());
    REQUIRE(lock_both("inst-1", "bind-1").ok());
    REQUIRE(got.binding.has_value());
    CheckSame(*got.binding, SampleBinding("bind-1", "inst-1"));  // credentials decrypted
    REQUIRE(lock_both("inst-2", "bind-1").ok());  // another instance: the binding is not read
    CHECK_FALSE(got.instance.has_value());
    CHECK_FALSE(got.binding.has_value());

    // InsertBindingWithJob: a new binding, its job, and the job's id as its operation_id.
    std::int64_t id = 0;
    const auto insert_with_job = [&](const osb::Binding& b) {
      return in_tx([&](osb::StoreTx& tx) {
        BROKER_ASSIGN_OR_RETURN(id, tx.InsertBindingWithJob(b, job));
        return Status::Ok();
      });
    };
    job.binding_id = "bind-2";
    osb::Binding fresh = SampleBinding("bind-2", "inst-1");
    fresh.operation_id = 99;  // ignored
    REQUIRE(insert_with_job(fresh).ok());
    CHECK(id > 0);
    fresh.operation_id = id;
    CheckSame(**f.store.GetBinding("bind-2"), fresh);
    CHECK(f.db.Query("SELECT id, binding_id, kind, status, step, max_attempts, "
                     "floor(extract(epoch from deadline_at) * 1000)::bigint FROM jobs") ==
          Rows{{std::to_string(id), "bind-2", "clone", "available", "resolve_source_app", "7", "1700003600000"}});

    // A live binding with the id: kAborted (InTransaction's retries see it again), nothing written.
    std::string before = f.db.Snapshot();
    CHECK(insert_with_job(fresh).code() == Code::kAborted);
    CHECK(f.db.Snapshot() == before);
    // A job for another binding: refused, nothing written.
    job.binding_id = "bind-1";
    CHECK(insert_with_job(fresh).code() == Code::kInvalidArgument);
    CHECK(f.db.Snapshot() == before);

    // A tombstone is replaced in place, with a new job.
    osb::Binding gone = SampleBinding("bind-1", "inst-1");
    gone.deleted = true;
    REQUIRE(f.store.InTransaction([&](osb::StoreTx& tx) { return tx.UpdateBinding(gone); }).ok());
    const std::int64_t first = id;
    osb::Binding again = SampleBinding("bind-1", "inst-1");
    again.state = osb::OperationState::kInProgress;
    again.credentials_json.clear();
    REQUIRE(insert_with_job(again).ok());
    CHECK(id > first);
    again.operation_id = id;
    CheckSame(**f.store.GetBinding("bind-1"), again);
    CHECK(f.db.Query("SELECT count(*) FROM jobs WHERE binding_id = 'bind-1'") == Rows{{"1"}});

    // LockBindingAndJob: nothing, a binding that names no job, a binding and its job (which the
    // transaction then holds: CompleteJob takes it).
    osb::StoreTx::BindingAndJob locked;
    const auto lock_with_job = [&](const std::string& binding, bool complete) {
      return in_tx([&](osb::StoreTx& tx) {
        BROKER_ASSIGN_OR_RETURN(locked, tx.LockBindingAndJob(binding));
        if (complete && locked.job.has_value()) return tx.CompleteJob(locked.job->id);
        return Status::Ok();
      });
    };
    REQUIRE(lock_with_job("bind-9", false).ok());
    CHECK_FALSE(locked.binding.has_value());
    CHECK_FALSE(locked.job.has_value());
    REQUIRE(Put(f.store, SampleBinding("bind-3", "inst-1")).ok());  // operation_id 0
    REQUIRE(lock_with_job("bind-3", false).ok());
    REQUIRE(locked.binding.has_value());
    CheckSame(*locked.binding, SampleBinding("bind-3", "inst-1"));
    CHECK_FALSE(locked.job.has_value());
    REQUIRE(lock_with_job("bind-2", true).ok());
    REQUIRE(locked.binding.has_value());
    CheckSame(*locked.binding, fresh);
    REQUIRE(locked.job.has_value());
    CHECK(locked.job->id == fresh.operation_id);
    CHECK(locked.job->kind == osb::JobKind::kClone);
    CHECK(locked.job->status == "available");
    CHECK(locked.job->step == "resolve_source_app");
    CHECK(locked.job->outputs_json == "{}");
    CHECK(f.db.Query("SELECT status FROM jobs WHERE id = " + std::to_string(fresh.operation_id)) == Rows{{"completed"}});
  }

  TEST_CASE("CancelJobs cancels the binding's unfinished jobs of one kind and counts them") {
    Fixture f;
    REQUIRE(Put(f.store, SampleInstance("inst-1")).ok());
    REQUIRE(Put(f.store, SampleBinding("bind-1", "inst-1")).ok());
    REQUIRE(Put(f.store, SampleBinding("bind-2", "inst-1")).ok());
    const auto available = Enqueue(f.store, "bind-1", osb::JobKind::kClone);
    const auto running = Enqueue(f.store, "bind-1", osb::JobKind::kClone);
    const auto retryable = Enqueue(f.store, "bind-1", osb::JobKind::kClone);
    const auto completed = Enqueue(f.store, "bind-1", osb::JobKind::kClone);
    const auto teardown = Enqueue(f.store, "bind-1", osb::JobKind::kTeardown);
    const auto other = Enqueue(f.store, "bind-2", osb::JobKind::kClone);
    f.db.Query("UPDATE jobs SET status = 'running' WHERE id = " + std::to_string(running));
    f.db.Query("UPDATE jobs SET status = 'retryable' WHERE id = " + std::to_string(retryable));
    f.db.Query("UPDATE jobs SET status = 'completed' WHERE id = " + std::to_string(completed));

    int cancelled = -1;
    REQUIRE(f.store
                .InTransaction([&](osb::StoreTx& tx) {
                  auto r = tx.CancelJobs("bind-1", osb::JobKind::kClone);
                  if (!r.ok()) return r.status();
                  cancelled = *r;
                  return Status::Ok();
                })
                .ok());
    CHECK(cancelled == 3);
    auto status_of = [&](std::int64_t id) {
      return f.db.Query("SELECT status, finalized_at IS NOT NULL FROM jobs WHERE id = " +
                        std::to_string(id))[0];
    };
    CHECK(status_of(available) == std::vector<std::string>{"cancelled", "t"});
    CHECK(status_of(running) == std::vector<std::string>{"cancelled", "t"});
    CHECK(status_of(retryable) == std::vector<std::string>{"cancelled", "t"});
    CHECK(status_of(completed) == std::vector<std::string>{"completed", "f"});
    CHECK(status_of(teardown) == std::vector<std::string>{"available", "f"});
    CHECK(status_of(other) == std::vector<std::string>{"available", "f"});

    SUBCASE("when nothing is left to cancel, it returns 0") {
      REQUIRE(f.store
                  .InTransaction([&](osb::StoreTx& tx) {
                    auto r = tx.CancelJobs("bind-1", osb::JobKind::kClone);
                    if (!r.ok()) return r.status();
                    cancelled = *r;
                    return Status::Ok();
                  })
                  .ok());
      CHECK(cancelled == 0);
    }
  }

  TEST_CASE("RecordEvent appends an audit row") {
    Fixture f;
    osb::Event e;
    e.kind = "binding.bind_requested";
    e.instance_id = "inst-1";
    e.binding_id = "bind-1";
    e.actor = "user-guid-1";
    e.request_id = "req-1";
    e.detail_json = R"({"app_guid":"app-1"})";
    REQUIRE(f.store.InTransaction([&](osb::StoreTx& tx) { return tx.RecordEvent(e); }).ok());
    CHECK(f.db.Query("SELECT kind, instance_id, binding_id, actor, request_id, detail->>'app_guid' "
                     "FROM events") ==
          Rows{{"binding.bind_requested", "inst-1", "bind-1", "user-guid-1", "req-1", "app-1"}});
  }

  TEST_CASE("a deferred write that fails at COMMIT fails the transaction and leaves nothing") {
    Fixture f;
    REQUIRE(Put(f.store, SampleInstance("inst-0")).ok());
    const std::string before = f.db.Snapshot();
    Status recorded;
    const Status s = f.store.InTransaction([&](osb::StoreTx& tx) {
      BROKER_RETURN_IF_ERROR(tx.InsertInstance(SampleInstance("inst-1")));
      osb::Event e;
      e.kind = "x";
      e.detail_json = "{not json";  // the database refuses it, at the COMMIT it travels with
      recorded = tx.RecordEvent(e);
      return Status::Ok();
    });
    CHECK(recorded.ok());  // deferred: accepted before the database saw it
    CHECK(s.code() == Code::kInternal);
    CHECK(f.db.Snapshot() == before);
    // The connection went back to the pool usable.
    CHECK(Put(f.store, SampleInstance("inst-2")).ok());
  }

  TEST_CASE("a transaction whose function fails leaves no rows behind") {
    Fixture f;
    REQUIRE(Put(f.store, SampleInstance("inst-0")).ok());
    const std::string before = f.db.Snapshot();
    int calls = 0;

    SUBCASE("when the function returns an error") {
      const Status s = f.store.InTransaction([&](osb::StoreTx& tx) {
        ++calls;
        BROKER_RETURN_IF_ERROR(tx.InsertInstance(SampleInstance("inst-1")));
        BROKER_RETURN_IF_ERROR(tx.InsertBinding(SampleBinding("bind-1", "inst-1")));
        auto job = tx.EnqueueJob(osb::NewJob{"bind-1", osb::JobKind::kClone, "step", 3, Millis(1)});
        if (!job.ok()) return job.status();
        osb::Event e;
        e.kind = "x";
        BROKER_RETURN_IF_ERROR(tx.RecordEvent(e));
        return Status::FailedPrecondition("plan does not allow this", "RequiresApp");
      });
      CHECK(s.code() == Code::kFailedPrecondition);
      CHECK(s.reason() == "RequiresApp");
      CHECK(calls == 1);
    }
    SUBCASE("when a statement fails and the function ignores it") {
      const Status s = f.store.InTransaction([&](osb::StoreTx& tx) {
        ++calls;
        BROKER_RETURN_IF_ERROR(tx.InsertInstance(SampleInstance("inst-1")));
        // No such instance: the foreign key fails; the function pretends all is well.
        (void)tx.InsertBinding(SampleBinding("bind-1", "missing-instance"));
        return Status::Ok();
      });
      CHECK(s.code() == Code::kInternal);
      CHECK(calls == 1);
    }
    SUBCASE("when the function keeps losing races, it gives up after kMaxAttempts with kAborted") {
      const Status s = f.store.InTransaction([&](osb::StoreTx& tx) {
        ++calls;
        BROKER_RETURN_IF_ERROR(tx.InsertInstance(SampleInstance("inst-" + std::to_string(calls))));
        return Status::Aborted("lost a race");
      });
      CHECK(s.code() == Code::kAborted);
      CHECK(calls == PgStore::kMaxAttempts);
    }
    CHECK(f.db.Snapshot() == before);
    CHECK(f.pool.open_connections() >= 1);
  }

  TEST_CASE(
      "inserting over a live row is kAborted; over a tombstone it replaces the row in place") {
    Fixture f;
    REQUIRE(Put(f.store, SampleInstance("inst-1")).ok());
    osb::Binding first = SampleBinding("bind-1", "inst-1");
    REQUIRE(Put(f.store, first).ok());
    const auto job = Enqueue(f.store, "bind-1", osb::JobKind::kClone);

    Status inner;
    const auto insert_capturing = [&](const osb::Binding& b) {
      return f.store.InTransaction([&](osb::StoreTx& tx) {
        inner = tx.InsertBinding(b);
        return Status::Ok();  // keep the transaction usable: the conflict must not poison it
      });
    };
    osb::Binding second = SampleBinding("bind-1", "inst-1");
    second.app_guid = "another-app";
    second.credentials_json.clear();
    second.state = osb::OperationState::kInProgress;
    second.created_at = Millis(1700009999000);
    second.session_token_hash = "new-token-hash";
    second.session_key_hash.clear();
    REQUIRE(insert_capturing(second).ok());
    CHECK(inner.code() == Code::kAborted);
    CHECK((*f.store.GetBinding("bind-1"))->app_guid == "app-guid-1");

    first.deleted = true;
    REQUIRE(f.store.InTransaction([&](osb::StoreTx& tx) { return tx.UpdateBinding(first); }).ok());
    REQUIRE(insert_capturing(second).ok());
    CHECK(inner.ok());
    auto got = f.store.GetBinding("bind-1");
    REQUIRE(got.ok());
    CheckSame(**got, second);
    CHECK(f.db.Query("SELECT count(*), max(session_token_hash), max(session_key_hash), "
                     "bool_and(deleted_at IS NULL), bool_and(credentials_ciphertext IS NULL) "
                     "FROM service_bindings") == Rows{{"1", "new-token-hash", "", "t", "t"}});
    // The old job still points at the (same) row.
    CHECK(f.db.Query("SELECT binding_id FROM jobs WHERE id = " + std::to_string(job)) ==
          Rows{{"bind-1"}});

    SUBCASE("when an instance is tombstoned, inserting it again replaces it in place") {
      osb::Instance in = SampleInstance("inst-9");
      REQUIRE(Put(f.store, in).ok());
      Status live;
      REQUIRE(f.store
                  .InTransaction([&](osb::StoreTx& tx) {
                    live = tx.InsertInstance(in);
                    return Status::Ok();
                  })
                  .ok());
      CHECK(live.code() == Code::kAborted);
      in.state = osb::InstanceState::kDeleted;
      REQUIRE(f.store.InTransaction([&](osb::StoreTx& tx) { return tx.UpdateInstance(in); }).ok());
      osb::Instance again = SampleInstance("inst-9");
      again.plan_id = "plan-9";
      again.created_at = Millis(1700000099000);
      REQUIRE(Put(f.store, again).ok());
      auto inst = f.store.GetInstance("inst-9");
      REQUIRE(inst.ok());
      CheckSame(**inst, again);
      CHECK(f.db.Query("SELECT deleted_at IS NULL FROM service_instances WHERE id = 'inst-9'") ==
            Rows{{"t"}});
    }
  }

  TEST_CASE("two concurrent inserts of one instance: one wins, the other's retry sees its row") {
    Fixture f;
    PgPool::Options monitor_options;
    monitor_options.url = f.db.url();
    monitor_options.max_connections = 1;
    PgPool monitor(monitor_options);

    std::atomic<bool> a_inserted{false};
    bool b_seen_waiting = false;
    Status a_status;
    Status b_status;
    int b_attempts = 0;
    std::optional<osb::Instance> b_saw;
    osb::Instance from_a = SampleInstance("inst-race");
    from_a.plan_id = "plan-from-a";
    osb::Instance from_b = SampleInstance("inst-race");
    from_b.plan_id = "plan-from-b";

    std::thread a([&] {
      a_status = f.store.InTransaction([&](osb::StoreTx& tx) {
        auto existing = tx.LockInstance("inst-race");
        if (!existing.ok()) return existing.status();
        BROKER_RETURN_IF_ERROR(tx.InsertInstance(from_a));
        a_inserted = true;
        // Hold the transaction open until B's insert is blocked on our uncommitted row.
        auto lease = monitor.Acquire();
        if (!lease.ok()) return lease.status();
        for (int i = 0; i < 1000 && !b_seen_waiting; ++i) {
          auto rows =
              (*lease)->Exec("watch",
                             "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                             "AND query LIKE 'INSERT INTO service_instances%'");
          if (rows.ok() && rows->Get(0, 0) != "0") b_seen_waiting = true;
          if (!b_seen_waiting) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return Status::Ok();
      });
    });
    std::thread b([&] {
      while (!a_inserted) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      b_status = f.store.InTransaction([&](osb::StoreTx& tx) {
        ++b_attempts;
        b_saw.reset();
        auto existing = tx.LockInstance("inst-race");
        if (!existing.ok()) return existing.status();
        if (existing->has_value()) {
          b_saw = **existing;
          return Status::Ok();
        }
        return tx.InsertInstance(from_b);
      });
    });
    a.join();
    b.join();

    CHECK(b_seen_waiting);
    CHECK(a_status.ok());
    CHECK(b_status.ok());
    CHECK(b_attempts == 2);
    REQUIRE(b_saw.has_value());
    CHECK(b_saw->plan_id == "plan-from-a");
    CHECK(f.db.Query("SELECT plan_id FROM service_instances") == Rows{{"plan-from-a"}});
  }

  TEST_CASE("credentials sealed under a rotated-out key still open; an unknown key is kInternal") {
    Fixture f(true, std::string("old:") + kKeyA);
    REQUIRE(Put(f.store, SampleInstance("inst-1")).ok());
    const osb::Binding b = SampleBinding("bind-1", "inst-1");
    REQUIRE(Put(f.store, b).ok());

    SUBCASE("when the ring has a new current key and keeps the old one") {
      PgStore rotated(f.pool, Ring(std::string("new:") + kKeyB + ",old:" + kKeyA));
      auto got = rotated.GetBinding("bind-1");
      REQUIRE_MESSAGE(got.ok(), got.status().ToString());
      CHECK((*got)->credentials_json == b.credentials_json);
      REQUIRE(rotated.InTransaction([&](osb::StoreTx& tx) { return tx.UpdateBinding(b); }).ok());
      CHECK(f.db.Query("SELECT credentials_key_id FROM service_bindings") == Rows{{"new"}});
    }
    SUBCASE("when the ring lacks the key") {
      PgStore other(f.pool, Ring(std::string("new:") + kKeyB));
      auto got = other.GetBinding("bind-1");
      CHECK(got.status().code() == Code::kInternal);
      CHECK(got.status().message().find("credentials could not be decrypted") != std::string::npos);
    }
    SUBCASE("when the ciphertext was moved to another binding's row") {
      REQUIRE(Put(f.store, SampleBinding("bind-2", "inst-1")).ok());
      f.db.Query(
          "UPDATE service_bindings SET credentials_ciphertext = "
          "(SELECT credentials_ciphertext FROM service_bindings WHERE id = 'bind-1') WHERE id = "
          "'bind-2'");
      CHECK(f.store.GetBinding("bind-2").status().code() == Code::kInternal);
    }
  }

  TEST_CASE("Ping answers OK against a live database and kUnavailable against none") {
    Fixture f;
    CHECK(f.store.Ping().ok());
    PgPool::Options o;
    o.url = "postgresql://nobody:pw@127.0.0.1:1/none";
    o.connect_timeout_seconds = 2;
    PgPool dead(o);
    PgStore store(dead, Ring(std::string("a:") + kKeyA));
    CHECK(store.Ping().code() == Code::kUnavailable);
    CHECK(store.GetInstance("x").status().code() == Code::kUnavailable);
    CHECK(store.InTransaction([](osb::StoreTx&) { return Status::Ok(); }).code() ==
          Code::kUnavailable);
  }
}

TEST_SUITE("store::PgPool") {
  TEST_CASE("a pool that cannot connect reports kUnavailable and never shows the password") {
    SUBCASE("when the password is a query parameter, target() still omits it") {
      PgPool::Options o;
      o.url = "postgresql://db.example.com:5433/broker?user=u&password=qp-secret&sslmode=require";
      CHECK(PgPool(o).target() == "u@db.example.com:5433/broker");
    }
    PgPool::Options options;
    options.url = "postgresql://user:s3cret-pw@127.0.0.1:1/nodb";
    options.connect_timeout_seconds = 2;
    PgPool pool(options);
    CHECK(pool.target() == "user@127.0.0.1:1/nodb");
    auto lease = pool.Acquire();
    REQUIRE_FALSE(lease.ok());
    CHECK(lease.status().code() == Code::kUnavailable);
    CHECK(lease.status().message().find("s3cret-pw") == std::string::npos);
    CHECK(pool.open_connections() == 0);
  }

  TEST_CASE("Acquire waits for a returned connection and times out when none comes back") {
    TestDatabase db;
    PgPool::Options o;
    o.url = db.url();
    o.max_connections = 1;
    o.acquire_timeout = std::chrono::milliseconds(200);
    PgPool pool(o);
    {
      auto held = pool.Acquire();
      REQUIRE(held.ok());
      const auto started = std::chrono::steady_clock::now();
      auto second = pool.Acquire();
      CHECK(second.status().code() == Code::kUnavailable);
      CHECK(second.status().message() == "database connection pool exhausted");
      CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(200));

      std::thread releaser([held = std::move(held).value()]() mutable {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        auto gone = std::move(held);
      });
      auto third = pool.Acquire();  // the lease comes back after ~50 ms, within the 200 ms wait
      releaser.join();
      CHECK(third.ok());
    }
    CHECK(pool.open_connections() == 1);
  }

  TEST_CASE("deferred statements travel with the next Exec, in order, in one round trip") {
    for (const bool prepare : {true, false}) {
      CAPTURE(prepare);
      TestDatabase db;
      PgPool::Options o;
      o.url = db.url();
      o.prepare_statements = prepare;
      PgPool pool(o);
      auto lease = pool.Acquire();
      REQUIRE(lease.ok());
      PgConnection& c = lease->conn();
      REQUIRE(c.Exec("create", "CREATE TEMP TABLE t (n int, xid bigint)").ok());
      const std::string insert = "INSERT INTO t VALUES ($1::int, txid_current())";
      const std::string count = "SELECT count(*) FROM t";

      // Sent with one Sync, outside a transaction, statements share one implicit transaction:
      // the same txid proves they travelled together.
      c.Defer("insert 1", insert, {PgParam::Int(1)});
      c.Defer("insert 2", insert, {PgParam::Int(2)});
      CHECK(c.HasDeferred());
      const auto before = c.statements_ok();
      auto rows = c.Exec("read", "SELECT string_agg(n::text, ',' ORDER BY n), min(xid) = max(xid), "
                                 "min(xid) = txid_current() FROM t");
      REQUIRE_MESSAGE(rows.ok(), rows.status().ToString());
      CHECK(rows->Get(0, 0) == "1,2");
      CHECK(rows->Get(0, 1) == "t");
      CHECK(rows->Get(0, 2) == "t");
      CHECK(c.statements_ok() == before + 3);
      CHECK_FALSE(c.HasDeferred());

      SUBCASE("when a deferred statement fails, the Exec fails with it and nothing of the batch stays") {
        c.Defer("insert 3", insert, {PgParam::Int(3)});
        c.Defer("insert bad", insert, {PgParam::Text("not a number")});
        c.Defer("insert 4", insert, {PgParam::Int(4)});
        auto failed = c.Exec("read", count);
        CHECK(failed.status().code() == Code::kInternal);
        CHECK_FALSE(c.broken());
        auto after = c.Exec("read", count);
        REQUIRE(after.ok());
        CHECK(after->Get(0, 0) == "2");
      }
      SUBCASE("when Flush sends them alone; DiscardDeferred drops them unsent") {
        c.Defer("insert 5", insert, {PgParam::Int(5)});
        CHECK(c.Flush().ok());
        CHECK(c.Flush().ok());  // nothing queued
        c.Defer("insert 6", insert, {PgParam::Int(6)});
        c.DiscardDeferred();
        auto after = c.Exec("read", "SELECT string_agg(n::text, ',' ORDER BY n) FROM t");
        REQUIRE(after.ok());
        CHECK(after->Get(0, 0) == "1,2,5");
      }
      SUBCASE("when a transaction is open, a deferred failure aborts it") {
        REQUIRE(c.Exec("begin", "BEGIN").ok());
        c.Defer("insert bad", insert, {PgParam::Text("x")});
        CHECK_FALSE(c.Exec("commit", "COMMIT").ok());
        CHECK(c.InFailedTransaction());
        REQUIRE(c.Exec("rollback", "ROLLBACK").ok());
        CHECK_FALSE(c.InTransaction());
      }
      SUBCASE("when a lease goes back with statements still deferred, the connection is closed") {
        c.Defer("insert 7", insert, {PgParam::Int(7)});
        { auto gone = std::move(lease).value(); }
        CHECK(pool.open_connections() == 0);
      }
      SUBCASE("Send puts them on the wire at once and Receive reads the answers") {
        c.Defer("insert 8", insert, {PgParam::Int(8)});
        c.Defer("read", count);
        c.Send();
        CHECK(c.awaiting());
        // Nothing else may use the connection meanwhile.
        CHECK(c.Exec("read", count).status().code() == Code::kInternal);
        CHECK(c.Flush().code() == Code::kInternal);
        auto answer = c.Receive();
        REQUIRE_MESSAGE(answer.ok(), answer.status().ToString());
        CHECK(answer->Get(0, 0) == "3");
        CHECK_FALSE(c.awaiting());
        CHECK(c.Receive().status().code() == Code::kInternal);  // nothing was sent
        c.Send();                                                // nothing queued
        CHECK(c.Receive().status().code() == Code::kInternal);
        auto after = c.Exec("read", count);
        REQUIRE(after.ok());
        CHECK(after->Get(0, 0) == "3");
      }
      SUBCASE("Send of a failing statement: Receive returns its failure") {
        c.Defer("insert bad", insert, {PgParam::Text("not a number")});
        c.Send();
        CHECK(c.Receive().status().code() == Code::kInternal);
        CHECK_FALSE(c.broken());
        CHECK(c.Exec("read", count)->Get(0, 0) == "2");
      }
      SUBCASE("when a lease goes back before its answers are read, the connection is closed") {
        c.Defer("insert 9", insert, {PgParam::Int(9)});
        c.Send();
        { auto gone = std::move(lease).value(); }
        CHECK(pool.open_connections() == 0);
      }
    }
  }

  TEST_CASE("a connection the server killed is discarded and replaced on next use") {
    Fixture f;
    std::string pid;
    {
      auto lease = f.pool.Acquire();
      REQUIRE(lease.ok());
      auto rows = (*lease)->Exec("pid", "SELECT pg_backend_pid()");
      REQUIRE(rows.ok());
      pid = std::string(rows->Get(0, 0));
    }
    f.db.Query("SELECT pg_terminate_backend(" + pid + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));

    SUBCASE("when used directly, the statement fails kUnavailable and the next lease is fresh") {
      {
        auto lease = f.pool.Acquire();
        REQUIRE(lease.ok());
        auto rows = (*lease)->Exec("select", "SELECT 1");
        CHECK(rows.status().code() == Code::kUnavailable);
        CHECK((*lease)->broken());
      }
      auto lease = f.pool.Acquire();
      REQUIRE(lease.ok());
      auto rows = (*lease)->Exec("pid", "SELECT pg_backend_pid()");
      REQUIRE(rows.ok());
      CHECK(rows->Get(0, 0) != pid);
    }
    SUBCASE("when a transaction starts on it, InTransaction retries on a fresh connection") {
      CHECK(Put(f.store, SampleInstance("inst-1")).ok());
      CHECK(f.db.Query("SELECT id FROM service_instances") == Rows{{"inst-1"}});
    }
  }

  TEST_CASE(
      "after a server restart killed every pooled connection, the next transaction succeeds") {
    Fixture f;
    {
      std::vector<PgPool::Lease> leases;
      for (int i = 0; i < 4; ++i) {
        auto lease = f.pool.Acquire();
        REQUIRE(lease.ok());
        REQUIRE((*lease)->Exec("warm", "SELECT 1").ok());
        leases.push_back(std::move(lease).value());
      }
    }
    REQUIRE(f.pool.open_connections() == 4);
    f.db.Query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
        "AND application_name = 'ssh-access-broker' AND query NOT LIKE '%pg_stat_activity%' "
        "AND datname = current_database()");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const Status s = Put(f.store, SampleInstance("inst-1"));
    CHECK_MESSAGE(s.ok(), s.ToString());
    CHECK(f.pool.open_connections() == 1);
  }
}

}  // namespace
}  // namespace broker::store
