// The reconciler end to end (cloud-controller.md §6.3 scenario 10): the real broker binary, its
// reconciler, worker and Cloud Controller client against the fake Cloud Controller over HTTP. A
// clone past its TTL is deleted while its binding stays succeeded (and is expired once); labelled
// apps whose binding the broker does not know, or knows as a tombstone, are deleted; clones of
// live bindings and orphans younger than the grace are left alone.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "broker/base/clock.h"
#include "tests/support/broker_process.h"
#include "tests/support/clone_fixture.h"
#include "tests/support/fake_cloud_controller.h"
#include "tests/support/http_client.h"
#include "tests/support/osb_fixtures.h"
#include "tests/support/test_database.h"

namespace broker::testing {
namespace {

using Fake = FakeCloudController;
using std::chrono::milliseconds;

constexpr const char* kInstance = CloneHarness::kInstance;
constexpr char kTmateToken[] = "Rk9fQ2mZ7aP4rT8wYb3nC6vD2";
constexpr char kLabelPrefix[] = "ssh-access.broker";

std::string BindingId(int n) { return CloneBindingId(n); }

Fake::SessionReport ContainerReport() {
  return testing::ContainerReport(std::string("ssh -p2222 ") + kTmateToken + "@tmate.example.com");
}

// The harness of tests/support/clone_fixture.h with a broker that reconciles every 200 ms and
// treats every orphan as old enough, plus what these tests use.
EnvOverrides ReconcileEnv(const EnvOverrides& extra) {
  EnvOverrides env = {{"WORKER_THREADS", "2"}, {"RECONCILE_INTERVAL_MS", "200"}, {"CLONE_ORPHAN_GRACE_SECONDS", "0"}};
  for (const auto& [key, value] : extra) env[key] = value;
  return env;
}

class ReconcileTest : public CloneHarness {
 public:
  explicit ReconcileTest(const std::function<void(Fake&)>& prepare = {}, const EnvOverrides& extra = {})
      : CloneHarness(prepare, ReconcileEnv(extra), ContainerReport()) {}

  // Polls last_operation until it is no longer "in progress"; returns the final state.
  std::string AwaitState(const std::string& bid, const std::string& operation) const {
    return State(AwaitOperation(bid, operation));
  }

  // Binds the demo app and waits; REQUIREs success. Returns the operation token.
  std::string BindAndWait(const std::string& bid) {
    const Response resp = Bind(bid, demo.app_guid);
    REQUIRE_MESSAGE(resp.status == 202, resp.Describe());
    const std::string op = OperationOf(resp);
    REQUIRE_MESSAGE(AwaitState(bid, op) == "succeeded", broker->LogTail(60));
    return op;
  }

  void UnbindAndWait(const std::string& bid) {
    const Response resp = Unbind(bid);
    REQUIRE_MESSAGE(resp.status == 202, resp.Describe());
    REQUIRE(AwaitState(bid, OperationOf(resp)) == "succeeded");
  }

  // Seeds a stopped-or-started app labelled as our clone of `bid` (a leftover the broker did not
  // make in this test), bound to the demo's user-provided instance; returns its guid.
  std::string SeedLabelledApp(const std::string& name, const std::string& bid,
                              std::optional<base::TimePoint> created_at = std::nullopt) {
    Fake::AppSpec spec;
    spec.name = name;
    spec.space_guid = fake.App(demo.app_guid)->space_guid;
    const std::string p = kLabelPrefix;
    spec.labels = {{p + "/binding-guid", bid},
                   {p + "/instance-guid", kInstance},
                   {p + "/source-app-guid", demo.app_guid},
                   {p + "/managed-by", "ssh-access"}};
    if (created_at.has_value()) spec.annotations = {{p + "/created-at", base::FormatIso8601(*created_at)}};
    const std::string guid = fake.AddApp(spec);
    fake.AddServiceBinding(guid, demo.ups_instance_guid);
    return guid;
  }

  // Waits for `n` more reconciler passes (a pass every 200 ms; the log shows each one that did
  // something, so this waits on time).
  static void AwaitPasses(int n) { std::this_thread::sleep_for(milliseconds(200 * n + 100)); }

  std::string Scalar(const std::string& sql) const { return db.Query(sql)[0][0]; }

  // Calls on the fake naming `app_guid` in their path with this method.
  std::size_t CallsOn(const std::string& method, const std::string& app_guid) const {
    std::size_t n = 0;
    for (const auto& e : fake.Journal()) {
      if (e.method == method && e.path.find(app_guid) != std::string::npos) ++n;
    }
    return n;
  }
};

TEST_SUITE("clone::Reconciler") {
  TEST_CASE("a clone past its TTL is deleted by the next pass; the binding stays succeeded and expires once") {
    ReconcileTest t;
    t.Provision();
    const std::string bid = BindingId(1);
    const std::string op = t.BindAndWait(bid);
    const auto clones = t.ClonesOf(bid);
    REQUIRE(clones.size() == 1);
    const std::string clone_guid = clones.front().guid;

    // Passes before the expiry leave it alone.
    ReconcileTest::AwaitPasses(3);
    CHECK(t.ClonesOf(bid).size() == 1);
    CHECK(t.Scalar("SELECT count(*) FROM jobs WHERE kind = 'teardown'") == "0");

    t.db.Query("UPDATE service_bindings SET expires_at = now() - interval '1 second' WHERE id = '" + bid + "'");
    REQUIRE_MESSAGE(ReconcileTest::Eventually([&] { return !t.fake.App(clone_guid).has_value(); }),
                    t.broker->LogTail(60));
    CHECK(t.ClonesOf(bid).empty());
    CHECK(t.fake.BindingsOfApp(clone_guid).empty());
    REQUIRE(ReconcileTest::Eventually([&] {
      return t.Scalar("SELECT count(*) FROM jobs WHERE kind = 'teardown' AND status = 'completed'") == "1";
    }));

    // More passes: the binding is not expired again.
    ReconcileTest::AwaitPasses(5);
    CHECK(t.Scalar("SELECT count(*) FROM jobs WHERE binding_id = '" + bid + "' AND kind = 'teardown'") == "1");
    CHECK(t.Scalar("SELECT count(*) FROM events WHERE kind = 'binding.expired' AND binding_id = '" + bid + "'") ==
          "1");
    // The binding row is as the bind left it: succeeded, not a tombstone, its operation the bind.
    CHECK(t.db.Query("SELECT operation, state, deleted_at IS NULL FROM service_bindings WHERE id = '" + bid + "'") ==
          std::vector<std::vector<std::string>>{{"bind", "succeeded", "t"}});
    CHECK(t.AwaitState(bid, op) == "succeeded");

    // Info lines are flushed at least every second: wait for the line rather than read once.
    CHECK(ReconcileTest::Eventually(
        [&] { return t.broker->Log().find("reconciler.binding_expired binding=" + bid) != std::string::npos; }));
    CHECK(t.broker->Log().find(kTmateToken) == std::string::npos);

    // The platform's unbind still ends well (the clone is already gone).
    t.UnbindAndWait(bid);
    CHECK(t.Scalar("SELECT deleted_at IS NOT NULL FROM service_bindings WHERE id = '" + bid + "'") == "t");
  }

  TEST_CASE("labelled apps of an unknown or tombstoned binding are deleted; a live binding's clone is not") {
    ReconcileTest t;
    t.Provision();
    const std::string live = BindingId(2);
    const std::string tombstoned = BindingId(3);
    const std::string unknown = BindingId(4);
    t.BindAndWait(live);
    t.BindAndWait(tombstoned);
    t.UnbindAndWait(tombstoned);
    REQUIRE(t.ClonesOf(live).size() == 1);
    const std::string live_clone = t.ClonesOf(live).front().guid;
    t.fake.ClearJournal();

    const std::string unknown_app = t.SeedLabelledApp("left-behind-ssh", unknown);
    const std::string tomb_app = t.SeedLabelledApp("purged-ssh", tombstoned);
    REQUIRE(t.fake.BindingsOfApp(unknown_app).size() == 1);

    REQUIRE_MESSAGE(ReconcileTest::Eventually([&] {
                      return !t.fake.App(unknown_app).has_value() && !t.fake.App(tomb_app).has_value();
                    }),
                    t.broker->LogTail(60));
    CHECK(t.fake.BindingsOfApp(unknown_app).empty());
    // Stopped first, then deleted.
    CHECK(t.CallsOn("POST", unknown_app + "/actions/stop") == 1);
    CHECK(t.CallsOn("DELETE", "/v3/apps/" + unknown_app) >= 1);

    // Passes go on; the live binding's clone is never touched.
    ReconcileTest::AwaitPasses(4);
    const auto live_now = t.fake.App(live_clone);
    REQUIRE(live_now.has_value());
    CHECK(live_now->state == "STARTED");
    CHECK(t.CallsOn("POST", live_clone) == 0);
    CHECK(t.CallsOn("DELETE", live_clone) == 0);
    CHECK(t.Scalar("SELECT state FROM service_bindings WHERE id = '" + live + "'") == "succeeded");

    // The broker flushes info lines at least every second, so the lines may come after the passes.
    const std::string unknown_line = "reconciler.orphan_deleted app=" + unknown_app + " binding=" + unknown;
    const std::string tomb_line = "reconciler.orphan_deleted app=" + tomb_app + " binding=" + tombstoned;
    CHECK_MESSAGE(ReconcileTest::Eventually([&] {
                    const std::string log = t.broker->Log();
                    return log.find(unknown_line) != std::string::npos && log.find(tomb_line) != std::string::npos;
                  }),
                  t.broker->LogTail(60));
    CHECK(t.broker->Log().find(kTmateToken) == std::string::npos);
  }

  TEST_CASE("an orphan younger than CLONE_ORPHAN_GRACE_SECONDS is left alone; an older one is deleted") {
    ReconcileTest t({}, {{"CLONE_ORPHAN_GRACE_SECONDS", "600"}});
    const auto now = std::chrono::system_clock::now();
    const std::string young = t.SeedLabelledApp("young-ssh", BindingId(5), now);
    const std::string old = t.SeedLabelledApp("old-ssh", BindingId(6), now - std::chrono::hours(2));

    REQUIRE_MESSAGE(ReconcileTest::Eventually([&] { return !t.fake.App(old).has_value(); }), t.broker->LogTail(60));
    ReconcileTest::AwaitPasses(4);
    const auto kept = t.fake.App(young);
    REQUIRE(kept.has_value());
    CHECK(kept->state == "STARTED");
    CHECK(t.fake.BindingsOfApp(young).size() == 1);
    CHECK(t.CallsOn("POST", young) == 0);
    CHECK(t.CallsOn("DELETE", young) == 0);
    CHECK(ReconcileTest::Eventually(
        [&] { return t.broker->Log().find("reconciler.orphan_young app=" + young) != std::string::npos; }));
  }
}

}  // namespace
}  // namespace broker::testing
