// The Cloud Controller V3 contract (tests/contract/README.md): the broker's integration flows with
// Stoplight Prism as a validating proxy between the broker and the fake Cloud Controller, checked
// against the community OpenAPI description of CC V3. Prism validates every request the broker
// sends and every response the fake gives; tests/contract/recording_proxy.js records what it found
// per exchange, and each flow fails on any violation that tests/contract/allowlist.json (the
// spec's own defects, each proven from cloud_controller_ng) does not name.
//
// Run by tests/contract/run, which provides (and without them this binary refuses to run):
//   CONTRACT_SPEC       the spec, unpacked (YAML)
//   CONTRACT_PROXY      tests/contract/recording_proxy.js (next to the pinned Prism's node_modules)
//   CONTRACT_ALLOWLIST  tests/contract/allowlist.json
//   CONTRACT_NODE       the node binary (default "node")
// plus BROKER_TEST_DATABASE_URL like integration_tests.
//
// The UAA (/oauth/token) and log-cache routes of the fake are not CC V3 and are not in the spec:
// the fake's root document links them at the fake's own URL (as CC links its separate UAA and
// log-cache hosts), so the broker reaches them directly, never through Prism.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/broker_process.h"
#include "tests/support/clone_fixture.h"
#include "tests/support/fake_cloud_controller.h"
#include "tests/support/http_client.h"
#include "tests/support/osb_fixtures.h"
#include "tests/support/temp_dir.h"

namespace broker::testing {
namespace {

using Fake = FakeCloudController;
using std::chrono::milliseconds;

std::string RequiredEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    throw std::runtime_error(std::string(name) + " is not set: run the contract test through tests/contract/run");
  }
  return v;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// One violation Prism reported for one exchange.
struct Violation {
  std::string method;
  std::string path;
  int status = 0;
  std::string location;  // "response.body.links.routing", "request"
  std::string code;      // "type", "401", "" (Prism gives none for some)
  std::string severity;  // Error | Warning | Information
  std::string message;

  std::string Describe() const {
    return method + " " + path + " (" + std::to_string(status) + "): [" + severity + "] " + location + " " +
           (code.empty() ? "" : "(" + code + ") ") + message;
  }
};

// One exchange of the recording proxy's record file.
struct Exchange {
  std::string method;
  std::string path;
  int status = 0;
  std::vector<Violation> violations;
  std::string prism_error;  // Prism's own problem+json answer, "" when it forwarded the request
};

std::string ScalarText(const rapidjson::Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  return "";
}

// The complete lines of the record (the proxy appends one write per exchange; a line still being
// written has no newline yet).
std::vector<std::string> RecordLines(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> lines = Split(text.str(), '\n');
  lines.pop_back();  // after the last newline: empty, or a line not yet complete
  return lines;
}

std::vector<Exchange> ReadRecord(const std::string& path) {
  std::vector<Exchange> out;
  for (const std::string& line : RecordLines(path)) {
    if (line.empty()) continue;
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (d.HasParseError() || !d.IsObject()) throw std::runtime_error("unparsable record line: " + line);
    Exchange e;
    e.method = ScalarText(d["method"]);
    e.path = ScalarText(d["path"]);
    e.status = d["status"].IsInt() ? d["status"].GetInt() : 0;
    if (d.HasMember("prism_error") && d["prism_error"].IsString()) e.prism_error = d["prism_error"].GetString();
    for (const auto& v : d["violations"].GetArray()) {
      Violation x;
      x.method = e.method;
      x.path = e.path;
      x.status = e.status;
      if (v.HasMember("location") && v["location"].IsArray()) {
        for (const auto& part : v["location"].GetArray()) {
          x.location += (x.location.empty() ? "" : ".") + ScalarText(part);
        }
      }
      if (v.HasMember("code")) x.code = ScalarText(v["code"]);
      if (v.HasMember("severity")) x.severity = ScalarText(v["severity"]);
      if (v.HasMember("message")) x.message = ScalarText(v["message"]);
      e.violations.push_back(std::move(x));
    }
    out.push_back(std::move(e));
  }
  return out;
}

// `pattern` over `text`, both split at `sep`: a segment "*" matches any one segment, "{name}"
// too (path templates), and a last segment "**" matches the rest (one or more segments).
bool SegmentsMatch(const std::string& pattern, const std::string& text, char sep) {
  const auto p = Split(pattern, sep);
  const auto t = Split(text, sep);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == "**" && i + 1 == p.size()) return t.size() > i;
    if (i >= t.size()) return false;
    const bool any = p[i] == "*" || (p[i].size() > 2 && p[i].front() == '{' && p[i].back() == '}');
    if (!any && p[i] != t[i]) return false;
  }
  return p.size() == t.size();
}

// One entry of tests/contract/allowlist.json (its format: tests/contract/README.md). A violation
// matches when every field matches; a list matches when any of its patterns does.
struct AllowEntry {
  std::string method;                  // "GET", or "*"
  std::vector<std::string> paths;      // path templates, "/v3/processes/{guid}", "/v3/droplets/**"
  std::vector<std::string> locations;  // dotted patterns, "response.body.resources.*.error"
  std::string code;                    // "" matches any
  std::vector<std::string> messages;   // substrings of Prism's message; empty matches any
  int min_status = 0;                  // the answer's status is at least this
  std::string defect;
  std::string cc_source;
  bool outside_readme = false;  // a defect capi/README.md does not list (the report names these)

  bool Matches(const Violation& v) const {
    auto any = [](const std::vector<std::string>& patterns, const std::function<bool(const std::string&)>& f) {
      for (const auto& p : patterns) {
        if (f(p)) return true;
      }
      return false;
    };
    return (method == "*" || method == v.method) && v.status >= min_status && (code.empty() || code == v.code) &&
           any(paths, [&](const std::string& p) { return SegmentsMatch(p, v.path, '/'); }) &&
           any(locations, [&](const std::string& p) { return SegmentsMatch(p, v.location, '.'); }) &&
           (messages.empty() || any(messages, [&](const std::string& m) { return v.message.find(m) != std::string::npos; }));
  }
};

std::vector<AllowEntry> LoadAllowList(const std::string& file) {
  rapidjson::Document d;
  const std::string text = ReadFile(file);
  d.Parse(text.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("entries") || !d["entries"].IsArray()) {
    throw std::runtime_error(file + ": not an object with an \"entries\" array");
  }
  std::vector<AllowEntry> out;
  for (const auto& e : d["entries"].GetArray()) {
    auto str = [&](const char* key, bool required) {
      if (!e.HasMember(key) || ScalarText(e[key]).empty()) {
        if (required) throw std::runtime_error(file + ": an entry lacks \"" + key + "\"");
        return std::string();
      }
      return ScalarText(e[key]);
    };
    auto list = [&](const char* key, bool required) {
      std::vector<std::string> v;
      if (e.HasMember(key) && e[key].IsArray()) {
        for (const auto& x : e[key].GetArray()) v.push_back(ScalarText(x));
      } else if (e.HasMember(key)) {
        v.push_back(ScalarText(e[key]));
      }
      if (required && v.empty()) throw std::runtime_error(file + ": an entry lacks \"" + key + "\"");
      return v;
    };
    AllowEntry a;
    a.method = str("method", true);
    a.paths = list("path", true);
    a.locations = list("location", true);
    a.code = str("code", false);
    a.messages = list("message", false);
    a.min_status = e.HasMember("min_status") && e["min_status"].IsInt() ? e["min_status"].GetInt() : 0;
    // Every entry names the spec's defect and the cloud_controller_ng source that proves it.
    a.defect = str("defect", true);
    a.cc_source = str("cc_source", true);
    a.outside_readme = e.HasMember("outside_readme") && e["outside_readme"].IsBool() && e["outside_readme"].GetBool();
    out.push_back(std::move(a));
  }
  return out;
}

// The recording proxy (Prism in front of the fake) as a child process on a free loopback port.
class ContractProxy {
 public:
  // Listens on 127.0.0.1:`port`.
  ContractProxy(const std::string& upstream, int port) : port_(port), record_((dir_.path() / "record.jsonl").string()) {
    const std::string node = std::getenv("CONTRACT_NODE") ? std::getenv("CONTRACT_NODE") : "node";
    const std::string script = RequiredEnv("CONTRACT_PROXY");
    const std::string spec = RequiredEnv("CONTRACT_SPEC");
    const std::string log = (dir_.path() / "proxy.log").string();
    const std::vector<std::string> args = {node,       script, "--spec", spec,    "--upstream",
                                           upstream,   "--port", std::to_string(port_), "--record", record_};
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    // Prism parses the 26k-line spec before it listens (about 4 s on this machine).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    for (;;) {
      std::ifstream in(log);
      std::stringstream s;
      s << in.rdbuf();
      if (s.str().find("recording_proxy ready") != std::string::npos) break;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("the recording proxy exited:\n" + s.str());
      }
      if (std::chrono::steady_clock::now() > until) throw std::runtime_error("the recording proxy never got ready:\n" + s.str());
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  ~ContractProxy() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  ContractProxy(const ContractProxy&) = delete;
  ContractProxy& operator=(const ContractProxy&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Exchange> Record() const { return ReadRecord(record_); }
  std::size_t RecordSize() const { return RecordLines(record_).size(); }

 private:
  TempDir dir_;
  int port_;
  std::string record_;
  pid_t pid_ = -1;
};

// The clone harness (tests/support/clone_fixture.h) with the broker's CF_API_URL pointed at a
// recording proxy in front of the fake. The fake's Location headers, jobs' links and pagination
// links name the proxy too (Knobs::location_base), so the follow-up requests pass through Prism.
class ContractHarness {
 public:
  explicit ContractHarness(const std::function<void(Fake&)>& prepare = {}, const EnvOverrides& extra = {}) {
    // The proxy needs the fake's URL and must listen before the broker starts (the broker reads
    // the API root at once): `prepare` runs between the two. Its port is chosen before both.
    const int port = FreeLoopbackPort();
    EnvOverrides env = extra;
    env["CF_API_URL"] = "http://127.0.0.1:" + std::to_string(port);
    harness_ = std::make_unique<CloneHarness>(
        [&](Fake& f) {
          proxy_ = std::make_unique<ContractProxy>(f.base_url(), port);
          const std::string url = proxy_->url();
          f.UpdateKnobs([&](Fake::Knobs& k) { k.location_base = url; });
          if (prepare) prepare(f);
        },
        env);
  }
  ~ContractHarness() {
    harness_.reset();  // the broker and the fake first, then the proxy
    proxy_.reset();
  }

  CloneHarness& t() { return *harness_; }

  // Stops the broker, then fails on every violation of the recorded exchanges that no allow-list
  // entry names (one per line), and when the broker's CC traffic did not all go through Prism or
  // lacks one of `expected_routes` ("METHOD /path/{template}").
  void CheckContract(const std::vector<std::string>& expected_routes) {
    harness_->broker->Stop();
    // Every CC V3 request the fake served came through Prism (UAA and log-cache are not CC V3).
    // The fake journals a request before it answers and the proxy records it after: wait for the
    // last answers to be recorded.
    std::size_t cc_calls = 0;
    for (const auto& j : harness_->fake.Journal()) {
      if (j.path == "/" || j.path.rfind("/v3", 0) == 0) ++cc_calls;
    }
    CloneHarness::Eventually([&] { return proxy_->RecordSize() >= cc_calls; }, std::chrono::seconds(10));
    const std::vector<AllowEntry> allow = LoadAllowList(RequiredEnv("CONTRACT_ALLOWLIST"));
    const std::vector<Exchange> record = proxy_->Record();
    CHECK_MESSAGE(cc_calls == record.size(), cc_calls, " CC V3 requests reached the fake, ", record.size(),
                  " passed through Prism");
    for (const std::string& route : expected_routes) {
      const auto space = route.find(' ');
      bool seen = false;
      for (const Exchange& e : record) {
        seen = seen || (e.method == route.substr(0, space) && SegmentsMatch(route.substr(space + 1), e.path, '/'));
      }
      CHECK_MESSAGE(seen, "the broker's ", route, " did not pass through Prism");
    }
    std::string unexplained;
    std::set<std::string> outside_readme;
    int allowed = 0;
    for (const Exchange& e : record) {
      if (!e.prism_error.empty()) {
        unexplained += e.method + " " + e.path + ": Prism answered itself: " + e.prism_error + "\n";
      }
      for (const Violation& v : e.violations) {
        const AllowEntry* match = nullptr;
        for (const AllowEntry& a : allow) {
          if (match == nullptr && a.Matches(v)) match = &a;
        }
        if (match == nullptr) {
          unexplained += v.Describe() + "\n";
          continue;
        }
        ++allowed;
        if (match->outside_readme) outside_readme.insert(match->defect);
      }
    }
    MESSAGE(record.size(), " exchanges through Prism, ", allowed, " allow-listed violations");
    for (const std::string& defect : outside_readme) MESSAGE("allowed by an entry outside capi/README.md: ", defect);
    CHECK_MESSAGE(unexplained.empty(), "violations of the CC V3 contract that tests/contract/allowlist.json does "
                                       "not explain:\n", unexplained);
  }

 private:
  std::unique_ptr<ContractProxy> proxy_;
  std::unique_ptr<CloneHarness> harness_;
};

constexpr const char* kLabelKey = CloneHarness::kLabelKey;

// The clone label prefix ("<prefix>/binding-guid" is CloneHarness::kLabelKey).
std::string LabelPrefix() {
  const std::string key = kLabelKey;
  return key.substr(0, key.find('/'));
}

// Every platform step finishes on its first look (droplet copy, binding jobs, instance start).
void FirstLookPlatform(Fake& f) {
  f.UpdateKnobs([](Fake::Knobs& k) {
    k.droplet_copy_ticks = 1;
    k.binding_create_job_ticks = 1;
    k.instance_start_ticks = 1;
  });
}

// A docker app in the demo space; returns its guid.
std::string AddDockerApp(Fake& f) {
  Fake::AppSpec spec;
  spec.name = "docker-app";
  spec.space_guid = f.App(f.Apps().front().guid)->space_guid;
  spec.lifecycle = Fake::Lifecycle::kDocker;
  spec.buildpacks = {};
  spec.env = {{"GREETING", "hello"}};  // environment variables to copy
  return f.AddApp(spec);
}

TEST_SUITE("cc contract") {
  TEST_CASE("bind and unbind of a buildpack app with two managed bindings, a user-provided one and env vars "
            "keep to the CC V3 contract") {
    ContractHarness h(FirstLookPlatform);
    CloneHarness& t = h.t();
    REQUIRE(t.fake.App(t.demo.app_guid)->env.size() >= 2);
    REQUIRE(t.fake.BindingsOfApp(t.demo.app_guid).size() == 3);
    t.Provision();
    const std::string bid = CloneBindingId(1);
    const auto op = t.BindAndWait(bid, t.demo.app_guid, R"({"memory_mb":512})");
    REQUIRE_MESSAGE(CloneHarness::State(op) == "succeeded", CloneHarness::Description(op), "\n", t.broker->LogTail(40));
    const auto clones = t.ClonesOf(bid);
    REQUIRE(clones.size() == 1);
    REQUIRE(t.fake.BindingsOfApp(clones.front().guid).size() == 3);
    const auto gone = t.UnbindAndWait(bid);
    REQUIRE(CloneHarness::State(gone) == "succeeded");
    h.CheckContract({"GET /", "POST /v3/apps", "POST /v3/service_credential_bindings", "GET /v3/jobs/{guid}",
                     "POST /v3/apps/{guid}/actions/start", "DELETE /v3/apps/{guid}"});
  }

  TEST_CASE("bind of a docker app keeps to the CC V3 contract") {
    std::string app;
    ContractHarness h([&](Fake& f) {
      FirstLookPlatform(f);
      app = AddDockerApp(f);
    });
    CloneHarness& t = h.t();
    t.Provision();
    const std::string bid = CloneBindingId(2);
    const auto op = t.BindAndWait(bid, app);
    REQUIRE_MESSAGE(CloneHarness::State(op) == "succeeded", CloneHarness::Description(op), "\n", t.broker->LogTail(40));
    REQUIRE(t.ClonesOf(bid).size() == 1);
    REQUIRE(t.ClonesOf(bid).front().lifecycle == Fake::Lifecycle::kDocker);
    h.CheckContract({"POST /v3/apps", "POST /v3/droplets"});
  }

  TEST_CASE("a reconciler round that deletes an orphaned clone and its binding keeps to the CC V3 contract") {
    ContractHarness h(FirstLookPlatform, {{"RECONCILE_INTERVAL_MS", "200"}, {"CLONE_ORPHAN_GRACE_SECONDS", "0"}});
    CloneHarness& t = h.t();
    // A clone left behind by a binding the broker does not know, bound to the user-provided instance.
    Fake::AppSpec spec;
    spec.name = "left-behind-ssh";
    spec.space_guid = t.fake.App(t.demo.app_guid)->space_guid;
    const std::string p = LabelPrefix();
    spec.labels = {{p + "/binding-guid", CloneBindingId(3)},
                   {p + "/instance-guid", CloneHarness::kInstance},
                   {p + "/source-app-guid", t.demo.app_guid},
                   {p + "/managed-by", "ssh-access"}};
    const std::string orphan = t.fake.AddApp(spec);
    t.fake.AddServiceBinding(orphan, t.demo.ups_instance_guid);
    REQUIRE_MESSAGE(CloneHarness::Eventually([&] { return !t.fake.App(orphan).has_value(); }), t.broker->LogTail(40));
    REQUIRE(t.fake.BindingsOfApp(orphan).empty());
    h.CheckContract({"GET /v3/apps", "POST /v3/apps/{guid}/actions/stop", "DELETE /v3/apps/{guid}"});
  }

  TEST_CASE("binds the platform refuses (a start over quota, an app never staged) keep to the CC V3 contract") {
    std::string unstaged;
    ContractHarness h([&](Fake& f) {
      FirstLookPlatform(f);
      f.UpdateKnobs([](Fake::Knobs& k) { k.start_quota_exceeded = true; });
      Fake::AppSpec spec;
      spec.name = "unstaged";
      spec.space_guid = f.App(f.Apps().front().guid)->space_guid;
      spec.has_droplet = false;
      spec.started = false;
      unstaged = f.AddApp(spec);
    });
    CloneHarness& t = h.t();
    t.Provision();
    const auto quota = t.BindAndWait(CloneBindingId(4), t.demo.app_guid);
    REQUIRE(CloneHarness::State(quota) == "failed");
    REQUIRE(CloneHarness::Description(quota).find("quota") != std::string::npos);
    REQUIRE(t.AwaitNoClone(CloneBindingId(4)));
    const auto never_staged = t.BindAndWait(CloneBindingId(5), unstaged);
    REQUIRE(CloneHarness::State(never_staged) == "failed");
    h.CheckContract({"POST /v3/apps/{guid}/actions/start", "GET /v3/apps/{guid}/droplets/current"});
  }
}

}  // namespace
}  // namespace broker::testing
