// The self-contained tmate bundle (scripts/build-tmate-bundle, scripts/lib/bundle.sh): the tarball
// the build makes (TMATE_BUNDLE_PATH) runs inside a chroot that holds nothing but the bundle and a
// static busybox, its .sha256 matches it, the script is reproducible, and the launcher finds the
// bundle from another directory, through symlinks and by a bare name.
//
// The chroot needs root or an unprivileged user namespace (`unshare -r`); without either the tests
// FAIL and say what is missing, they never pass silently. Prerequisites: scripts/setup (tmate,
// busybox-static).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <string>
#include <vector>

#include "broker/base/digest.h"
#include "tests/support/broker_process.h"
#include "tests/support/chroot.h"
#include "tests/support/temp_dir.h"

namespace broker::testing {
namespace {

using namespace sandbox;  // NOLINT: the chroot helpers (tests/support/chroot.h)

std::string Sha256OfFile(const fs::path& path) { return base::Sha256Hex(ReadFile(path)); }

const std::string kBundle = TMATE_BUNDLE_PATH;
const std::string kBuildIt = "build the tmate_bundle target";
const std::string kScript = std::string(BROKER_SOURCE_DIR) + "/scripts/build-tmate-bundle";

TEST_SUITE("tmate bundle") {
  TEST_CASE("the bundled tmate runs -V in a chroot that holds only the bundle and a static busybox") {
    const std::vector<std::string> chroot = RequireChroot("the tmate bundle");
    BareRoot root;
    root.AddTarball(kBundle, kBuildIt);

    // Nothing but the bundle and busybox: no libc, no loader, no /lib, /usr or /etc.
    std::vector<std::string> top;
    for (const auto& entry : fs::directory_iterator(root.path())) top.push_back(entry.path().filename());
    std::sort(top.begin(), top.end());
    CHECK(top == std::vector<std::string>{"bin", "tmate"});
    for (const char* dir : {"/lib", "/lib64", "/usr", "/etc"}) {
      RunResult ls = RunInChroot(chroot, root.path(), std::string("/bin/busybox ls ") + dir);
      CHECK_MESSAGE(ls.exit_code != 0, dir, " exists in the chroot: ", ls.output);
    }

    RunResult v = RunInChroot(chroot, root.path(), "/tmate/bin/tmate -V");
    INFO("output: ", v.output);
    CHECK(v.exit_code == 0);
    CHECK(v.output == "tmate 2.4.0\n");
  }

  TEST_CASE("the launcher finds the bundle from any directory and by a bare name, in the chroot") {
    const std::vector<std::string> chroot = RequireChroot("the tmate bundle");
    BareRoot root;
    root.AddTarball(kBundle, kBuildIt);
    for (const std::string script : {
             "cd /tmate/bin && ./tmate -V",
             "cd / && tmate/bin/tmate -V",
             "cd /tmate && sh bin/tmate -V",
             "cd /bin && ../tmate/bin/tmate -V",
             "PATH=/bin:/tmate/bin && tmate -V",
             "cd /tmate/bin && sh tmate -V",
         }) {
      RunResult v = RunInChroot(chroot, root.path(), script);
      INFO(script, ": ", v.output);
      CHECK(v.exit_code == 0);
      CHECK(v.output.find("2.4.0") != std::string::npos);
    }
  }

  TEST_CASE("the bundled tmate starts a session in the chroot and tries to reach its server") {
    // Beyond -V: the server, libevent's DNS setup and the ssh connection attempt, against a
    // loopback port nobody listens on. tmate keeps reconnecting, and its server daemonizes, so it
    // runs in its own PID namespace (unshare -p --kill-child): killing unshare ends all of it.
    const std::vector<std::string> chroot = RequireChroot("the tmate bundle");
    BareRoot root;
    root.AddTarball(kBundle, kBuildIt);
    // What every real root file system has and tmate needs: /tmp (its socket) and resolv.conf
    // (without it libevent's resolver refuses to start: "Cannot initialize the DNS lookup service").
    fs::create_directories(root.path() / "tmp");
    fs::permissions(root.path() / "tmp", fs::perms(01777));
    fs::create_directories(root.path() / "etc");
    WriteFile(root.path() / "etc/resolv.conf", "nameserver 127.0.0.1\n");
    const int port = FreeLoopbackPort();
    WriteFile(root.path() / "tmp/tmate.conf",
              "set -g tmate-server-host 127.0.0.1\nset -g tmate-server-port " + std::to_string(port) + "\n");

    RunResult r = RunInChroot(
        InPidNamespace(chroot), root.path(),
        "cd /tmp && SHELL=/bin/sh LC_ALL=C.UTF-8 exec /tmate/bin/tmate -F -f /tmp/tmate.conf -S /tmp/tmate.sock",
        Options(std::chrono::seconds(20), {}, std::nullopt,
                [](const std::string& out) { return out.find("Error connecting") != std::string::npos; }));
    INFO("output: ", r.output);
    CHECK(r.output.find("To connect to the session locally, run: tmate -S /tmp/tmate.sock attach") !=
          std::string::npos);
    CHECK(r.output.find("Connecting to 127.0.0.1...") != std::string::npos);
    CHECK(r.output.find("Error connecting: Connection refused") != std::string::npos);
    CHECK(r.output.find("fatal") == std::string::npos);
  }

  TEST_CASE("the .sha256 file matches the tarball") {
    const std::string sums = ReadFile(kBundle + ".sha256");
    CHECK(sums == Sha256OfFile(kBundle) + "  " + fs::path(kBundle).filename().string() + "\n");
    // The sha256sum tool agrees on the format.
    RunResult check = Run({"sha256sum", "--check", "--strict", fs::path(kBundle).filename().string() + ".sha256"},
                          Options(std::chrono::seconds(30), fs::path(kBundle).parent_path()));
    INFO(check.output);
    CHECK(check.exit_code == 0);
  }

  TEST_CASE("the script is reproducible: two runs give the same bytes as the build's bundle") {
    TempDir out;
    std::string sha[2];
    for (int i = 0; i < 2; ++i) {
      const fs::path file = out.path() / ("run" + std::to_string(i) + ".tar.gz");
      RunResult r = Run({kScript, "--tmate", TMATE_BINARY_PATH, "--output", file.string()},
                        Options(std::chrono::seconds(120)));
      INFO(r.output);
      REQUIRE(r.exit_code == 0);
      CHECK(r.output.find(file.string()) != std::string::npos);  // it prints the path ...
      sha[i] = Sha256OfFile(file);
      CHECK(r.output.find(sha[i]) != std::string::npos);  // ... and the sha256
    }
    CHECK(sha[0] == sha[1]);
    CHECK(sha[0] == Sha256OfFile(kBundle));
  }

  TEST_CASE("the inputs stamp lists every shared library and changes only when one of the files does") {
    // The build's stamp (cmake/tmate_bundle.cmake) names each library the bundle holds.
    const std::string build_stamp = ReadFile(fs::path(kBundle).parent_path() / "tmate-bundle.inputs");
    for (const char* lib : {"/libssh.so", "/libevent", "/libc.so.6", "/ld-linux"}) {
      CHECK_MESSAGE(build_stamp.find(lib) != std::string::npos, lib, " is not among the inputs:\n", build_stamp);
    }
    CHECK(build_stamp.find("/scripts/build-tmate-bundle\n") != std::string::npos);

    // An `apt-get upgrade` stand-in: libssh resolved (LD_LIBRARY_PATH) to a copy we then change.
    TempDir dir;
    const fs::path libs = dir.path() / "lib";
    fs::create_directories(libs);
    fs::copy_file(fs::canonical("/lib/x86_64-linux-gnu/libssh.so.4"), libs / "libssh.so.4");
    const fs::path stamp = dir.path() / "inputs";
    const std::vector<std::string> env = {"PATH=/usr/bin:/bin", "LD_LIBRARY_PATH=" + libs.string()};
    auto run = [&] {
      RunResult r = Run({kScript, "--tmate", TMATE_BINARY_PATH, "--inputs-stamp", stamp.string()},
                        Options(std::chrono::seconds(60), {}, env));
      INFO(r.output);
      REQUIRE(r.exit_code == 0);
    };
    run();
    const std::string first = ReadFile(stamp);
    CHECK(first.find((libs / "libssh.so.4").string()) != std::string::npos);
    const auto mtime = fs::last_write_time(stamp);

    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // so a rewrite would show in the mtime
    run();
    CHECK(ReadFile(stamp) == first);
    CHECK(fs::last_write_time(stamp) == mtime);  // unchanged inputs: not touched, nothing rebuilt

    {
      std::ofstream lib(libs / "libssh.so.4", std::ios::app | std::ios::binary);
      lib << '\0';  // the upgraded library
    }
    run();
    CHECK(ReadFile(stamp) != first);
    CHECK(fs::last_write_time(stamp) != mtime);
  }

  TEST_CASE("the script refuses a missing tmate and says how to install it") {
    TempDir out;
    RunResult r = Run({kScript, "--tmate", (out.path() / "no-tmate").string(), "--output",
                       (out.path() / "x.tar.gz").string()});
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("install tmate: scripts/setup") != std::string::npos);
    CHECK_FALSE(fs::exists(out.path() / "x.tar.gz"));
  }

  TEST_CASE("the launcher works on the host from another directory and through symlinks") {
    TempDir dir;
    RunResult tar = Run({"tar", "-xzf", kBundle, "-C", dir.path().string()});
    REQUIRE(tar.exit_code == 0);
    const fs::path launcher = dir.path() / "tmate/bin/tmate";
    fs::create_directories(dir.path() / "links");
    fs::create_symlink(launcher, dir.path() / "links/tmate");         // to the launcher file
    fs::create_symlink(dir.path() / "tmate", dir.path() / "links/t");  // to the bundle directory
    fs::create_symlink(launcher, dir.path() / "links/tmb");  // another name: proves which tmate ran
    const std::vector<std::string> bare_env = {"PATH=" + (dir.path() / "links").string() + ":/usr/bin:/bin"};
    struct Case {
      std::vector<std::string> argv;
      fs::path cwd;
      std::string expected = "tmate 2.4.0\n";
    };
    for (const Case& c : std::vector<Case>{
             {{launcher.string(), "-V"}, "/"},
             {{"./tmate", "-V"}, dir.path() / "tmate/bin"},
             {{"tmate/bin/tmate", "-V"}, dir.path()},
             {{(dir.path() / "links/tmate").string(), "-V"}, "/"},
             {{"./tmate", "-V"}, dir.path() / "links"},
             {{(dir.path() / "links/t/bin/tmate").string(), "-V"}, "/"},
             // A bare name found along PATH (by the shell, which passes the launcher its full path).
             {{"/bin/sh", "-c", "tmb -V"}, "/", "tmb 2.4.0\n"},
         }) {
      RunResult v = Run(c.argv, Options(std::chrono::seconds(30), c.cwd, bare_env));
      INFO(Describe(c.argv), " in ", c.cwd.string(), ": ", v.output);
      CHECK(v.exit_code == 0);
      CHECK(v.output == c.expected);
    }
  }
}

}  // namespace
}  // namespace broker::testing
