// The clone engine end to end (cloud-controller.md §6.3): the real broker binary, its worker and
// its libcurl Cloud Controller client against the fake Cloud Controller over HTTP, driven through
// the OSB API as the platform drives it (bind -> 202 -> poll last_operation -> GET binding), with
// assertions on the fake's request journal and state.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

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
using std::chrono::seconds;

constexpr const char* kInstance = CloneHarness::kInstance;
constexpr char kTmateToken[] = "Xk9fQ2mZ7aP4rT8wYb3nC6vD1";
// The broker hands the command back in one normal form.
constexpr char kSshCommandNormal[] = "ssh -p 2222 Xk9fQ2mZ7aP4rT8wYb3nC6vD1@tmate.example.com";
constexpr const char* kLabelKey = CloneHarness::kLabelKey;

std::string BindingId(int n) { return CloneBindingId(n); }

// How many times the clone of binding `bid` was looked up by its label (GET /v3/apps).
int LabelLookups(const CloneHarness& t, const std::string& bid) {
  int lookups = 0;
  for (const auto& e : t.fake.Calls("GET", "/v3/apps")) {
    const auto sel = e.query_params.find("label_selector");
    if (sel != e.query_params.end() && sel->second == std::string(kLabelKey) + "=" + bid) ++lookups;
  }
  return lookups;
}

// Whether the clone job of binding `bid` is running step `step` now.
bool InCloneStep(const CloneHarness& t, const std::string& bid, std::string_view step) {
  const auto rows = t.db.Query("SELECT step FROM jobs WHERE binding_id = " + SqlQuote(bid) +
                               " AND kind = 'clone' AND status = 'running'");
  return !rows.empty() && !rows[0].empty() && rows[0][0] == step;
}


// The demo foundation and one broker process wired to it (tests/support/clone_fixture.h).
using CloneTest = CloneHarness;

// A copy of the shipped catalog whose plans set maximum_polling_duration to `deadline_seconds` (the clone
// job's deadline); returns its path.
std::string CatalogWithDeadline(int deadline_seconds) {
  std::ifstream in(std::string(BROKER_SOURCE_DIR) + "/catalog/catalog.json");
  std::stringstream text;
  text << in.rdbuf();
  std::string json = text.str();
  const std::string key = "\"maximum_polling_duration\": 1800";
  for (auto at = json.find(key); at != std::string::npos; at = json.find(key)) {
    json.replace(at, key.size(), "\"maximum_polling_duration\": " + std::to_string(deadline_seconds));
  }
  char path[] = "/tmp/ssh-access-catalog-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, json.data(), json.size()) == static_cast<ssize_t>(json.size()));
  close(fd);
  return path;
}

// Every platform step finishes on its first look (droplet copy, binding jobs, instance start).
void FirstLookPlatform(Fake& f) {
  f.UpdateKnobs([](Fake::Knobs& k) {
    k.droplet_copy_ticks = 1;
    k.binding_create_job_ticks = 1;
    k.instance_start_ticks = 1;
  });
}

// Binds the demo app as `bid` and requires the bind to succeed within 30 s; returns how long it
// took from the 202.
std::chrono::steady_clock::duration BindUntilSucceeded(CloneHarness& t, const std::string& bid) {
  const Response r = t.Bind(bid, t.demo.app_guid);
  REQUIRE(r.status == 202);
  const auto started = std::chrono::steady_clock::now();
  const auto op = t.AwaitOperation(bid, OperationOf(r), seconds(30));
  REQUIRE_MESSAGE(CloneHarness::State(op) == "succeeded", CloneHarness::Description(op), "\n", t.broker->LogTail(40));
  return std::chrono::steady_clock::now() - started;
}

// Index of the first journal entry matching method and route (or path glob) at or after `from`.
std::ptrdiff_t IndexOf(const std::vector<Fake::JournalEntry>& journal, const std::string& method,
                       const std::string& route, std::size_t from = 0) {
  for (std::size_t i = from; i < journal.size(); ++i) {
    if (journal[i].method == method && (journal[i].route == route || journal[i].path == route)) {
      return static_cast<std::ptrdiff_t>(i);
    }
  }
  return -1;
}

TEST_SUITE("clone::Engine") {
  TEST_CASE("bind clones a buildpack app with its bindings, and the credentials carry the reported session") {
    CloneTest t;
    t.Provision();
    const std::string bid = BindingId(1);
    const auto op = t.BindAndWait(bid, t.demo.app_guid, R"({"memory_mb":512})");
    REQUIRE_MESSAGE(CloneTest::State(op) == "succeeded", CloneTest::Description(op), "\n", t.broker->LogTail(60));

    // The clone: one app, found by its label, named <app>-ssh, same lifecycle, source env kept.
    const auto clones = t.ClonesOf(bid);
    REQUIRE(clones.size() == 1);
    const auto& clone = clones.front();
    CHECK(clone.name == "spring-music-ssh");
    CHECK(clone.state == "STARTED");
    CHECK(clone.lifecycle == Fake::Lifecycle::kBuildpack);
    CHECK(clone.space_guid == t.fake.App(t.demo.app_guid)->space_guid);
    CHECK(clone.labels.at("ssh-access.broker/instance-guid") == kInstance);
    CHECK(clone.labels.at("ssh-access.broker/source-app-guid") == t.demo.app_guid);
    CHECK(clone.env.count("SSH_ACCESS_SESSION_TOKEN") == 1);
    const auto source = t.fake.App(t.demo.app_guid);
    REQUIRE(source.has_value());
    for (const auto& [k, v] : source->env) CHECK(clone.env.at(k) == v);
    CHECK_FALSE(clone.current_droplet_guid.empty());
    CHECK(clone.current_droplet_guid != t.fake.App(t.demo.app_guid)->current_droplet_guid);

    // Web process: the bootstrap, a process health check, memory capped by memory_mb.
    const auto web = t.fake.ProcessOf(clone.guid);
    REQUIRE(web.has_value());
    CHECK(web->command.value_or("").find("ssh-access/v1/bootstrap") != std::string::npos);
    CHECK(web->health_check_type == "process");
    CHECK(web->memory_in_mb == 512);
    CHECK(web->instances == 1);
    // The web process scaled once (1024 MB by default), the task process once (capped, 0 instances).
    const auto scales = t.fake.Calls("POST", "/v3/processes/:guid/actions/scale");
    REQUIRE(scales.size() == 2);
    CHECK(scales[0].path == "/v3/processes/" + web->guid + "/actions/scale");
    CHECK(t.fake.ProcessOf(clone.guid, "task")->instances == 0);

    // Bindings: the source's three, never our own offering's instance.
    const auto bindings = t.fake.BindingsOfApp(clone.guid);
    std::set<std::string> bound;
    for (const auto& b : bindings) bound.insert(b.service_instance_guid);
    CHECK(bound == std::set<std::string>{t.demo.mysql_instance_guid, t.demo.redis_instance_guid,
                                         t.demo.ups_instance_guid});

    // Journal: labels in the create call, health check patched before the start, our own
    // instance never bound, and a bounded number of calls.
    const auto journal = t.fake.Journal();
    const auto create = IndexOf(journal, "POST", "/v3/apps");
    REQUIRE(create >= 0);
    CHECK(journal[static_cast<std::size_t>(create)].body.find(std::string(kLabelKey)) != std::string::npos);
    const auto patch = IndexOf(journal, "PATCH", "/v3/processes/:guid");
    const auto start = IndexOf(journal, "POST", "/v3/apps/:guid/actions/start");
    REQUIRE(patch >= 0);
    REQUIRE(start >= 0);
    CHECK(patch < start);
    for (const auto& e : t.fake.Calls("POST", "/v3/service_credential_bindings")) {
      CHECK(e.body.find(t.demo.ssh_instance_guid) == std::string::npos);
      CHECK(e.body.find(kInstance) == std::string::npos);
    }
    int non_poll = 0;
    for (const auto& e : journal) {
      const bool poll = e.method == "GET" && (e.route == "/v3/jobs/:guid" || e.route == "/v3/droplets/:guid" ||
                                              e.route == "/v3/processes/:guid/stats");
      if (!poll && e.path.rfind("/v3", 0) == 0) ++non_poll;
    }
    CHECK(non_poll <= 25);
    // A first attempt has no clone to adopt (no token hash was saved, nor the job marked, before
    // it), so it does not look one up by label.
    CHECK(LabelLookups(t, bid) == 0);
    // Nor does bind_services, entered in the claim that configured the process, list the clone's
    // bindings (there can be none from an earlier attempt).
    for (const auto& e : t.fake.Calls("GET", "/v3/service_credential_bindings")) {
      const auto apps = e.query_params.find("app_guids");
      CHECK((apps == e.query_params.end() || apps->second != clone.guid));
    }

    // Credentials: the reported session plus the clone's facts.
    const auto creds = t.Credentials(bid);
    CHECK(StringMember(creds, "ssh_command") == std::optional<std::string>(kSshCommandNormal));
    CHECK(StringMember(creds, "host") == std::optional<std::string>("tmate.example.com"));
    CHECK(StringMember(creds, "username") == std::optional<std::string>(kTmateToken));
    CHECK(StringMember(creds, "clone_app_name") == std::optional<std::string>("spring-music-ssh"));
    CHECK(StringMember(creds, "clone_app_guid") == std::optional<std::string>(clone.guid));
    CHECK(StringMember(creds, "session_url").value_or("").find("/ssh-access/v1/bindings/" + bid + "/session") !=
          std::string::npos);
    CHECK(HasMember(creds, "expires_at"));
    CHECK_FALSE(HasMember(creds, "skipped_services"));

    // Unbind removes the clone and its bindings; the operation ends succeeded.
    const auto gone = t.UnbindAndWait(bid);
    CHECK(CloneTest::State(gone) == "succeeded");
    CHECK(t.ClonesOf(bid).empty());
    CHECK(t.fake.BindingsOfApp(clone.guid).empty());

    // The broker's log, bind to unbind, never holds the session strings or the clone's token.
    // Stopping it first flushes what it buffered (info lines reach the file within a second).
    t.broker->Stop();
    const std::string log = t.broker->Log();
    // The flow was logged at all: the bind's end (by the worker, or by the report that found the
    // job waiting) and the unbind's.
    REQUIRE(log.find("job_completed") != std::string::npos);
    REQUIRE(log.find("kind=teardown") != std::string::npos);
    CHECK(log.find(kTmateToken) == std::string::npos);
    CHECK(log.find(clone.env.at("SSH_ACCESS_SESSION_TOKEN")) == std::string::npos);
  }

  TEST_CASE("the clone's report ends a bind that waits for it, without waiting out the poll interval") {
    // A minute between looks at the platform, and the container reports a second after its
    // instance runs: the job has long gone back to waiting when the report comes, and the report
    // ends the bind there and then (the worker would only look again a minute later).
    // Every platform step finishes on its first look, so the only wait is the report's.
    auto report = CloneTest::DefaultReport();
    report.delay = milliseconds(1000);
    CloneTest t(FirstLookPlatform, {{"CLONE_POLL_INTERVAL_MS", "60000"}}, report);
    t.Provision();
    const std::string bid = BindingId(2);
    CHECK(BindUntilSucceeded(t, bid) < seconds(20));
    const auto creds = t.Credentials(bid);
    CHECK(StringMember(creds, "ssh_command") == std::optional<std::string>(kSshCommandNormal));
    CHECK(StringMember(creds, "clone_app_name") == std::optional<std::string>("spring-music-ssh"));
    CHECK(HasMember(creds, "session_url"));
    CHECK(t.fake.Calls("GET", "/v3/processes/:guid/stats").size() == 1);  // one look, then the report
    // The source's size is the platform's default, which the clone's process has from the start
    // (the PATCH's answer says so); one scale call sets the plan's log rate cap, the source's being
    // unlimited.
    const auto clones = t.ClonesOf(bid);
    REQUIRE(clones.size() == 1);
    const auto web = t.fake.ProcessOf(clones.front().guid);
    const auto source_web = t.fake.ProcessOf(t.demo.app_guid);
    REQUIRE(web.has_value());
    REQUIRE(source_web.has_value());
    CHECK(web->memory_in_mb == source_web->memory_in_mb);
    CHECK(web->disk_in_mb == source_web->disk_in_mb);
    CHECK(web->instances == 1);
    CHECK(t.fake.Calls("PATCH", "/v3/processes/:guid").size() == 1);
    // The web process once (for its log rate), the task process once (its log rate too).
    const auto scales = t.fake.Calls("POST", "/v3/processes/:guid/actions/scale");
    REQUIRE(scales.size() == 2);
    CHECK(scales[0].path == "/v3/processes/" + web->guid + "/actions/scale");
    CHECK(web->log_rate_limit_in_bytes_per_second == 16384);
    t.broker->Stop();
    const std::string log = t.broker->Log();
    CHECK(log.find("clone.job_completed") != std::string::npos);
    CHECK(log.find("by=session_report") != std::string::npos);
  }

  TEST_CASE("a report that comes while the worker looks at the platform ends the bind with the worker's wait") {
    // The report comes 300 ms after the start, while the worker's one look at the instance is
    // held for 1.5 s: the session desk finds the job held and only stores the session; the
    // worker, writing its wait, finds it under the binding's lock and ends the bind there (the
    // next look would come a minute later).
    auto report = CloneTest::DefaultReport();
    report.trigger = Fake::SessionReport::Trigger::kOnStart;
    report.delay = milliseconds(300);
    CloneTest t(
        [](Fake& f) {
          FirstLookPlatform(f);
          Fake::Fault slow{Fake::Fault::Kind::kSlowResponse, "GET", "/v3/processes/:guid/stats", 1, 1};
          slow.delay = milliseconds(1500);
          f.AddFault(slow);
        },
        {{"CLONE_POLL_INTERVAL_MS", "60000"}}, report);
    t.Provision();
    const std::string bid = BindingId(3);
    CHECK(BindUntilSucceeded(t, bid) < seconds(20));
    CHECK(StringMember(t.Credentials(bid), "ssh_command") == std::optional<std::string>(kSshCommandNormal));
    CHECK(t.fake.Calls("GET", "/v3/processes/:guid/stats").size() == 1);
    CHECK(t.db.Query("SELECT count(*) FROM events WHERE binding_id = " + SqlQuote(bid) + " AND kind = 'binding.bound'") ==
          std::vector<std::vector<std::string>>{{"1"}});
    t.broker->Stop();
    const std::string log = t.broker->Log();
    CHECK(log.find("clone.session_reported") != std::string::npos);
    CHECK(log.find("worker.job_completed") != std::string::npos);
    CHECK(log.find("by=session_report") == std::string::npos);
  }

  TEST_CASE("a docker app is cloned with its droplet copied synchronously") {
    std::string app;
    CloneTest t([&](Fake& f) {
      Fake::AppSpec spec;
      spec.name = "docker-app";
      spec.space_guid = f.App(f.Apps().front().guid)->space_guid;
      spec.lifecycle = Fake::Lifecycle::kDocker;
      spec.buildpacks = {};
      app = f.AddApp(spec);
    });
    t.Provision();
    const auto op = t.BindAndWait(BindingId(2), app);
    REQUIRE_MESSAGE(CloneTest::State(op) == "succeeded", CloneTest::Description(op));
    const auto clones = t.ClonesOf(BindingId(2));
    REQUIRE(clones.size() == 1);
    CHECK(clones.front().lifecycle == Fake::Lifecycle::kDocker);
    CHECK(t.fake.Calls("GET", "/v3/droplets/:guid").empty());  // STAGED at once: nothing to poll
  }

  TEST_CASE("a cnb app fails with a description that says why, and no clone is made") {
    std::string app;
    CloneTest t([&](Fake& f) {
      Fake::AppSpec spec;
      spec.name = "cnb-app";
      spec.space_guid = f.App(f.Apps().front().guid)->space_guid;
      spec.lifecycle = Fake::Lifecycle::kCnb;
      app = f.AddApp(spec);
    });
    t.Provision();
    const auto op = t.BindAndWait(BindingId(3), app);
    CHECK(CloneTest::State(op) == "failed");
    CHECK(CloneTest::Description(op).find("cnb") != std::string::npos);
    CHECK(t.fake.Calls("POST", "/v3/apps").empty());
  }

  TEST_CASE("a name clash gives <app>-ssh-<8 of binding id>; an identical re-PUT keeps the one clone") {
    CloneTest t([](Fake& f) {
      Fake::AppSpec spec;
      spec.name = "spring-music-ssh";  // a real user app of that name
      spec.space_guid = f.App(f.Apps().front().guid)->space_guid;
      f.AddApp(spec);
    });
    t.Provision();
    const std::string bid = BindingId(4);
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    REQUIRE_MESSAGE(CloneTest::State(op) == "succeeded", CloneTest::Description(op));
    const auto clones = t.ClonesOf(bid);
    REQUIRE(clones.size() == 1);
    CHECK(clones.front().name == "spring-music-ssh-" + bid.substr(0, 8));
    const Response again = t.Bind(bid, t.demo.app_guid);
    CHECK(again.status == 200);
    CHECK(t.ClonesOf(bid).size() == 1);
  }

  TEST_CASE("a failed droplet copy fails the bind and the partial clone is deleted") {
    CloneTest t([](Fake& f) { f.UpdateKnobs([](Fake::Knobs& k) { k.droplet_copy_fails = true; }); });
    t.Provision();
    const std::string bid = BindingId(5);
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    CHECK(CloneTest::State(op) == "failed");
    CHECK(CloneTest::Description(op).find("droplet") != std::string::npos);
    CHECK(CloneTest::Description(op).find("blobstore") == std::string::npos);  // raw CC text stays in the log
    CHECK(t.AwaitNoClone(bid));
  }

  TEST_CASE("an app that was never staged fails at once, before any clone exists") {
    std::string app;
    CloneTest t([&](Fake& f) {
      Fake::AppSpec spec;
      spec.name = "unstaged";
      spec.space_guid = f.App(f.Apps().front().guid)->space_guid;
      spec.has_droplet = false;
      spec.started = false;
      app = f.AddApp(spec);
    });
    t.Provision();
    const auto op = t.BindAndWait(BindingId(6), app);
    CHECK(CloneTest::State(op) == "failed");
    CHECK(CloneTest::Description(op).find("never staged") != std::string::npos);
    CHECK(t.fake.Calls("POST", "/v3/apps").empty());
  }

  TEST_CASE("a failing service binding is skipped and listed by default, and fails the bind when strict") {
    std::string mysql;
    CloneTest t;
    mysql = t.demo.mysql_instance_guid;
    t.fake.UpdateKnobs([&](Fake::Knobs& k) { k.binding_job_fails_for_instances = {mysql}; });
    t.Provision();

    const auto lenient = t.BindAndWait(BindingId(7), t.demo.app_guid);
    REQUIRE_MESSAGE(CloneTest::State(lenient) == "succeeded", CloneTest::Description(lenient));
    const auto creds = t.Credentials(BindingId(7));
    REQUIRE(HasMember(creds, "skipped_services"));
    CHECK(creds["skipped_services"].Size() == 1);

    const auto strict = t.BindAndWait(BindingId(8), t.demo.app_guid, R"({"strict":true})");
    CHECK(CloneTest::State(strict) == "failed");
    CHECK(CloneTest::Description(strict).find("strict") != std::string::npos);
    CHECK_MESSAGE(t.AwaitNoClone(BindingId(8)), t.broker->LogTail(80));
  }

  TEST_CASE("a source app on a restricted stack fails with a description naming the stack; no clone is left") {
    CloneTest t([](Fake& f) { f.UpdateKnobs([](Fake::Knobs& k) { k.restricted_stacks = {"cflinuxfs4"}; }); });
    t.Provision();
    const std::string bid = BindingId(15);
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    CHECK(CloneTest::State(op) == "failed");
    CHECK(CloneTest::Description(op).find("stack") != std::string::npos);
    CHECK(CloneTest::Description(op).find("cannot be used for staging") == std::string::npos);  // CC's text: log only
    CHECK(t.AwaitNoClone(bid));
  }

  TEST_CASE("CLONE_MAX_PER_SPACE: a bind over the operator's limit fails and says so; unbinding makes room") {
    CloneTest t({}, {{"CLONE_MAX_PER_SPACE", "1"}});
    t.Provision();
    const std::string first = BindingId(40), second = BindingId(41);
    REQUIRE(CloneTest::State(t.BindAndWait(first, t.demo.app_guid)) == "succeeded");
    const auto over = t.BindAndWait(second, t.demo.app_guid);
    CHECK(CloneTest::State(over) == "failed");
    CHECK_MESSAGE(CloneTest::Description(over).find("the most your operator allows per space (1)") != std::string::npos,
                  CloneTest::Description(over));
    CHECK(t.ClonesOf(second).empty());
    CHECK(t.fake.Calls("POST", "/v3/apps").size() == 1);  // nothing was made for the refused bind
    REQUIRE(CloneTest::State(t.UnbindAndWait(first)) == "succeeded");
    const std::string third = BindingId(42);
    CHECK(CloneTest::State(t.BindAndWait(third, t.demo.app_guid)) == "succeeded");
    CHECK(t.ClonesOf(third).size() == 1);
  }

  TEST_CASE("a service binding stuck past the plan's deadline fails the bind with a clear description") {
    // A catalog whose plans allow 4 s of polling: the clone job's deadline.
    const std::string catalog_path = CatalogWithDeadline(4);
    std::string redis;
    // The step retry budget must end before that deadline (the broker refuses to start otherwise).
    CloneTest t([&](Fake& f) { (void)f; },
                {{"BROKER_CATALOG_FILE", catalog_path}, {"CLONE_STEP_RETRY_BUDGET_SECONDS", "2"}});
    redis = t.demo.redis_instance_guid;
    t.fake.UpdateKnobs([&](Fake::Knobs& k) { k.binding_job_stuck_for_instances = {redis}; });
    t.Provision();
    const std::string bid = BindingId(16);
    const auto started = std::chrono::steady_clock::now();
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    CHECK(CloneTest::State(op) == "failed");
    CHECK(CloneTest::Description(op).find("in time") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - started < seconds(30));
    CHECK_MESSAGE(t.AwaitNoClone(bid), t.broker->LogTail(40));
    std::remove(catalog_path.c_str());
  }

  TEST_CASE("a start refused by quota fails with a description naming the quota, and the clone is deleted") {
    CloneTest t([](Fake& f) { f.UpdateKnobs([](Fake::Knobs& k) { k.start_quota_exceeded = true; }); });
    t.Provision();
    const auto op = t.BindAndWait(BindingId(9), t.demo.app_guid);
    CHECK(CloneTest::State(op) == "failed");
    CHECK(CloneTest::Description(op).find("quota") != std::string::npos);
    CHECK(t.AwaitNoClone(BindingId(9)));
  }

  TEST_CASE("a crashed clone fails with its last log lines, redacted, and is deleted") {
    CloneTest t([](Fake& f) {
      f.UpdateKnobs([](Fake::Knobs& k) {
        k.instance_crashes = true;
        k.crash_log = {Fake::LogLine{"tmate: cannot connect to tmate.example.com:2222", "APP/PROC/WEB", "0", true,
                                     std::nullopt},
                       Fake::LogLine{"session Xk9fQ2mZ7aP4rT8wYb3nC6vD1@tmate.example.com", "APP/PROC/WEB", "0",
                                     false, std::nullopt}};
      });
    });
    t.Provision();
    const auto op = t.BindAndWait(BindingId(10), t.demo.app_guid);
    CHECK(CloneTest::State(op) == "failed");
    const std::string d = CloneTest::Description(op);
    CHECK(d.find("crashed") != std::string::npos);
    CHECK(d.find("cannot connect") != std::string::npos);
    CHECK(d.find(kTmateToken) == std::string::npos);
    CHECK(t.AwaitNoClone(BindingId(10)));
  }

  TEST_CASE("unbind while the bind waits on a stuck service binding cancels it and leaves nothing") {
    std::string redis;
    CloneTest t;
    redis = t.demo.redis_instance_guid;
    t.fake.UpdateKnobs([&](Fake::Knobs& k) { k.binding_job_stuck_for_instances = {redis}; });
    t.Provision();
    const std::string bid = BindingId(11);
    const Response r = t.Bind(bid, t.demo.app_guid);
    REQUIRE(r.status == 202);
    // Wait until the clone exists and its bindings are being made.
    const auto until = std::chrono::steady_clock::now() + seconds(20);
    while (t.fake.Calls("POST", "/v3/service_credential_bindings").size() < 3 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    const auto gone = t.UnbindAndWait(bid);
    CHECK(CloneTest::State(gone) == "succeeded");
    CHECK(t.ClonesOf(bid).empty());
    CHECK(t.AllClones().empty());
  }

  TEST_CASE("unbind when the clone was already deleted by hand succeeds") {
    CloneTest t;
    t.Provision();
    const std::string bid = BindingId(12);
    REQUIRE(CloneTest::State(t.BindAndWait(bid, t.demo.app_guid)) == "succeeded");
    const auto clones = t.ClonesOf(bid);
    REQUIRE(clones.size() == 1);
    t.fake.RemoveApp(clones.front().guid);
    CHECK(CloneTest::State(t.UnbindAndWait(bid)) == "succeeded");
  }

  TEST_CASE("a legacy CC whose app delete fails while a binding delete runs: the teardown retries") {
    CloneTest t;
    t.Provision();
    const std::string bid = BindingId(13);
    REQUIRE(CloneTest::State(t.BindAndWait(bid, t.demo.app_guid)) == "succeeded");
    t.fake.UpdateKnobs([](Fake::Knobs& k) { k.legacy_app_delete = true; });
    CHECK(CloneTest::State(t.UnbindAndWait(bid)) == "succeeded");
    CHECK(t.ClonesOf(bid).empty());
  }

  TEST_CASE("token expiry mid-flow, a 429 storm and 503s on stats are absorbed") {
    CloneTest t([](Fake& f) {
      f.AddFault({Fake::Fault::Kind::kExpiredToken, "POST", "/v3/droplets", 1, 1});
      f.AddFault({Fake::Fault::Kind::kRateLimited, "", "/v3/apps*", 3, 4, 1});
      f.AddFault({Fake::Fault::Kind::kInstancesUnavailable, "GET", "/v3/processes/:guid/stats", 1, 2});
    });
    t.Provision();
    const auto op = t.BindAndWait(BindingId(14), t.demo.app_guid);
    CHECK_MESSAGE(CloneTest::State(op) == "succeeded", CloneTest::Description(op));
    CHECK(t.ClonesOf(BindingId(14)).size() == 1);
  }

  TEST_CASE("SIGKILL of the broker in the middle of any step: after a restart the bind completes with one clone") {
    // For each step, the first Cloud Controller call it makes is held for a second; the broker is
    // killed while it waits. The fake still performs the call (the platform did the work, the
    // broker never heard), so the restarted broker's re-run of the step must adopt it.
    struct Hang {
      const char* step;
      const char* method;
      const char* route;
      int nth = 1;  // which matching call is held
    };
    const std::vector<Hang> hangs = {
        {"resolve_source", "GET", "/v3/apps/:guid"},
        {"create_clone", "POST", "/v3/apps"},
        {"copy_droplet", "POST", "/v3/droplets"},
        {"await_droplet", "GET", "/v3/droplets/:guid"},
        {"set_droplet", "PATCH", "/v3/apps/:guid/relationships/current_droplet"},
        {"configure_process", "PATCH", "/v3/processes/:guid"},
        {"bind_services", "POST", "/v3/service_credential_bindings"},
        // The third binding: the first two were made (their jobs known only to the killed
        // attempt, which saves nothing between creations); the re-run adopts all three as the
        // platform shows them and awaits those still being created by the binding itself.
        {"bind_services", "POST", "/v3/service_credential_bindings", 3},
        {"await_bindings", "GET", "/v3/jobs/:guid"},
        {"start", "POST", "/v3/apps/:guid/actions/start"},
        {"await_session", "GET", "/v3/processes/:guid/stats"},
    };
    for (std::size_t i = 0; i < hangs.size(); ++i) {
      const Hang& h = hangs[i];
      CAPTURE(h.step);
      CAPTURE(h.nth);
      CloneTest t;
      t.Provision();
      const std::string bid = BindingId(100 + static_cast<int>(i));
      Fake::Fault hang{Fake::Fault::Kind::kSlowResponse, h.method, h.route, h.nth, 1};
      hang.delay = milliseconds(1000);
      t.fake.AddFault(hang);
      const Response r = t.Bind(bid, t.demo.app_guid);
      REQUIRE(r.status == 202);
      REQUIRE_MESSAGE(CloneTest::Eventually([&] { return InCloneStep(t, bid, h.step); }), "the job never ran step ",
                      h.step, "\n", t.broker->LogTail(40));
      std::this_thread::sleep_for(milliseconds(300));  // the held call is in flight
      t.broker->Kill(SIGKILL);
      t.broker->Restart();
      const auto op = t.AwaitOperation(bid, OperationOf(r));
      CHECK_MESSAGE(CloneTest::State(op) == "succeeded", CloneTest::Description(op));
      CHECK(t.ClonesOf(bid).size() == 1);
      CHECK(t.AllClones().size() == 1);
      if (!t.ClonesOf(bid).empty()) CHECK(t.fake.BindingsOfApp(t.ClonesOf(bid).front().guid).size() == 3);
      if (std::string_view(h.step) == "bind_services" && !t.ClonesOf(bid).empty()) {
        // The restarted broker resumes bind_services in a new claim, so it lists the clone's
        // bindings and adopts the one the killed attempt made (three bindings, above).
        const std::string clone_guid = t.ClonesOf(bid).front().guid;
        int lists = 0;
        for (const auto& e : t.fake.Calls("GET", "/v3/service_credential_bindings")) {
          const auto apps = e.query_params.find("app_guids");
          if (apps != e.query_params.end() && apps->second == clone_guid) ++lists;
        }
        CHECK(lists >= 1);
        if (h.nth == 3) {
          // The two managed bindings the killed attempt made were still being created: adopted
          // as pending, their jobs unknown, and awaited by listing the clone's bindings again
          // until the platform showed them succeeded.
          CHECK(lists >= 2);
        }
      }
      if (std::string_view(h.step) == "create_clone") {
        // The killed attempt recorded its token hash before asking for the app, so the re-run
        // looked the clone up by its label (and adopted it: one clone, above).
        CHECK(LabelLookups(t, bid) == 1);
      }
      // And an unbind of it leaves nothing behind.
      CHECK(CloneTest::State(t.UnbindAndWait(bid)) == "succeeded");
      CHECK(t.AllClones().empty());
    }
  }

  TEST_CASE("a re-run whose claim read the binding from before the token was saved still adopts the clone") {
    // A worker whose lease lapsed may save the clone's token hash just as another worker's claim
    // takes the job, and that claim may read the binding as it was just before the save. The save
    // also marks the job's outputs, which a claim reads at their latest version: the re-run of
    // create_clone must look the clone up by its label all the same. Played with a SIGKILL while
    // POST /v3/apps is in flight, and the binding's hash hidden from the restarted broker's claim.
    CloneTest t;
    t.Provision();
    const std::string bid = BindingId(43);
    Fake::Fault hang_create{Fake::Fault::Kind::kSlowResponse, "POST", "/v3/apps", 1, 1};
    hang_create.delay = milliseconds(1000);
    // The restarted broker's droplet copy is held, so the clones can be counted while it waits.
    Fake::Fault hang_copy{Fake::Fault::Kind::kSlowResponse, "POST", "/v3/droplets", 1, 1};
    hang_copy.delay = milliseconds(2000);
    t.fake.AddFault(hang_create);
    t.fake.AddFault(hang_copy);
    const Response r = t.Bind(bid, t.demo.app_guid);
    REQUIRE(r.status == 202);
    REQUIRE_MESSAGE(CloneTest::Eventually([&] { return InCloneStep(t, bid, "create_clone"); }), t.broker->LogTail(40));
    std::this_thread::sleep_for(milliseconds(300));  // POST /v3/apps is in flight
    t.broker->Kill(SIGKILL);
    CloneTest::Eventually([&] { return !t.ClonesOf(bid).empty(); }, milliseconds(10000));
    REQUIRE(t.ClonesOf(bid).size() == 1);  // the platform made it; the broker never heard

    CHECK(t.db.Query("SELECT outputs->>'session_token_saved' FROM jobs WHERE binding_id = " + SqlQuote(bid) +
                     " AND kind = 'clone'") == std::vector<std::vector<std::string>>{{"true"}});
    const std::string binding_where = " WHERE id = " + SqlQuote(bid);
    const std::string hash = t.db.Query("SELECT session_token_hash FROM service_bindings" + binding_where)[0][0];
    REQUIRE(!hash.empty());
    t.db.Query("UPDATE service_bindings SET session_token_hash = ''" + binding_where);
    t.broker->Restart();
    REQUIRE_MESSAGE(CloneTest::Eventually([&] { return InCloneStep(t, bid, "copy_droplet"); }), t.broker->LogTail(40));
    CHECK(t.ClonesOf(bid).size() == 1);  // adopted, not made again
    CHECK(LabelLookups(t, bid) == 1);
    // The hash the save wrote back in place (the racing claim only missed it), so the adopted
    // clone's report is accepted and the bind completes.
    t.db.Query("UPDATE service_bindings SET session_token_hash = " + SqlQuote(hash) + binding_where);
    const auto op = t.AwaitOperation(bid, OperationOf(r));
    CHECK_MESSAGE(CloneTest::State(op) == "succeeded", CloneTest::Description(op));
    CHECK(t.ClonesOf(bid).size() == 1);
    CHECK(t.AllClones().size() == 1);
  }

  TEST_CASE("SIGTERM lets the running step finish, releases the job at once, and a restart completes the bind") {
    CloneTest t;
    t.Provision();
    const std::string bid = BindingId(17);
    Fake::Fault slow{Fake::Fault::Kind::kSlowResponse, "POST", "/v3/droplets", 1, 1};
    slow.delay = milliseconds(1500);
    t.fake.AddFault(slow);
    const Response r = t.Bind(bid, t.demo.app_guid);
    REQUIRE(r.status == 202);
    const std::string job_sql = "SELECT step, status, coalesce(locked_by, '') FROM jobs WHERE binding_id = " +
                                SqlQuote(bid) + " AND kind = 'clone'";
    const auto until = std::chrono::steady_clock::now() + seconds(20);
    while (std::chrono::steady_clock::now() < until) {
      const auto rows = t.db.Query(job_sql);
      if (!rows.empty() && rows[0][0] == "copy_droplet" && rows[0][1] == "running") break;
      std::this_thread::sleep_for(milliseconds(5));
    }
    std::this_thread::sleep_for(milliseconds(200));  // the slow copy is in flight
    const int status = t.broker->Stop(seconds(20));
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    // The copy finished and was checkpointed; the job is claimable again, by anyone, right now.
    const auto rows = t.db.Query(job_sql);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0][0] == "await_droplet");
    CHECK(rows[0][1] == "retryable");
    CHECK(rows[0][2].empty());
    CHECK(t.fake.Calls("POST", "/v3/droplets").size() == 1);
    t.broker->Restart();
    const auto op = t.AwaitOperation(bid, OperationOf(r));
    CHECK_MESSAGE(CloneTest::State(op) == "succeeded", CloneTest::Description(op));
    CHECK(t.fake.Calls("POST", "/v3/droplets").size() == 1);  // not copied twice
    CHECK(t.ClonesOf(bid).size() == 1);
  }

  TEST_CASE("two broker processes on one database, 50 concurrent binds: every clone is made exactly once") {
    CloneTest t;
    auto second = t.StartBroker();
    HttpClient other(second->base_url(), t.broker->username(), t.broker->password());
    t.Provision();
    constexpr int kBinds = 50;
    std::vector<std::string> ops(kBinds);
    std::vector<std::thread> threads;
    std::atomic<int> accepted{0};
    for (int i = 0; i < kBinds; ++i) {
      threads.emplace_back([&, i] {
        Request r;
        r.method = "PUT";
        r.path = BindingPath(kInstance, BindingId(1000 + i), "accepts_incomplete=true");
        r.body = BindBody(kStandardPlanId, t.demo.app_guid);
        const Response resp = (i % 2 == 0 ? *t.http : other).Send(r);
        if (resp.status == 202) {
          ops[static_cast<std::size_t>(i)] = OperationOf(resp);
          ++accepted;
        }
      });
    }
    for (auto& th : threads) th.join();
    REQUIRE(accepted == kBinds);
    for (int i = 0; i < kBinds; ++i) {
      const auto op = t.AwaitOperation(BindingId(1000 + i), ops[static_cast<std::size_t>(i)], milliseconds(120000));
      CHECK_MESSAGE(CloneTest::State(op) == "succeeded", CloneTest::Description(op));
    }
    int created = 0;  // the other POSTs met the name clash and were made again with the suffix
    for (const auto& e : t.fake.Calls("POST", "/v3/apps")) created += e.status == 201 ? 1 : 0;
    CHECK(created == kBinds);
    CHECK(t.AllClones().size() == kBinds);
    std::set<std::string> names;
    for (const auto& a : t.AllClones()) names.insert(a.name);
    CHECK(names.size() == kBinds);
  }
}

}  // namespace
}  // namespace broker::testing
