// What the broker sends Cloud Controller meets the rules the real CC enforces (issue: real-platform
// fidelity): metadata keys and values (cloud_controller_ng app/messages/metadata_validator_helper.rb,
// app/messages/validators/label_selector_requirement_validator.rb), the documented process paths
// (config/routes.rb: /v3/apps/:guid/processes/:type, .../actions/scale, .../stats), and log rate
// limits under quotas (app/models/runtime/constraints/max_log_rate_limit_policy.rb). The real
// broker binary against the fake Cloud Controller, whose own refusals are tested in fake_cc_test.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "broker/clone/metadata.h"
#include "tests/support/broker_process.h"
#include "tests/support/clone_fixture.h"
#include "tests/support/fake_cloud_controller.h"
#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

using Fake = FakeCloudController;

std::string BindingId(int n) { return CloneBindingId(n); }

// The keys of metadata.labels and metadata.annotations in a POST /v3/apps body, with their values.
void MetadataOf(const std::string& body, std::map<std::string, std::string>* labels,
                std::map<std::string, std::string>* annotations) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  REQUIRE(d.IsObject());
  const auto md = d.FindMember("metadata");
  REQUIRE(md != d.MemberEnd());
  for (const auto& [name, out] : {std::pair{"labels", labels}, std::pair{"annotations", annotations}}) {
    const auto m = md->value.FindMember(name);
    if (m == md->value.MemberEnd()) continue;
    for (const auto& kv : m->value.GetObject()) (*out)[kv.name.GetString()] = kv.value.GetString();
  }
}

// Every requirement of a label_selector the broker sent ("k=v", "k!=v", "k", "!k"), checked with
// CC's key and value rules; "" when all hold.
std::string SelectorError(const std::string& selector) {
  std::size_t start = 0;
  while (start <= selector.size()) {
    const std::size_t comma = selector.find(',', start);
    std::string req = selector.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!req.empty() && req[0] == '!') req.erase(0, 1);
    std::string key = req, value;
    if (const std::size_t eq = req.find('='); eq != std::string::npos) {
      key = req.substr(0, eq - (eq > 0 && req[eq - 1] == '!' ? 1 : 0));
      value = req.substr(req.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1);
    }
    if (std::string e = clone::MetadataKeyError(key); !e.empty()) return selector + ": " + e;
    if (std::string e = clone::LabelValueError(value); !e.empty()) return selector + ": " + e;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return "";
}

// Checks every clone create and every label_selector in the fake's journal against CC's rules.
void CheckMetadataSent(const Fake& fake, std::size_t* creates, std::size_t* selectors) {
  *creates = *selectors = 0;
  for (const auto& e : fake.Calls("POST", "/v3/apps")) {
    std::map<std::string, std::string> labels, annotations;
    MetadataOf(e.body, &labels, &annotations);
    CHECK_MESSAGE(clone::MetadataError(labels, annotations).empty(), clone::MetadataError(labels, annotations));
    ++*creates;
  }
  for (const auto& e : fake.Journal()) {
    const auto sel = e.query_params.find("label_selector");
    if (sel == e.query_params.end()) continue;
    CHECK_MESSAGE(SelectorError(sel->second).empty(), SelectorError(sel->second));
    ++*selectors;
  }
}

// A copy of the shipped catalog without the plans' clone_log_rate_limit_max; returns its path.
std::string CatalogWithoutLogRateCap() {
  std::ifstream in(std::string(BROKER_SOURCE_DIR) + "/catalog/catalog.json");
  std::stringstream text;
  text << in.rdbuf();
  std::string json = text.str();
  const std::string key = "\"clone_log_rate_limit_max\": 16384,";
  for (auto at = json.find(key); at != std::string::npos; at = json.find(key)) json.erase(at, key.size());
  char path[] = "/tmp/ssh-access-catalog-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, json.data(), json.size()) == static_cast<ssize_t>(json.size()));
  close(fd);
  return path;
}

// Every answer of the fake to the broker, but for the listed statuses, was a success: the broker
// sent nothing the fake (and so CC) refuses.
void CheckNothingRefused(const Fake& fake) {
  for (const auto& e : fake.Journal()) {
    CAPTURE(e.method);
    CAPTURE(e.path);
    CAPTURE(e.body);
    CHECK((e.status >= 200 && e.status < 300));
  }
}

TEST_SUITE("clone::Engine and Cloud Controller's rules") {
  TEST_CASE("the clone's labels, annotations and every label_selector meet CC's metadata rules") {
    CloneHarness t({}, {{"CLONE_MAX_PER_SPACE", "5"}});  // the per-space count lists by label too
    t.Provision();
    const std::string bid = BindingId(1);
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    REQUIRE_MESSAGE(CloneHarness::State(op) == "succeeded", CloneHarness::Description(op));
    const auto clones = t.ClonesOf(bid);
    REQUIRE(clones.size() == 1);
    CHECK(clones.front().labels.at("ssh-access.broker/binding-guid") == bid);
    CHECK(clones.front().labels.at("ssh-access.broker/managed-by") == "ssh-access");
    CHECK(clones.front().annotations.at("ssh-access.broker/source-app-name") == "spring-music");
    const auto unbound = t.UnbindAndWait(bid);
    CHECK(CloneHarness::State(unbound) == "succeeded");
    CHECK(t.AllClones().empty());
    std::size_t creates = 0, selectors = 0;
    CheckMetadataSent(t.fake, &creates, &selectors);
    CHECK(creates == 1);
    CHECK(selectors >= 2);  // the per-space count and the teardown's lookup
    // Every request of the bind and the unbind passed the fake's rules (unknown keys, env names,
    // lifecycle data, droplet copy and assignment, process command and scale, bindings).
    CheckNothingRefused(t.fake);
  }

  // app/models/runtime/app_model.rb (validate_environment_variables): a source whose variables CC
  // would refuse today (set before the rule) makes CC refuse the clone's create.
  TEST_CASE("CC refusing the clone's environment fails the bind once, naming CC's error title; nothing is left") {
    CloneHarness t;
    t.Provision();
    Fake::AppSpec legacy;
    legacy.name = "legacy";
    legacy.space_guid = t.demo.space_guid;
    legacy.env = {{"PORT", "8080"}};
    const std::string app = t.fake.AddApp(legacy);
    const std::string bid = BindingId(6);
    const auto op = t.BindAndWait(bid, app);
    CHECK(CloneHarness::State(op) == "failed");
    const std::string description = CloneHarness::Description(op);
    CHECK(description.find("Cloud Foundry refused to create the clone app legacy-ssh") != std::string::npos);
    CHECK(description.find("(Cloud Foundry answered CF-UnprocessableEntity)") != std::string::npos);
    CHECK(description.find("stack") == std::string::npos);
    CHECK(description.find("PORT") == std::string::npos);  // CC's detail goes to the log only
    CHECK(t.fake.Calls("POST", "/v3/apps").size() == 1);  // no retry loop
    CHECK(t.AllClones().empty());
  }

  // app/messages/app_create_message.rb: at most 255 characters.
  TEST_CASE("a source app whose name has CC's longest length is cloned under a name CC accepts") {
    CloneHarness t;
    t.Provision();
    Fake::AppSpec longest;
    longest.name = std::string(255, 'n');
    longest.space_guid = t.demo.space_guid;
    const std::string app = t.fake.AddApp(longest);
    const std::string bid = BindingId(7);
    const auto op = t.BindAndWait(bid, app);
    REQUIRE_MESSAGE(CloneHarness::State(op) == "succeeded", CloneHarness::Description(op));
    const auto clones = t.ClonesOf(bid);
    REQUIRE(clones.size() == 1);
    CHECK(clones.front().name.size() == 255);
    CHECK(clones.front().name.substr(251) == "-ssh");
    CheckNothingRefused(t.fake);
  }

  // app/models/runtime/constraints/max_log_rate_limit_policy.rb: under a space quota with a log
  // rate limit, CC refuses to start a process that logs without limit.
  TEST_CASE("under a space log rate quota the plan's cap lets the clone start; without a cap CC's refusal is named") {
    SUBCASE("with the shipped catalog's cap") {
      CloneHarness t;
      t.Provision();
      // The demo app's droplet has a web and a task process type, both logging without limit: CC
      // checks every process of a starting app, a 0-instance one too (AppStart starts them all;
      // process_log_rate_limit_calculator.rb answers UNLIMITED before it looks at instances).
      REQUIRE(t.fake.ProcessOf(t.demo.app_guid, "task").has_value());
      REQUIRE(t.fake.ProcessOf(t.demo.app_guid, "task")->log_rate_limit_in_bytes_per_second == -1);
      t.fake.SetSpaceLogRateLimit(t.demo.space_guid, 1'000'000);
      const std::string bid = BindingId(8);
      const auto op = t.BindAndWait(bid, t.demo.app_guid);
      REQUIRE_MESSAGE(CloneHarness::State(op) == "succeeded", CloneHarness::Description(op));
      CheckNothingRefused(t.fake);
      const auto clones = t.ClonesOf(bid);
      REQUIRE(clones.size() == 1);
      const auto task = t.fake.ProcessOf(clones.front().guid, "task");
      REQUIRE(task.has_value());
      CHECK(task->log_rate_limit_in_bytes_per_second == 16384);  // catalog.json
      CHECK(task->instances == 0);  // a clone never runs the source's other processes
    }
    SUBCASE("with a catalog whose plans set no cap") {
      CloneHarness t({}, {{"BROKER_CATALOG_FILE", CatalogWithoutLogRateCap()}});
      t.Provision();
      t.fake.SetSpaceLogRateLimit(t.demo.space_guid, 1'000'000);
      const std::string bid = BindingId(9);
      const auto op = t.BindAndWait(bid, t.demo.app_guid);
      CHECK(CloneHarness::State(op) == "failed");
      const std::string description = CloneHarness::Description(op);
      CHECK(description.find("Cloud Foundry refused the clone's log rate limit (Cloud Foundry answered "
                             "CF-UnprocessableEntity)") != std::string::npos);
      CHECK(description.find("clone_log_rate_limit_max") != std::string::npos);
      CHECK(t.fake.Calls("POST", "/v3/apps/:guid/actions/start").size() == 1);  // no retry loop
      CHECK(t.AwaitNoClone(bid));
    }
  }

  TEST_CASE("CLONE_METADATA_PREFIX names the clone's keys; unbind and the reconciler find clones by it") {
    CloneHarness t({}, {{"CLONE_METADATA_PREFIX", "ssh.example.com"},
                        {"RECONCILE_INTERVAL_MS", "200"},
                        {"CLONE_ORPHAN_GRACE_SECONDS", "0"}});
    t.Provision();
    // An orphan under the configured prefix (its binding unknown) and an app under the default one.
    Fake::AppSpec orphan;
    orphan.name = "orphan-ssh";
    orphan.space_guid = t.fake.App(t.demo.app_guid)->space_guid;
    orphan.labels = {{"ssh.example.com/binding-guid", BindingId(90)}, {"ssh.example.com/managed-by", "ssh-access"}};
    const std::string orphan_guid = t.fake.AddApp(orphan);
    Fake::AppSpec other = orphan;
    other.name = "other-ssh";
    other.labels = {{"ssh-access.broker/binding-guid", BindingId(91)}, {"ssh-access.broker/managed-by", "ssh-access"}};
    const std::string other_guid = t.fake.AddApp(other);

    const std::string bid = BindingId(2);
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    REQUIRE_MESSAGE(CloneHarness::State(op) == "succeeded", CloneHarness::Description(op));
    const auto mine = t.fake.AppsWithLabel("ssh.example.com/binding-guid=" + bid);
    REQUIRE(mine.size() == 1);
    for (const auto& [key, value] : mine.front().labels) CHECK(key.rfind("ssh.example.com/", 0) == 0);
    for (const auto& [key, value] : mine.front().annotations) CHECK(key.rfind("ssh.example.com/", 0) == 0);

    CHECK(CloneHarness::Eventually([&] { return !t.fake.App(orphan_guid).has_value(); }));
    const auto unbound = t.UnbindAndWait(bid);
    CHECK(CloneHarness::State(unbound) == "succeeded");
    CHECK(t.fake.AppsWithLabel("ssh.example.com/managed-by").empty());
    CHECK(t.fake.App(other_guid).has_value());  // not this broker's prefix: left alone
    std::size_t creates = 0, selectors = 0;
    CheckMetadataSent(t.fake, &creates, &selectors);
  }

  TEST_CASE("a binding id CC would refuse as a label value fails the bind before any app is made") {
    CloneHarness t;
    t.Provision();
    const std::string bid(64, 'b');  // a label value has at most 63 characters
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    CHECK(CloneHarness::State(op) == "failed");
    const std::string description = CloneHarness::Description(op);
    CHECK(description.find("Cloud Foundry would refuse the clone's metadata") != std::string::npos);
    CHECK(description.find("is greater than 63 characters") != std::string::npos);
    CHECK(description.find("stack") == std::string::npos);
    CHECK(t.fake.Calls("POST", "/v3/apps").empty());
    const auto unbound = t.UnbindAndWait(bid);
    CHECK(CloneHarness::State(unbound) == "succeeded");
    std::size_t creates = 0, selectors = 0;
    CheckMetadataSent(t.fake, &creates, &selectors);  // no selector with the refused value either
    CHECK(creates == 0);
  }

  // CC gives the web process its app's guid (app/actions/app_create.rb) but documents no such
  // thing: the broker reads it by its app (GET /v3/apps/:guid/processes/web) and uses its own guid.
  TEST_CASE("a web process whose guid is not its app's: the bind reads it by its app and uses its guid") {
    CloneHarness t([](Fake& f) { f.UpdateKnobs([](Fake::Knobs& k) { k.web_process_guid_is_app_guid = false; }); });
    t.Provision();
    const std::string bid = BindingId(3);
    const auto op = t.BindAndWait(bid, t.demo.app_guid, R"({"memory_mb":512})");
    REQUIRE_MESSAGE(CloneHarness::State(op) == "succeeded", CloneHarness::Description(op), "\n", t.broker->LogTail(40));
    const auto clones = t.ClonesOf(bid);
    REQUIRE(clones.size() == 1);
    const auto web = t.fake.ProcessOf(clones.front().guid);
    REQUIRE(web.has_value());
    CHECK(web->guid != clones.front().guid);
    CHECK(web->memory_in_mb == 512);
    CHECK(web->command.value_or("").find("ssh-access/v1/bootstrap") != std::string::npos);
    CHECK(t.fake.Calls("GET", "/v3/apps/:guid/processes/:type").size() == 2);  // the source's and the clone's
    const auto patches = t.fake.Calls("PATCH", "/v3/processes/:guid");
    REQUIRE(patches.size() == 1);
    CHECK(patches.front().path == "/v3/processes/" + web->guid);
    // The web process once, by its own guid; the task process (capped, 0 instances) by its own.
    const auto task = t.fake.ProcessOf(clones.front().guid, "task");
    REQUIRE(task.has_value());
    const auto scales = t.fake.Calls("POST", "/v3/processes/:guid/actions/scale");
    REQUIRE(scales.size() == 2);
    CHECK(scales[0].path == "/v3/processes/" + web->guid + "/actions/scale");
    CHECK(scales[1].path == "/v3/processes/" + task->guid + "/actions/scale");
    const auto stats = t.fake.Calls("GET", "/v3/processes/:guid/stats");
    REQUIRE_FALSE(stats.empty());
    for (const auto& e : stats) CHECK(e.path == "/v3/processes/" + web->guid + "/stats");
    for (const auto& e : t.fake.Journal()) CHECK(e.path.find("/v3/processes/" + clones.front().guid) == std::string::npos);
  }

  // CC builds links.self.href and every job Location from its external URL
  // (app/controllers/runtime/root_controller.rb): a broker on another URL refuses to clone.
  TEST_CASE("a CF_API_URL that is not the URL CC calls itself: startup says which to set, and binds are refused") {
    CloneHarness t([](Fake& f) {
      const std::string own = "http://localhost:" + std::to_string(f.port());
      f.UpdateKnobs([&](Fake::Knobs& k) { k.location_base = own; });
    });
    t.Provision();
    const std::string bid = BindingId(5);
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    CHECK(CloneHarness::State(op) == "failed");
    CHECK(CloneHarness::Description(op).find("CF_API_URL is not the URL Cloud Foundry calls itself") !=
          std::string::npos);
    CHECK(t.fake.Calls("POST", "/v3/apps").empty());
    CHECK(t.fake.Calls("GET", "/v3/apps/:guid").empty());
    CHECK(CloneHarness::Eventually([&] { return t.broker->Log().find("main.cf_api_url_mismatch") != std::string::npos; }));
    const std::string log = t.broker->Log();
    CHECK(log.find("set CF_API_URL=http://localhost:" + std::to_string(t.fake.port())) != std::string::npos);
  }

  TEST_CASE("a source with an unlimited log rate is cloned with the plan's cap") {
    CloneHarness t;  // the demo app's web process logs without limit (-1)
    t.Provision();
    REQUIRE(t.fake.ProcessOf(t.demo.app_guid)->log_rate_limit_in_bytes_per_second == -1);
    const std::string bid = BindingId(4);
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    REQUIRE_MESSAGE(CloneHarness::State(op) == "succeeded", CloneHarness::Description(op));
    const auto clones = t.ClonesOf(bid);
    REQUIRE(clones.size() == 1);
    CHECK(t.fake.ProcessOf(clones.front().guid)->log_rate_limit_in_bytes_per_second == 16384);  // catalog.json
  }
}

}  // namespace
}  // namespace broker::testing
