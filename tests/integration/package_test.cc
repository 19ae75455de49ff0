// The Cloud Foundry package (scripts/package, CMake target broker_package: BROKER_PACKAGE_DIR):
// the broker runs from it in a chroot that holds nothing but the package (at /home/vcap/app, where
// Cloud Foundry puts an app) and a static busybox, started as the manifest starts it (`./broker`),
// against the test PostgreSQL over loopback (the network namespace is the host's). It answers
// /healthz and serves the packaged catalog; the start script points it at the packaged tmate
// bundle; no libc or loader exists in the chroot outside the package.
//
// The chroot needs root or an unprivileged user namespace (`unshare -r`); without either the test
// FAILs and says what is missing (tests/support/chroot.h). Prerequisites: scripts/setup
// (busybox-static).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "broker/base/digest.h"
#include "tests/support/broker_process.h"
#include "tests/support/chroot.h"
#include "tests/support/http_client.h"
#include "tests/support/osb_fixtures.h"
#include "tests/support/test_database.h"

namespace broker::testing {
namespace {

using namespace sandbox;  // NOLINT: the chroot helpers (tests/support/chroot.h)

const fs::path kPackage = BROKER_PACKAGE_DIR;
const std::string kBuildIt = "build the broker_package target (scripts/package)";
constexpr const char* kAppDir = "home/vcap/app";  // where Cloud Foundry puts the app

// Every file under `root` whose name says it is a C library or a dynamic loader, relative to root.
std::vector<std::string> LibcFiles(const fs::path& root) {
  std::vector<std::string> found;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (name.starts_with("libc.so") || name.starts_with("ld-linux") || name.starts_with("ld-musl") ||
        name.starts_with("libc-")) {
      found.push_back(fs::relative(it->path(), root).string());
    }
  }
  return found;
}

TEST_SUITE("package") {
  TEST_CASE("the packaged broker serves /healthz and its catalog in a chroot holding only the package and busybox") {
    REQUIRE_MESSAGE(fs::exists(kPackage / "broker"), "no package at ", kPackage.string(), ": ", kBuildIt);
    const std::vector<std::string> chroot = RequireChroot("the Cloud Foundry package");
    TestDatabase db;
    BareRoot root;
    root.AddDirectory(kPackage, kAppDir, kBuildIt);
    // The PID namespace's own /proc (a sanitizer build of the broker reads /proc/self/maps).
    fs::create_directories(root.path() / "proc");

    // Nothing but busybox and the package: no libc or loader outside it, no /lib, /usr or /etc.
    CHECK(LibcFiles(root.path() / "bin").empty());
    for (const std::string& file : LibcFiles(root.path())) {
      CHECK_MESSAGE(file.starts_with(std::string(kAppDir) + "/lib/"), file, " is outside the package's lib/");
    }
    for (const char* dir : {"lib", "lib64", "usr", "etc"}) {
      CHECK_MESSAGE(!fs::exists(root.path() / dir), "/", dir, " exists in the chroot");
    }

    const int port = FreeLoopbackPort();
    const std::string password = RandomPassword();
    std::vector<std::string> env = {
        "PATH=/bin",
        "HOME=/home/vcap",
        "PORT=" + std::to_string(port),
        "DATABASE_URL=" + db.url(),
        "SECURITY_USER_NAME=broker",
        "SECURITY_USER_PASSWORD=" + password,
        "BROKER_ENCRYPTION_KEY=" + RandomEncryptionKey(),
        "LOG_LEVEL=info",
    };
    for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS"}) {  // scripts/test's sanitizer run
      if (const char* value = std::getenv(name)) env.push_back(std::string(name) + "=" + value);
    }

    // The broker runs until the HTTP checks are done (the thread below), then is SIGKILLed with its
    // whole PID namespace (unshare --kill-child) and reaped by Run().
    const std::string base_url = "http://127.0.0.1:" + std::to_string(port);
    Response health, catalog;
    std::atomic<bool> done{false};
    std::atomic<bool> broker_gone{false};  // set when Run() returns: no use waiting for health then
    std::thread client([&] {
      HttpClient http(base_url, "broker", password);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (std::chrono::steady_clock::now() < deadline && !broker_gone) {
        Request r;
        r.path = "/healthz";
        r.auth = Auth::None();
        r.timeout = std::chrono::seconds(2);
        health = http.Send(r);
        if (health.status == 200) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (health.status == 200) catalog = http.Get("/v2/catalog");
      done = true;
    });
    RunResult run = RunInChroot(InPidNamespace(chroot, root.path() / "proc"), root.path(),
                                std::string("cd /") + kAppDir + " && exec ./broker",
                                Options(std::chrono::seconds(40), {}, env, [&](const std::string&) { return done.load(); }));
    broker_gone = true;
    client.join();
    INFO("broker output:\n", run.output);

    CHECK(run.stopped);  // still serving when the checks were done
    CHECK(health.status == 200);
    CHECK(health.body.find("\"database\":\"ok\"") != std::string::npos);
    REQUIRE_MESSAGE(catalog.status == 200, catalog.Describe());
    auto served = ParseJson(catalog.body);
    auto packaged = ParseJson(ReadFile(kPackage / "catalog/catalog.json"));
    REQUIRE(!served.HasParseError());
    REQUIRE(!packaged.HasParseError());
    CHECK_MESSAGE(served == packaged, "served catalog differs from the packaged one: ", catalog.body);

    // The start script set the packaged catalog and tmate bundle (the broker's own default for the
    // bundle would look next to /proc/self/exe, which is the bundled loader).
    CHECK(run.output.find("catalog=/home/vcap/app/catalog/catalog.json") != std::string::npos);
    const std::string bundle_sha = base::Sha256Hex(ReadFile(kPackage / "assets/tmate-bundle.tar.gz"));
    CHECK(run.output.find("main.tmate_bundle path=\"/home/vcap/app/assets/tmate-bundle.tar.gz\" sha256=" +
                          bundle_sha) != std::string::npos);
    CHECK(ReadFile(kPackage / "assets/tmate-bundle.tar.gz.sha256") == bundle_sha + "  tmate-bundle.tar.gz\n");
  }

  TEST_CASE("the start script cds into the package and sets the packaged files unless they are set") {
    // Its launcher (bin/broker) swapped, in the chroot's copy, for one that prints what it got.
    REQUIRE_MESSAGE(fs::exists(kPackage / "broker"), "no package at ", kPackage.string(), ": ", kBuildIt);
    const std::vector<std::string> chroot = RequireChroot("the Cloud Foundry package");
    BareRoot root;
    root.AddDirectory(kPackage, kAppDir, kBuildIt);
    const fs::path launcher = root.path() / kAppDir / "bin/broker";
    WriteFile(launcher,
              "#!/bin/sh\n"
              "echo \"pwd=$PWD args=$*\"\n"
              "echo \"catalog=$BROKER_CATALOG_FILE\"\n"
              "echo \"migrations=$BROKER_MIGRATIONS_DIR\"\n"
              "echo \"bundle=$TMATE_BUNDLE_PATH\"\n");
    fs::permissions(launcher, fs::perms(0755));

    RunResult r = RunInChroot(chroot, root.path(), "cd / && home/vcap/app/broker a b");
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output ==
          "pwd=/home/vcap/app args=a b\n"
          "catalog=/home/vcap/app/catalog/catalog.json\n"
          "migrations=/home/vcap/app/migrations\n"
          "bundle=/home/vcap/app/assets/tmate-bundle.tar.gz\n");

    r = RunInChroot(chroot, root.path(),
                    "cd /home/vcap/app && BROKER_CATALOG_FILE=/c.json BROKER_MIGRATIONS_DIR=/m "
                    "TMATE_BUNDLE_PATH=/t.tgz ./broker");
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output == "pwd=/home/vcap/app args=\ncatalog=/c.json\nmigrations=/m\nbundle=/t.tgz\n");
  }

  TEST_CASE("the package holds the start script, the bundled broker, catalog, migrations, tmate bundle and manifest") {
    REQUIRE_MESSAGE(fs::exists(kPackage / "broker"), "no package at ", kPackage.string(), ": ", kBuildIt);
    for (const char* file : {"broker", "bin/broker", "libexec/broker", "lib/ld-linux-x86-64.so.2", "lib/libc.so.6",
                             "catalog/catalog.json", "assets/tmate-bundle.tar.gz", "manifest.yml"}) {
      CHECK_MESSAGE(fs::is_regular_file(kPackage / file), file, " missing from the package");
    }
    for (const auto& entry : fs::directory_iterator(std::string(BROKER_SOURCE_DIR) + "/migrations")) {
      CHECK(ReadFile(kPackage / "migrations" / entry.path().filename()) == ReadFile(entry.path()));
    }
    CHECK(ReadFile(kPackage / "catalog/catalog.json") == ReadFile(std::string(BROKER_SOURCE_DIR) + "/catalog/catalog.json"));
    CHECK(ReadFile(kPackage / "manifest.yml") == ReadFile(std::string(BROKER_SOURCE_DIR) + "/manifest.yml"));
    const std::string manifest = ReadFile(kPackage / "manifest.yml");
    CHECK(manifest.find("command: ./broker") != std::string::npos);
    CHECK(manifest.find("health-check-http-endpoint: /healthz") != std::string::npos);
    CHECK(manifest.find("binary_buildpack") != std::string::npos);
  }
}

}  // namespace
}  // namespace broker::testing
