// The clone's bootstrap (broker/session/bootstrap.sh), run for real as a bash subprocess in a temp
// "app" folder, against: an in-test HTTP server (Pistache) that serves a tmate bundle (a tar.gz
// whose tmate/bin/tmate is the fake_tmate program, or the real bundle of Debian's tmate 2.4.0,
// TMATE_BUNDLE_PATH, for what needs no server) and records the POSTed session reports, and a
// FakeTmateServer. Every wait polls with a deadline; nothing asserts on timing.
#include <fcntl.h>
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/router.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/broker_process.h"
#include "tests/support/fake_tmate_server.h"
#include "tests/support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using broker::testing::FakeTmateServer;
using broker::testing::TempDir;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kToken[] = "bootstrap-test-token-Secret-4711";
constexpr char kQuerySecret[] = "querySecret0815";
constexpr char kOriginalCommand[] = "JAVA_OPTS=-Xmx1g bin/run --server.port=$PORT";
constexpr char kAuthorizedKey[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForBootstrapTests user@laptop";
const milliseconds kDeadline = seconds(20);

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Runs a shell command; its stdout. Throws when it fails.
std::string Shell(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed: " + command);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  if (status != 0) throw std::runtime_error("command failed (" + std::to_string(status) + "): " + command);
  return out;
}

// Polls `done` every 20 ms until it holds or `timeout` passes.
bool PollUntil(const std::function<bool()>& done, milliseconds timeout = kDeadline) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

std::size_t Count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

// /tmp/boot-XXXXXX: short, whatever $TMPDIR is, as the tmate socket path lives below it.
TempDir BootDir() { return TempDir("boot", "/tmp"); }

// The bundle: tmate/bin/tmate = fake_tmate, packed once per test run.
struct Bundle {
  std::string bytes;
  std::string sha256;
};

// The real bundle (scripts/build-tmate-bundle around /usr/bin/tmate), as the broker serves it.
const Bundle& RealBundle() {
  static const Bundle bundle = [] {
    Bundle b;
    b.bytes = ReadFile(TMATE_BUNDLE_PATH);
    b.sha256 = Shell("sha256sum '" + std::string(TMATE_BUNDLE_PATH) + "'").substr(0, 64);
    return b;
  }();
  return bundle;
}

const Bundle& TestBundle() {
  static const Bundle bundle = [] {
    const TempDir dir = BootDir();
    fs::create_directories(dir.path() / "tmate" / "bin");
    fs::copy_file(FAKE_TMATE_BINARY_PATH, dir.path() / "tmate" / "bin" / "tmate");
    const fs::path tarball = dir.path() / "bundle.tar.gz";
    Shell("tar -czf '" + tarball.string() + "' -C '" + dir.path().string() + "' tmate");
    Bundle b;
    b.bytes = ReadFile(tarball);
    b.sha256 = Shell("sha256sum '" + tarball.string() + "'").substr(0, 64);
    return b;
  }();
  return bundle;
}

// A PATH folder holding every program of /usr/bin and /bin except `without` (symlinks).
fs::path PathWithout(const fs::path& root, const std::vector<std::string>& without) {
  const fs::path dir = root / "bin-without";
  fs::create_directories(dir);
  for (const char* source : {"/usr/bin", "/bin"}) {
    for (const auto& entry : fs::directory_iterator(source)) {
      const std::string name = entry.path().filename().string();
      if (std::find(without.begin(), without.end(), name) != without.end()) continue;
      std::error_code ec;
      fs::create_symlink(entry.path(), dir / name, ec);  // the first of /usr/bin, /bin wins
    }
  }
  return dir;
}

// The broker's side, as far as the bootstrap sees it: serves the bundle, records reports.
class BrokerStandIn {
 public:
  struct Report {
    std::string authorization;
    std::string content_type;
    std::string query;
    std::string body;
  };

  explicit BrokerStandIn(const Bundle& (*bundle)() = TestBundle) : bundle_(bundle) {
    ::signal(SIGPIPE, SIG_IGN);
    auto router = std::make_shared<Pistache::Rest::Router>();
    router->addNotFoundHandler([this](const Pistache::Rest::Request& req, Pistache::Http::ResponseWriter resp) {
      Serve(req, resp);
      return Pistache::Rest::Route::Result::Ok;
    });
    endpoint_ = std::make_unique<Pistache::Http::Endpoint>(Pistache::Address("127.0.0.1", Pistache::Port(0)));
    endpoint_->init(Pistache::Http::Endpoint::options().threads(1).flags(Pistache::Tcp::Options::ReuseAddr));
    endpoint_->setHandler(router->handler());
    endpoint_->serveThreaded();
    router_ = std::move(router);
    port_ = static_cast<int>(static_cast<std::uint16_t>(endpoint_->getPort()));
  }
  ~BrokerStandIn() {
    endpoint_->shutdown();
    endpoint_.reset();
  }

  std::string bundle_url() const { return Base() + "/bundle.tar.gz"; }
  std::string session_url() const { return Base() + "/ssh-access/v1/session?k=" + kQuerySecret; }

  // The statuses the next report POSTs get (then 200).
  void AnswerReportsWith(std::vector<int> statuses) {
    std::lock_guard<std::mutex> lock(mu_);
    statuses_.assign(statuses.begin(), statuses.end());
  }

  std::vector<Report> Reports() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reports_;
  }
  // Waits until at least `n` reports arrived.
  bool WaitForReports(std::size_t n, milliseconds timeout = kDeadline) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return reports_.size() >= n; });
  }

 private:
  std::string Base() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void Serve(const Pistache::Rest::Request& req, Pistache::Http::ResponseWriter& resp) {
    if (req.method() == Pistache::Http::Method::Get && req.resource() == "/bundle.tar.gz") {
      resp.send(Pistache::Http::Code::Ok, bundle_().bytes, MIME(Application, OctetStream));
      return;
    }
    if (req.method() == Pistache::Http::Method::Post && req.resource() == "/ssh-access/v1/session") {
      Report r;
      if (const auto auth = req.headers().tryGetRaw("Authorization")) r.authorization = auth->value();
      if (const auto ct = req.headers().tryGet<Pistache::Http::Header::ContentType>()) {
        r.content_type = ct->mime().toString();
      }
      if (req.query().has("k")) r.query = req.query().get("k").value_or("");
      r.body = req.body();
      int status = 200;
      {
        std::lock_guard<std::mutex> lock(mu_);
        reports_.push_back(r);
        if (!statuses_.empty()) {
          status = statuses_.front();
          statuses_.pop_front();
        }
      }
      cv_.notify_all();
      resp.send(static_cast<Pistache::Http::Code>(status), "{}", MIME(Application, Json));
      return;
    }
    resp.send(Pistache::Http::Code::Not_Found, "not found");
  }

  const Bundle& (*bundle_)();
  std::shared_ptr<Pistache::Rest::Router> router_;
  std::unique_ptr<Pistache::Http::Endpoint> endpoint_;
  int port_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<Report> reports_;
  std::deque<int> statuses_;
};

// tmate_lines of a report body (fails the test when the body is not the documented shape).
std::vector<std::string> TmateLines(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  REQUIRE_MESSAGE(!d.HasParseError(), body);
  REQUIRE(d.IsObject());
  REQUIRE(d.HasMember("tmate_lines"));
  REQUIRE(d["tmate_lines"].IsArray());
  std::vector<std::string> lines;
  for (const auto& v : d["tmate_lines"].GetArray()) {
    REQUIRE(v.IsString());
    lines.emplace_back(v.GetString(), v.GetStringLength());
  }
  return lines;
}

// An integer member of a report body, or nullopt.
std::optional<int> IntMember(const std::string& body, const char* name) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember(name) || !d[name].IsInt()) return std::nullopt;
  return d[name].GetInt();
}

std::optional<std::string> BootstrapError(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("bootstrap_error") || !d["bootstrap_error"].IsString()) {
    return std::nullopt;
  }
  return std::string(d["bootstrap_error"].GetString());
}

bool Contains(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// broker/session/bootstrap.sh as a child process in its own process group (so a failed test
// leaves no fake tmate behind), stdout and stderr into one file.
class Bootstrap {
 public:
  Bootstrap(const std::map<std::string, std::string>& env, const fs::path& cwd, const fs::path& log)
      : log_(log) {
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    const std::string script = std::string(BROKER_SOURCE_DIR) + "/broker/session/bootstrap.sh";
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::setpgid(0, 0);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::signal(SIGPIPE, SIG_DFL);
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int in = ::open("/dev/null", O_RDONLY);
      if (out < 0 || in < 0 || ::chdir(cwd.c_str()) != 0) ::_exit(126);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execle("/bin/bash", "bash", script.c_str(), static_cast<char*>(nullptr), envp.data());
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);
  }
  ~Bootstrap() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      if (!exited_) ::waitpid(pid_, nullptr, 0);
    }
    ::kill(-pid_, SIGKILL);  // anything left in the group
  }

  std::string Output() const { return ReadFile(log_); }
  void Signal(int sig) { ::kill(pid_, sig); }
  // The exit status (128+N for signal N) once the process exits within `timeout`.
  std::optional<int> Wait(milliseconds timeout = kDeadline) {
    if (!exited_) {
      PollUntil(
          [&] {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
            exited_ = true;
            status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return true;
          },
          timeout);
    }
    if (!exited_) return std::nullopt;
    return status_;
  }

 private:
  fs::path log_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = -1;
};

// One bootstrap run: temp folders, the tmate config for `tmate_port` and `fingerprint`, the env.
struct Run {
  TempDir root = BootDir();
  fs::path app;
  fs::path log;
  std::map<std::string, std::string> env;

  Run(const BrokerStandIn& broker, int tmate_port, const std::string& fingerprint, bool with_keys = true,
      const Bundle& bundle = TestBundle(), const std::string& host = "127.0.0.1") {
    app = root.path() / "app";
    log = root.path() / "bootstrap.log";
    fs::create_directories(app);
    fs::create_directories(root.path() / "home");
    fs::create_directories(root.path() / "tmp");
    std::string config = "# rendered by the broker\n"
                         "set -g tmate-server-host " + host + "\n"
                         "set -g tmate-server-port " + std::to_string(tmate_port) + "\n"
                         "set -g tmate-server-ed25519-fingerprint " + fingerprint + "\n"
                         "set -g tmate-server-rsa-fingerprint SHA256:rsaNotChecked\n"
                         "set -g tmate-foreground-restart 1\n";
    if (with_keys) config += std::string("set -g tmate-set \"authorized_keys=") + kAuthorizedKey + "\"\n";
    env = {
        {"PATH", "/usr/bin:/bin"},
        {"HOME", (root.path() / "home").string()},
        {"TMPDIR", (root.path() / "tmp").string()},
        {"FAKE_TMATE_RETRY_MS", "50"},
        {"MY_APP_SETTING", "from the source app"},
        {"SSH_ACCESS_SESSION_URL", broker.session_url()},
        {"SSH_ACCESS_SESSION_TOKEN", kToken},
        {"SSH_ACCESS_TMATE_CONFIG", config},
        {"SSH_ACCESS_TMATE_BUNDLE_URL", broker.bundle_url()},
        {"SSH_ACCESS_TMATE_BUNDLE_SHA256", bundle.sha256},
        {"SSH_ACCESS_ORIGINAL_COMMAND", kOriginalCommand},
        // tmate's socket folder inside this run's folder (short: /tmp/boot-XXXXXX), so a test
        // that ends with SIGKILL (no cleanup trap) leaves nothing behind.
        {"SSH_ACCESS_SOCKET_PARENTS", root.path().string()},
    };
  }

  std::unique_ptr<Bootstrap> Start() { return std::make_unique<Bootstrap>(env, app, log); }

  // TMPDIR and HOME as folders whose paths are exactly `bytes` long (a CF cell's can be long).
  void LongTmpdirAndHome(std::size_t bytes) {
    for (const char* name : {"TMPDIR", "HOME"}) {
      std::string dir = (root.path() / (std::string(name) == "HOME" ? "h" : "t")).string() + "/";
      dir += std::string(bytes - dir.size(), 'd');
      fs::create_directories(dir);
      REQUIRE(dir.size() == bytes);
      env[name] = dir;
    }
  }
};

// The real tmate's config (no fake-tmate knobs): `host`:`port`, any fingerprint.
std::string RealConfig(const std::string& host, int port) {
  return "set -g tmate-server-host '" + host + "'\nset -g tmate-server-port " + std::to_string(port) +
         "\nset -g tmate-server-ed25519-fingerprint '" + FakeTmateServer::kDefaultFingerprint +
         "'\nset -g tmate-foreground-restart 1\nset-environment -gu LOCPATH\n";
}

// The bootstrap's output never holds a secret: the token, the URL's query, any session token the
// fake server saw, or an `ssh session` line.
void CheckNoSecrets(const std::string& output, const FakeTmateServer* server) {
  CHECK(output.find(kToken) == std::string::npos);
  CHECK(output.find(kQuerySecret) == std::string::npos);
  CHECK(output.find("ssh session") == std::string::npos);
  if (server == nullptr) return;
  for (const FakeTmateServer::Session& s : server->Sessions()) {
    CHECK(output.find(s.token) == std::string::npos);
    CHECK(output.find(s.token_read_only.substr(3)) == std::string::npos);
  }
}

std::string Rw(const FakeTmateServer::Session& s, int port) {
  return "ssh session: ssh -p" + std::to_string(port) + " " + s.token + "@127.0.0.1";
}
std::string Ro(const FakeTmateServer::Session& s, int port) {
  return "ssh session read only: ssh -p" + std::to_string(port) + " " + s.token_read_only + "@127.0.0.1";
}

}  // namespace

TEST_SUITE("bootstrap") {
  TEST_CASE("reports the session lines with the bearer token, and the session runs in the app folder with the app's environment minus the token") {
    BrokerStandIn broker;
    FakeTmateServer server;
    server.Start();
    Run run(broker, server.port(), server.fingerprint());
    auto boot = run.Start();

    REQUIRE_MESSAGE(broker.WaitForReports(1), boot->Output());
    REQUIRE(server.WaitForSessions(1, kDeadline));
    const FakeTmateServer::Session session = server.Sessions().at(0);
    const BrokerStandIn::Report report = broker.Reports().at(0);
    CHECK(report.authorization == std::string("Bearer ") + kToken);
    CHECK(report.content_type == "application/json");
    CHECK(report.query == kQuerySecret);
    const std::vector<std::string> lines = TmateLines(report.body);
    CHECK(Contains(lines, Ro(session, server.port())));
    CHECK(Contains(lines, Rw(session, server.port())));
    CHECK(lines.back() == Rw(session, server.port()));
    CHECK(Contains(lines, "Connecting to 127.0.0.1..."));
    CHECK(session.token.size() == 25);
    CHECK(session.token_read_only.size() == 28);
    CHECK(PollUntil([&] { return boot->Output().find("ssh-access: session reported to the broker") != std::string::npos; }));

    SUBCASE("the session's shell: app folder, app environment, original command, no token") {
      CHECK(session.cwd == run.app.string());
      CHECK(session.env.count("SSH_ACCESS_SESSION_TOKEN") == 0);
      CHECK(session.env.count("SSH_ACCESS_ORIGINAL_COMMAND") == 1);
      if (session.env.count("SSH_ACCESS_ORIGINAL_COMMAND") == 1) {
        CHECK(session.env.at("SSH_ACCESS_ORIGINAL_COMMAND") == kOriginalCommand);
      }
      CHECK(session.authorized_keys == std::vector<std::string>{kAuthorizedKey});
      // As a viewer typing into the shell would see it.
      const auto pwd = server.Run("pwd", kDeadline);
      REQUIRE(pwd);
      CHECK(pwd->output == run.app.string() + "\n");
      const auto env = server.Run(
          "echo \"token=${SSH_ACCESS_SESSION_TOKEN-unset} app=$MY_APP_SETTING lc=$LC_ALL\"; "
          "printf '%s\\n' \"$SSH_ACCESS_ORIGINAL_COMMAND\"; env | grep -c " + std::string(kToken) + " || true",
          kDeadline);
      REQUIRE(env);
      CHECK(env->output == std::string("token=unset app=from the source app lc=C.UTF-8\n") + kOriginalCommand + "\n0\n");
    }

    SUBCASE("SIGTERM ends tmate, and the bootstrap exits with tmate's status") {
      boot->Signal(SIGTERM);
      const std::optional<int> status = boot->Wait();
      REQUIRE_MESSAGE(status, boot->Output());
      CHECK(*status == 0);  // tmate prints "Session closed" and exits 0
      CHECK(boot->Output().find("ssh-access: Session closed") != std::string::npos);
      CHECK(::kill(session.client_pid, 0) == -1);  // the bootstrap reaped it
    }

    SUBCASE("SIGINT is passed on as SIGTERM (tmate would ignore SIGINT as a background process)") {
      boot->Signal(SIGINT);
      const std::optional<int> status = boot->Wait();
      REQUIRE_MESSAGE(status, boot->Output());
      CHECK(*status == 0);
      CHECK(boot->Output().find("ssh-access: Session closed") != std::string::npos);
    }

    CheckNoSecrets(boot->Output(), &server);
  }

  TEST_CASE("a tmate server restart is reported again with the new tokens") {
    BrokerStandIn broker;
    FakeTmateServer server;
    server.Start();
    Run run(broker, server.port(), server.fingerprint());
    auto boot = run.Start();
    REQUIRE_MESSAGE(broker.WaitForReports(1), boot->Output());
    REQUIRE(server.WaitForSessions(1, kDeadline));
    // Delivered (not merely received), so the next report starts afresh.
    REQUIRE(PollUntil([&] { return boot->Output().find("ssh-access: session reported to the broker") != std::string::npos; }));

    server.Restart();
    REQUIRE_MESSAGE(broker.WaitForReports(2), boot->Output());
    REQUIRE(server.WaitForSessions(2, kDeadline));
    const auto sessions = server.Sessions();
    CHECK(sessions[0].token != sessions[1].token);
    CHECK(sessions[0].token_read_only != sessions[1].token_read_only);
    CHECK_FALSE(sessions[0].live);
    const std::vector<std::string> lines = TmateLines(broker.Reports().at(1).body);
    CHECK(Contains(lines, "Error reading from channel: Socket error: disconnected"));
    CHECK(Contains(lines, Ro(sessions[1], server.port())));
    CHECK(lines.back() == Rw(sessions[1], server.port()));
    CHECK_FALSE(Contains(lines, Rw(sessions[0], server.port())));  // only the lines since the last report
    CheckNoSecrets(boot->Output(), &server);
  }

  TEST_CASE("with no tmate server listening, the connection errors are reported once SSH_ACCESS_FAIL_AFTER of them arrived") {
    BrokerStandIn broker(RealBundle);  // the real tmate: no server needed
    const int port = broker::testing::FreeLoopbackPort();
    Run run(broker, port, FakeTmateServer::kDefaultFingerprint, false, RealBundle());
    run.env["SSH_ACCESS_TMATE_CONFIG"] = RealConfig("127.0.0.1", port);
    run.env["SSH_ACCESS_FAIL_AFTER"] = "4";
    auto boot = run.Start();
    REQUIRE_MESSAGE(broker.WaitForReports(1), boot->Output());
    const std::vector<std::string> lines = TmateLines(broker.Reports().at(0).body);
    CHECK(std::count(lines.begin(), lines.end(), "Error connecting: Connection refused") == 4);
    CHECK(lines.back() == "Error connecting: Connection refused");
    // Once per streak: more errors, no second report.
    CHECK(PollUntil([&] { return Count(boot->Output(), "ssh-access: Error connecting: Connection refused") >= 6; },
                    seconds(60)));
    CHECK(broker.Reports().size() == 1);
    // Printed by the reporter once the POST was answered, which on a loaded machine can come after
    // the errors above.
    CHECK_MESSAGE(PollUntil([&] {
      return boot->Output().find("ssh-access: connection errors reported to the broker") != std::string::npos;
    }), boot->Output());
    CheckNoSecrets(boot->Output(), nullptr);
  }

  TEST_CASE("a tmate server with another fingerprint is reported as `Cannot authenticate server`") {
    BrokerStandIn broker;
    FakeTmateServer server;
    server.Start();
    Run run(broker, server.port(), "SHA256:NotTheServersKeyAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    auto boot = run.Start();
    REQUIRE_MESSAGE(broker.WaitForReports(1), boot->Output());
    const std::vector<std::string> lines = TmateLines(broker.Reports().at(0).body);
    CHECK(std::count(lines.begin(), lines.end(), "Cannot authenticate server") == 3);
    CHECK(server.connections() >= 3);
    CHECK(server.Sessions().empty());
    CHECK(boot->Output().find("ssh-access: Cannot authenticate server") != std::string::npos);
    CheckNoSecrets(boot->Output(), &server);
  }

  TEST_CASE("a tmate server that requires authorized keys refuses a client without any, and the refusal reaches the broker") {
    BrokerStandIn broker;
    FakeTmateServer server;
    server.set_require_keys(true);
    server.Start();
    Run run(broker, server.port(), server.fingerprint(), /*with_keys=*/false);
    auto boot = run.Start();
    REQUIRE_MESSAGE(broker.WaitForReports(2), boot->Output());
    const auto sessions = server.Sessions();
    REQUIRE(sessions.size() >= 2);
    CHECK(sessions[0].refused);
    CHECK(sessions[0].authorized_keys.empty());
    const std::vector<std::string> second = TmateLines(broker.Reports().at(1).body);
    CHECK(Contains(second, "Server requires authorized_keys but none are given."));
    CHECK(Contains(second, "Use '-a FILENAME' to specify an authorized_keys file."));
    CHECK_FALSE(server.Run("true", milliseconds(100)));  // no usable session
    CheckNoSecrets(boot->Output(), &server);
  }

  TEST_CASE("a bundle whose sha256 differs is reported as a bootstrap error, and the bootstrap exits 1") {
    BrokerStandIn broker;
    FakeTmateServer server;
    server.Start();
    Run run(broker, server.port(), server.fingerprint());
    run.env["SSH_ACCESS_TMATE_BUNDLE_SHA256"] = std::string(64, '0');
    auto boot = run.Start();
    const std::optional<int> status = boot->Wait();
    REQUIRE_MESSAGE(status, boot->Output());
    CHECK(*status == 1);
    REQUIRE(broker.Reports().size() == 1);
    const BrokerStandIn::Report report = broker.Reports().at(0);
    CHECK(TmateLines(report.body).empty());
    const std::optional<std::string> error = BootstrapError(report.body);
    REQUIRE(error);
    CHECK(error->find("checksum mismatch") != std::string::npos);
    CHECK(report.authorization == std::string("Bearer ") + kToken);
    CHECK(boot->Output().find("ssh-access: error: tmate bundle checksum mismatch") != std::string::npos);
    CHECK(server.connections() == 0);
    CheckNoSecrets(boot->Output(), nullptr);
  }

  TEST_CASE("a bundle that cannot be downloaded is reported as a bootstrap error, and the bootstrap exits 1") {
    BrokerStandIn broker;
    Run run(broker, broker::testing::FreeLoopbackPort(), FakeTmateServer::kDefaultFingerprint);
    run.env["SSH_ACCESS_TMATE_BUNDLE_URL"] = broker.bundle_url() + ".missing";
    auto boot = run.Start();
    const std::optional<int> status = boot->Wait();
    REQUIRE_MESSAGE(status, boot->Output());
    CHECK(*status == 1);
    REQUIRE(broker.Reports().size() == 1);
    const std::optional<std::string> error = BootstrapError(broker.Reports().at(0).body);
    REQUIRE(error);
    CHECK(error->find("download failed") != std::string::npos);
    CheckNoSecrets(boot->Output(), nullptr);
  }

  TEST_CASE("a report the broker does not take is retried, unless it is refused with a 4xx") {
    BrokerStandIn broker;
    FakeTmateServer server;
    server.Start();
    Run run(broker, server.port(), server.fingerprint());

    SUBCASE("503 then 200: delivered on the second attempt") {
      broker.AnswerReportsWith({503});
      auto boot = run.Start();
      REQUIRE_MESSAGE(broker.WaitForReports(2), boot->Output());
      CHECK(broker.Reports()[0].body == broker.Reports()[1].body);
      CHECK(PollUntil([&] { return boot->Output().find("ssh-access: session reported to the broker") != std::string::npos; }));
      CHECK(boot->Output().find("report not delivered (HTTP 503)") != std::string::npos);
      CheckNoSecrets(boot->Output(), &server);
    }
    SUBCASE("403: given up") {
      broker.AnswerReportsWith({403});
      auto boot = run.Start();
      REQUIRE_MESSAGE(broker.WaitForReports(1), boot->Output());
      CHECK(PollUntil([&] { return boot->Output().find("the broker refused the report (HTTP 403)") != std::string::npos; }));
      // The session is still served; a reconnect is reported anew.
      server.Restart();
      REQUIRE_MESSAGE(broker.WaitForReports(2), boot->Output());
      CHECK(TmateLines(broker.Reports()[1].body).back() == Rw(server.Sessions().back(), server.port()));
      CheckNoSecrets(boot->Output(), &server);
    }
  }

  TEST_CASE("when tmate exits by itself, the bootstrap exits with its status") {
    BrokerStandIn broker;
    FakeTmateServer server;
    server.Start();
    Run run(broker, server.port(), server.fingerprint());
    auto boot = run.Start();
    REQUIRE_MESSAGE(broker.WaitForReports(1), boot->Output());
    REQUIRE(server.WaitForSessions(1, kDeadline));
    REQUIRE(server.ExitClient(7));
    const std::optional<int> status = boot->Wait();
    REQUIRE_MESSAGE(status, boot->Output());
    CHECK(*status == 7);
    CheckNoSecrets(boot->Output(), &server);
  }

  TEST_CASE("without curl, wget downloads the bundle and delivers the report (token in a private wgetrc)") {
    BrokerStandIn broker;
    FakeTmateServer server;
    server.Start();
    Run run(broker, server.port(), server.fingerprint());
    run.env["PATH"] = PathWithout(run.root.path(), {"curl", "sha256sum"}).string();  // and openssl's sha256
    auto boot = run.Start();
    REQUIRE_MESSAGE(broker.WaitForReports(1), boot->Output());
    REQUIRE(server.WaitForSessions(1, kDeadline));
    const BrokerStandIn::Report report = broker.Reports().at(0);
    CHECK(report.authorization == std::string("Bearer ") + kToken);
    CHECK(report.content_type == "application/json");
    CHECK(TmateLines(report.body).back() == Rw(server.Sessions().at(0), server.port()));
    CHECK(PollUntil([&] { return boot->Output().find("ssh-access: session reported to the broker") != std::string::npos; }));
    CheckNoSecrets(boot->Output(), &server);
  }

  // The real tmate (Debian's 2.4.0 in the real bundle) for what needs no tmate server.
  TEST_CASE("the real tmate with a TMPDIR of 150 bytes starts, reaches the closed port, and `Connection refused` is reported") {
    BrokerStandIn broker(RealBundle);
    const int port = broker::testing::FreeLoopbackPort();
    Run run(broker, port, FakeTmateServer::kDefaultFingerprint, false, RealBundle());
    run.env["SSH_ACCESS_TMATE_CONFIG"] = RealConfig("127.0.0.1", port);
    run.env.erase("SSH_ACCESS_SOCKET_PARENTS");  // the default places (/tmp first); SIGTERM cleans up
    run.LongTmpdirAndHome(150);
    auto boot = run.Start();
    REQUIRE_MESSAGE(broker.WaitForReports(1, seconds(60)), boot->Output());
    const std::vector<std::string> lines = TmateLines(broker.Reports().at(0).body);
    CHECK_MESSAGE(std::count(lines.begin(), lines.end(), "Error connecting: Connection refused") == 3, boot->Output());
    CHECK(Contains(lines, "Connecting to 127.0.0.1..."));
    for (const auto& l : lines) CHECK(l.find("error connecting to") == std::string::npos);  // the socket is fine
    CHECK(boot->Output().find("ssh-access: Error connecting: Connection refused") != std::string::npos);
    // The socket's folder is private and short, not under TMPDIR (tmate says where it is).
    const std::string said = "ssh-access: To connect to the session locally, run: tmate -S ";
    const std::string out = boot->Output();
    const auto at = out.find(said);
    REQUIRE_MESSAGE(at != std::string::npos, out);
    const std::string sock = out.substr(at + said.size(), out.find(" attach", at) - at - said.size());
    CHECK_MESSAGE(sock.rfind("/tmp/ssh-access.", 0) == 0, sock);
    struct stat st {};
    REQUIRE(::stat(fs::path(sock).parent_path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    boot->Signal(SIGTERM);
    REQUIRE(boot->Wait());
    CHECK_FALSE(fs::exists(fs::path(sock).parent_path()));  // removed on the way out
    CheckNoSecrets(boot->Output(), nullptr);
  }

  TEST_CASE("the real tmate with an unresolvable server host: the start timeout reports the lookup failure naming the host") {
    BrokerStandIn broker(RealBundle);
    Run run(broker, 2222, FakeTmateServer::kDefaultFingerprint, false, RealBundle());
    run.env["SSH_ACCESS_TMATE_CONFIG"] = RealConfig("nonexistent.invalid", 2222);
    run.env["SSH_ACCESS_FAIL_AFTER"] = "1000";  // so the start timeout is what reports
    run.env["SSH_ACCESS_SESSION_START_TIMEOUT"] = "4";
    auto boot = run.Start();
    REQUIRE_MESSAGE(broker.WaitForReports(1, seconds(60)), boot->Output());
    const std::string body = broker.Reports().at(0).body;
    CHECK(IntMember(body, "start_timeout_s") == 4);
    const std::vector<std::string> lines = TmateLines(body);
    CHECK_MESSAGE(Contains(lines, "nonexistent.invalid lookup failure. Retrying in 2 seconds (nodename nor servname "
                                  "provided, or not known)"),
                  body);
    CHECK(PollUntil([&] { return boot->Output().find("ssh-access: no session within 4s: reported to the broker") != std::string::npos; }));
    CHECK(boot->Output().find("ssh-access: nonexistent.invalid lookup failure. Retrying in 2 seconds") != std::string::npos);
    CheckNoSecrets(boot->Output(), nullptr);
  }

  TEST_CASE("when tmate exits before any session (a config error), its last lines and exit status are reported") {
    BrokerStandIn broker(RealBundle);
    const int port = broker::testing::FreeLoopbackPort();
    Run run(broker, port, FakeTmateServer::kDefaultFingerprint, false, RealBundle());
    run.env["SSH_ACCESS_TMATE_CONFIG"] = RealConfig("127.0.0.1", port) + "set -g no-such-option 1\n";
    run.env["SSH_ACCESS_FAIL_AFTER"] = "1000";
    auto boot = run.Start();
    const std::optional<int> status = boot->Wait(seconds(60));
    REQUIRE_MESSAGE(status, boot->Output());
    CHECK(*status == 1);
    REQUIRE_MESSAGE(broker.Reports().size() == 1, boot->Output());
    const std::string body = broker.Reports().at(0).body;
    CHECK(IntMember(body, "tmate_exit_status") == 1);
    const std::vector<std::string> lines = TmateLines(body);
    REQUIRE_FALSE(lines.empty());
    CHECK_MESSAGE(lines.back().find(":6: unknown option: no-such-option") != std::string::npos, body);
    CHECK(boot->Output().find("ssh-access: tmate's exit reported to the broker") != std::string::npos);
  }

  TEST_CASE("with no short folder for tmate's socket, the bootstrap reports a bootstrap error saying so") {
    BrokerStandIn broker(RealBundle);
    Run run(broker, 2222, FakeTmateServer::kDefaultFingerprint, false, RealBundle());
    run.env["SSH_ACCESS_SOCKET_PARENTS"] = (run.root.path() / "missing").string();
    run.LongTmpdirAndHome(150);
    auto boot = run.Start();
    const std::optional<int> status = boot->Wait(seconds(60));
    REQUIRE_MESSAGE(status, boot->Output());
    CHECK(*status == 1);
    REQUIRE(broker.Reports().size() == 1);
    const std::optional<std::string> error = BootstrapError(broker.Reports().at(0).body);
    REQUIRE(error);
    CHECK_MESSAGE(error->find("cannot create a private folder for tmate's socket") != std::string::npos, *error);
    CHECK(boot->Output().find("ssh-access: error: cannot create a private folder for tmate's socket") != std::string::npos);
  }

  TEST_CASE("a report of tmate's lines refused with 400 is final, and the bootstrap reports the refusal") {
    BrokerStandIn broker;
    FakeTmateServer server;
    server.Start();
    Run run(broker, server.port(), server.fingerprint());
    broker.AnswerReportsWith({400});
    auto boot = run.Start();
    REQUIRE_MESSAGE(broker.WaitForReports(2), boot->Output());
    CHECK(TmateLines(broker.Reports()[0].body).back() == Rw(server.Sessions().at(0), server.port()));
    const std::optional<std::string> error = BootstrapError(broker.Reports()[1].body);
    REQUIRE_MESSAGE(error, broker.Reports()[1].body);
    CHECK(*error == "the broker refused a report of tmate's lines (HTTP 400)");
    CHECK(PollUntil([&] { return boot->Output().find("ssh-access: error: the broker refused a report of tmate's lines (HTTP 400)") != std::string::npos; }));
    CheckNoSecrets(boot->Output(), &server);
  }

  TEST_CASE("bootstrap.sh is shellcheck-clean") {
    const std::string script = std::string(BROKER_SOURCE_DIR) + "/broker/session/bootstrap.sh";
    REQUIRE_MESSAGE(std::system("command -v shellcheck >/dev/null 2>&1") == 0,
                    "shellcheck is not installed (scripts/setup installs it)");
    std::string output;
    int status = 0;
    FILE* p = ::popen(("shellcheck -s bash '" + script + "' 2>&1").c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
    status = ::pclose(p);
    CHECK_MESSAGE(status == 0, output);
  }
}
