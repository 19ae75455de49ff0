// The ssh session end to end (issue: the ssh session): the real broker binary clones through the
// fake Cloud Controller in local-container mode, so the clone's web process really runs here: the
// bootstrap command the broker set fetches the real bootstrap from the real broker, which fetches
// the test tmate bundle (the fake tmate, bundled with its loader by scripts/build-tmate-bundle)
// from the broker, checks its SHA-256, runs it against FakeTmateServer and reports tmate's session
// lines to the broker. Asserted through the OSB API, the session_url, the fake server (as a viewer
// typing into the shell) and the clone's captured stdout/stderr.
//
// The "session end to end with the real tmate" cases run the real bundle (Debian's tmate 2.4.0,
// TMATE_BUNDLE_PATH) in the clone for what needs no tmate server: an unreachable one (the fake
// tmate is kept for what needs a server).
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/broker_process.h"
#include "tests/support/clone_fixture.h"
#include "tests/support/fake_cloud_controller.h"
#include "tests/support/fake_tmate_server.h"
#include "tests/support/http_client.h"
#include "tests/support/osb_fixtures.h"
#include "tests/support/temp_dir.h"

namespace broker::testing {
namespace {

using Fake = FakeCloudController;
using std::chrono::milliseconds;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// What a SessionE2E differs in.
struct E2EOptions {
  int tmate_port = 0;  // the port the broker hands out (0: the fake tmate server's)
  std::string fingerprint = FakeTmateServer::kDefaultFingerprint;
  std::string host = "127.0.0.1";  // TMATE_SERVER_HOST
  std::string bundle = TEST_TMATE_BUNDLE_PATH;
  std::size_t tmpdir_bytes = 0;  // > 0: the containers' TMPDIR is exactly this long
  std::map<std::string, std::string> container_env;  // added to the containers' environment
  EnvOverrides broker_env;                            // added to the broker's
};

E2EOptions WithServer(int tmate_port, std::string fingerprint) {
  E2EOptions o;
  o.tmate_port = tmate_port;
  o.fingerprint = std::move(fingerprint);
  return o;
}

// The tmate server, a folder for containers, and the harness whose broker points its clones at
// them with the test bundle. `tmate_port` overrides the port the broker hands out (an unreachable
// server); `fingerprint` the ed25519 fingerprint it configures.
struct SessionE2E {
  explicit SessionE2E(int tmate_port = 0, std::string fingerprint = FakeTmateServer::kDefaultFingerprint)
      : SessionE2E(WithServer(tmate_port, std::move(fingerprint))) {}
  explicit SessionE2E(const E2EOptions& o) {
    tmate.Start();
    port = o.tmate_port != 0 ? o.tmate_port : tmate.port();
    root = containers.path().string();
    if (o.tmpdir_bytes > 0) {
      // TMPDIR is <root>/<app guid, 36 characters>/tmp.
      const std::size_t root_bytes = o.tmpdir_bytes - 36 - 1 - 4;
      REQUIRE(root_bytes > root.size() + 1);
      root += "/" + std::string(root_bytes - root.size() - 1, 'r');
    }
    std::map<std::string, std::string> container_env = {{"FAKE_TMATE_RETRY_MS", "100"}};
    for (const auto& [k, v] : o.container_env) container_env[k] = v;
    EnvOverrides broker_env{{"TMATE_SERVER_HOST", o.host},
                            {"TMATE_SERVER_PORT", std::to_string(port)},
                            {"TMATE_SERVER_ED25519_FINGERPRINT", o.fingerprint},
                            {"TMATE_BUNDLE_PATH", o.bundle},
                            {"CLONE_POLL_INTERVAL_MS", "100"}};
    for (const auto& [k, v] : o.broker_env) broker_env[k] = v;
    harness = std::make_unique<CloneHarness>(
        [&](Fake& f) {
          f.UpdateKnobs([&](Fake::Knobs& k) {
            Fake::LocalContainers local;
            local.root_dir = root;
            local.extra_env = container_env;
            local.stop_grace = milliseconds(3000);
            k.local_containers = local;
            k.instance_start_ticks = 1;
          });
        },
        broker_env, std::nullopt);  // no fake report: the real bootstrap reports
    harness->Provision();
  }

  // GET session_url with the userinfo it carries; the parsed body.
  rapidjson::Document ReadSessionUrl(const std::string& session_url) const {
    const auto scheme = session_url.find("://");
    REQUIRE(scheme != std::string::npos);
    const auto at = session_url.find('@', scheme);
    const auto colon = session_url.find(':', scheme + 3);
    const auto path = session_url.find('/', at);
    REQUIRE((at != std::string::npos && colon < at && path != std::string::npos));
    const std::string user = session_url.substr(scheme + 3, colon - scheme - 3);
    const std::string key = session_url.substr(colon + 1, at - colon - 1);
    HttpClient client(session_url.substr(0, scheme + 3) + session_url.substr(at + 1, path - at - 1), user, key);
    const Response r = client.Get(session_url.substr(path));
    REQUIRE_MESSAGE(r.status == 200, r.Describe());
    return ParseJson(r.body);
  }

  FakeTmateServer tmate;
  // The local containers, under /tmp whatever $TMPDIR is: a clone's tmate socket lives below it
  // (<clone>/tmp/ssh-access/.../tmate.sock), and a Unix socket path has at most 107 bytes.
  TempDir containers{"ssh-access-e2e", "/tmp"};
  std::string root;  // the containers' root_dir
  int port = 0;
  std::unique_ptr<CloneHarness> harness;
};

TEST_SUITE("session end to end") {
  TEST_CASE("bind runs the real bootstrap in the clone; the credentials and session_url follow tmate; unbind kills it") {
    SessionE2E e;
    CloneHarness& t = *e.harness;
    const std::string bid = CloneBindingId(70);
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    REQUIRE_MESSAGE(CloneHarness::State(op) == "succeeded", CloneHarness::Description(op), "\n",
                    t.broker->LogTail(40));

    // The session the fake tmate server saw is the one in the credentials.
    const auto sessions = e.tmate.Sessions();
    REQUIRE_FALSE(sessions.empty());
    const auto& s = sessions.back();
    const std::string host_part = "@127.0.0.1";
    const auto creds = t.Credentials(bid);
    CHECK(StringMember(creds, "ssh_command") == "ssh -p " + std::to_string(e.port) + " " + s.token + host_part);
    CHECK(StringMember(creds, "ssh_command_read_only") ==
          "ssh -p " + std::to_string(e.port) + " " + s.token_read_only + host_part);
    CHECK(StringMember(creds, "uri") == "ssh://" + s.token + host_part + ":" + std::to_string(e.port));
    const std::string session_url = StringMember(creds, "session_url").value_or("");
    REQUIRE_FALSE(session_url.empty());
    CHECK(StringMember(e.ReadSessionUrl(session_url), "ssh_command") == StringMember(creds, "ssh_command"));

    // The clone: a local process in the clone's app folder, with the app's environment.
    const auto clones = t.ClonesOf(bid);
    REQUIRE(clones.size() == 1);
    const std::string clone = clones.front().guid;
    const auto container = t.fake.LocalContainer(clone);
    REQUIRE(container.has_value());
    CHECK(container->running);
    CHECK(s.cwd == container->app_dir);
    const auto shell = e.tmate.Run("pwd; printf '%s\\n' \"$VCAP_SERVICES\"; echo \"token=${SSH_ACCESS_SESSION_TOKEN:-none}\"; "
                                   "echo \"original=$SSH_ACCESS_ORIGINAL_COMMAND\"; echo \"locpath=${LOCPATH:-none}\"; "
                                   "echo \"umask=$(umask)\"",
                                   milliseconds(10000));
    REQUIRE(shell.has_value());
    CHECK(shell->output.rfind(container->app_dir + "\n", 0) == 0);
    CHECK(shell->output.find("\"instance_guid\":\"" + t.demo.mysql_instance_guid + "\"") != std::string::npos);
    CHECK(shell->output.find("token=none") != std::string::npos);
    // The source app's start command (the demo's is the java buildpack's), to start it by hand.
    CHECK_MESSAGE(shell->output.find("original=JAVA_OPTS=") != std::string::npos, shell->output);
    CHECK(shell->output.find("org.springframework.boot.loader.JarLauncher") != std::string::npos);
    CHECK(shell->output.find("locpath=none") != std::string::npos);  // the bundle's LOCPATH stays with tmate
    // The shell gets the app's umask (the test's own, inherited by the container), not the
    // bootstrap's private 077.
    const std::string status = ReadFile("/proc/self/status");
    const auto at = status.find("Umask:\t");
    REQUIRE(at != std::string::npos);
    const std::string expected_umask = "umask=" + status.substr(at + 7, 4);
    CHECK_MESSAGE(shell->output.find(expected_umask) != std::string::npos, shell->output);

    // tmate reconnects (the server restarted): new tokens reach the session_url.
    e.tmate.Restart();
    REQUIRE(e.tmate.WaitForSessions(sessions.size() + 1, milliseconds(20000)));
    const std::string fresh = e.tmate.Sessions().back().token;
    CHECK(fresh != s.token);
    const bool updated = CloneHarness::Eventually([&] {
      return StringMember(e.ReadSessionUrl(session_url), "ssh_command").value_or("").find(fresh) != std::string::npos;
    });
    CHECK_MESSAGE(updated, t.broker->LogTail(30));

    // Nothing secret in what CF's log readers would see: the clone's stdout and stderr.
    const std::string output = ReadFile(container->stdout_path) + ReadFile(container->stderr_path);
    CHECK(output.find("session reported to the broker") != std::string::npos);
    const std::string report_token = t.fake.App(clone)->env.at("SSH_ACCESS_SESSION_TOKEN");
    CHECK(output.find(report_token) == std::string::npos);
    for (const auto& seen : e.tmate.Sessions()) {
      CHECK(output.find(seen.token) == std::string::npos);
      CHECK(output.find(seen.token_read_only) == std::string::npos);
    }
    CHECK(output.find("ssh session") == std::string::npos);
    // Nor in the broker's log.
    const std::string log = t.broker->LogTail(100000);
    CHECK(log.find(report_token) == std::string::npos);
    CHECK(log.find(fresh) == std::string::npos);

    // Unbind: the process group is gone and the app deleted.
    REQUIRE(CloneHarness::State(t.UnbindAndWait(bid)) == "succeeded");
    CHECK_FALSE(t.fake.App(clone).has_value());
    const auto after = t.fake.LocalContainer(clone);
    REQUIRE(after.has_value());
    CHECK_FALSE(after->running);
    CHECK(kill(container->pid, 0) != 0);
  }

  TEST_CASE("a tmate server whose host key does not match the fingerprint fails the bind and says so") {
    SessionE2E e(0, "SHA256:SomeOtherKeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    CloneHarness& t = *e.harness;
    const std::string bid = CloneBindingId(72);
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    CHECK(CloneHarness::State(op) == "failed");
    CHECK_MESSAGE(CloneHarness::Description(op).find("did not present the host key") != std::string::npos,
                  CloneHarness::Description(op));
    CHECK(e.tmate.Sessions().empty());
    CHECK(t.AwaitNoClone(bid));
  }

  TEST_CASE("authorized_keys from the bind parameters reach the tmate server") {
    SessionE2E e;
    CloneHarness& t = *e.harness;
    const std::string key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHl7sVxkSu2GZsPKc4L5e4LvG1mvhW3Ch8mPp0n0gKzX";
    const std::string bid = CloneBindingId(73);
    const auto op = t.BindAndWait(bid, t.demo.app_guid, R"({"authorized_keys":[")" + key + R"( alice@laptop"]})");
    REQUIRE_MESSAGE(CloneHarness::State(op) == "succeeded", CloneHarness::Description(op));
    const auto sessions = e.tmate.Sessions();
    REQUIRE_FALSE(sessions.empty());
    CHECK(sessions.back().authorized_keys == std::vector<std::string>{key});
  }
}


// The socket path the clone's tmate printed (its first line, which the bootstrap passes on).
std::string TmateSocketOf(const std::string& output) {
  const std::string said = "ssh-access: To connect to the session locally, run: tmate -S ";
  const auto at = output.find(said);
  if (at == std::string::npos) return "";
  const auto end = output.find(" attach", at);
  return output.substr(at + said.size(), end - at - said.size());
}

// The guid of the one clone whose container ran under the containers' folder.
std::string OnlyContainerGuid(const SessionE2E& e) {
  std::vector<std::string> guids;
  for (const auto& entry : std::filesystem::directory_iterator(e.root)) {
    if (std::filesystem::exists(entry.path() / "stdout.log")) guids.push_back(entry.path().filename().string());
  }
  REQUIRE(guids.size() == 1);
  return guids.front();
}

// A failed bind's clone: nothing secret in its output, and nothing left once it is gone.
void CheckFailedCloneLeavesNothing(SessionE2E& e, const std::string& bid, const std::string& clone,
                                   const FakeCloudController::LocalContainerView& container) {
  CloneHarness& t = *e.harness;
  CHECK(t.AwaitNoClone(bid));
  const std::string output = ReadFile(container.stdout_path) + ReadFile(container.stderr_path);
  CHECK(output.find(container.env.at("SSH_ACCESS_SESSION_TOKEN")) == std::string::npos);
  CHECK(output.find("ssh session") == std::string::npos);
  const std::string socket = TmateSocketOf(output);
  CHECK_MESSAGE(!socket.empty(), output);
  CHECK_MESSAGE(CloneHarness::Eventually([&] {
    const auto after = t.fake.LocalContainer(clone);
    return after.has_value() && !after->running && !std::filesystem::exists(std::filesystem::path(socket).parent_path());
  }), output);
  CHECK(kill(container.pid, 0) != 0);
  // Unbinding the failed binding leaves nothing either.
  const Response unbind = t.Unbind(bid);
  CHECK_MESSAGE((unbind.status == 200 || unbind.status == 202 || unbind.status == 410), unbind.Describe());
  if (unbind.status == 202) {
    const auto body = ParseJson(unbind.body);
    const std::string operation = StringMember(body, "operation").value_or("");
    CHECK(CloneHarness::State(t.AwaitOperation(bid, operation)) == "succeeded");
  }
  CHECK(t.ClonesOf(bid).empty());
}

TEST_SUITE("session end to end with the real tmate") {
  TEST_CASE("a closed tmate port fails the bind: could not reach 127.0.0.1:PORT (Connection refused)") {
    E2EOptions o;
    o.tmate_port = FreeLoopbackPort();
    o.bundle = TMATE_BUNDLE_PATH;
    SessionE2E e(o);
    CloneHarness& t = *e.harness;
    const std::string bid = CloneBindingId(80);
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    CHECK(CloneHarness::State(op) == "failed");
    const std::string description = CloneHarness::Description(op);
    CHECK_MESSAGE(description.find("could not reach the tmate server 127.0.0.1:" + std::to_string(o.tmate_port) +
                                   " (Connection refused)") != std::string::npos,
                  description, "\n", t.broker->LogTail(30));
    const std::string clone = OnlyContainerGuid(e);
    const auto container = t.fake.LocalContainer(clone);
    REQUIRE(container.has_value());
    CheckFailedCloneLeavesNothing(e, bid, clone, *container);
  }

  TEST_CASE("an unresolvable tmate host fails the bind at SESSION_START_TIMEOUT, naming the host") {
    E2EOptions o;
    o.tmate_port = 2222;
    o.host = "nonexistent.invalid";
    o.bundle = TMATE_BUNDLE_PATH;
    o.container_env = {{"SSH_ACCESS_FAIL_AFTER", "1000"}};  // so the start timeout is what reports
    o.broker_env = {{"SESSION_START_TIMEOUT", "4"}};
    SessionE2E e(o);
    CloneHarness& t = *e.harness;
    const std::string bid = CloneBindingId(81);
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    CHECK(CloneHarness::State(op) == "failed");
    const std::string description = CloneHarness::Description(op);
    CHECK_MESSAGE(description.find("could not look up the tmate server nonexistent.invalid:2222") != std::string::npos,
                  description, "\n", t.broker->LogTail(30));
    const std::string clone = OnlyContainerGuid(e);
    const auto container = t.fake.LocalContainer(clone);
    REQUIRE(container.has_value());
    CHECK(container->env.at("SSH_ACCESS_SESSION_START_TIMEOUT") == "4");
    CHECK(ReadFile(container->stdout_path).find("ssh-access: no session within 4s: reported to the broker") !=
          std::string::npos);
    CheckFailedCloneLeavesNothing(e, bid, clone, *container);
  }

  TEST_CASE("with a TMPDIR of 150 bytes tmate starts and reaches the closed port: the socket is not the error") {
    E2EOptions o;
    o.tmate_port = FreeLoopbackPort();
    o.bundle = TMATE_BUNDLE_PATH;
    o.tmpdir_bytes = 150;
    SessionE2E e(o);
    CloneHarness& t = *e.harness;
    const std::string bid = CloneBindingId(82);
    const auto op = t.BindAndWait(bid, t.demo.app_guid);
    CHECK(CloneHarness::State(op) == "failed");
    const std::string description = CloneHarness::Description(op);
    CHECK_MESSAGE(description.find("could not reach the tmate server 127.0.0.1:" + std::to_string(o.tmate_port) +
                                   " (Connection refused)") != std::string::npos,
                  description, "\n", t.broker->LogTail(30));
    CHECK(description.find("socket") == std::string::npos);
    const std::string clone = OnlyContainerGuid(e);
    const auto container = t.fake.LocalContainer(clone);
    REQUIRE(container.has_value());
    CHECK(container->env.at("TMPDIR").size() == 150);
    CheckFailedCloneLeavesNothing(e, bid, clone, *container);
  }
}

}  // namespace
}  // namespace broker::testing
