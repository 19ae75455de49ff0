// The self-contained tmate bundle (scripts/build-tmate-bundle, scripts/lib/bundle.sh): the tarball
// the build makes (TMATE_BUNDLE_PATH) runs inside a chroot that holds nothing but the bundle and a
// static busybox, its .sha256 matches it, the script is reproducible, and the launcher finds the
// bundle from another directory, through symlinks and by a bare name.
//
// The chroot needs root or an unprivileged user namespace (`unshare -r`); without either the tests
// FAIL and say what is missing, they never pass silently. Prerequisites: scripts/setup (tmate,
// busybox-static).
#include <doctest/doctest.h>
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "broker/base/digest.h"
#include "tests/support/broker_process.h"

namespace broker::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kBusybox = "/bin/busybox";  // Debian busybox-static

// ---- files and processes --------------------------------------------------------------------------

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

// A fresh private directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "tmate-bundle-test-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal
  bool stopped = false;  // killed by us: `until` held, or the timeout passed
  std::string output;  // stdout + stderr
};

struct RunOptions {
  fs::path cwd;                                       // empty: the test's own
  std::optional<std::vector<std::string>> env;        // nullopt: the test's own
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  std::function<bool(const std::string&)> until;      // kill (SIGKILL) once the output satisfies it
};

// RunOptions without designated initializers (-Wmissing-field-initializers).
RunOptions Options(std::chrono::milliseconds timeout, fs::path cwd = {},
                   std::optional<std::vector<std::string>> env = std::nullopt,
                   std::function<bool(const std::string&)> until = nullptr) {
  RunOptions o;
  o.timeout = timeout;
  o.cwd = std::move(cwd);
  o.env = std::move(env);
  o.until = std::move(until);
  return o;
}

std::string Describe(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Runs argv (PATH lookup) with stdout and stderr in one file, until it exits, `until` holds or the
// timeout passes (then SIGKILL).
RunResult Run(const std::vector<std::string>& argv, const RunOptions& options = {}) {
  TempDir out_dir;
  const fs::path out_path = out_dir.path() / "output";
  int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  if (options.env) {
    for (const auto& e : *options.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) _exit(126);
    if (options.env) {
      ::execvpe(args[0], args.data(), envp.data());
    } else {
      ::execvp(args[0], args.data());
    }
    const char* err = std::strerror(errno);  // async-signal-safe enough for a failing child
    (void)!::write(STDERR_FILENO, "exec failed: ", 13);
    (void)!::write(STDERR_FILENO, err, std::strlen(err));
    _exit(127);
  }
  ::close(fd);
  RunResult result;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    bool stop = std::chrono::steady_clock::now() >= deadline;
    if (!stop && options.until) stop = options.until(ReadFile(out_path));
    if (stop) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      result.stopped = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.output = ReadFile(out_path);
  return result;
}

// An executable called `name` along PATH, then in the sbin directories (chroot lives in /usr/sbin,
// which a non-root PATH often lacks). Empty when there is none.
std::string FindProgram(const std::string& name) {
  std::string path = getenv("PATH") != nullptr ? getenv("PATH") : "";
  path += ":/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin";
  std::istringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    fs::path candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

// True when the ELF file at `path` names no dynamic loader (PT_INTERP): a static program.
bool IsStaticElf(const fs::path& path) {
  const std::string bytes = ReadFile(path);
  if (bytes.size() < sizeof(Elf64_Ehdr) || bytes.compare(0, SELFMAG, ELFMAG) != 0 ||
      bytes[EI_CLASS] != ELFCLASS64) {
    return false;
  }
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes.data(), sizeof eh);
  for (int i = 0; i < eh.e_phnum; ++i) {
    const size_t off = eh.e_phoff + static_cast<size_t>(i) * eh.e_phentsize;
    if (off + sizeof(Elf64_Phdr) > bytes.size()) return false;
    Elf64_Phdr ph;
    std::memcpy(&ph, bytes.data() + off, sizeof ph);
    if (ph.p_type == PT_INTERP) return false;
  }
  return true;
}

// ---- the chroot -----------------------------------------------------------------------------------

// How to enter a chroot as this user: {"chroot"} as root, {"unshare", "-r", "chroot"} otherwise.
// Empty, with `why` set, when neither works here.
std::vector<std::string> ChrootCommand(std::string* why) {
  const std::string chroot = FindProgram("chroot");
  if (chroot.empty()) {
    *why = "no chroot program (coreutils)";
    return {};
  }
  if (::geteuid() == 0) return {chroot};
  const std::string unshare = FindProgram("unshare");
  if (unshare.empty()) {
    *why = "not root, and no unshare program (util-linux) for an unprivileged chroot";
    return {};
  }
  RunResult probe = Run({unshare, "-r", "true"}, Options(std::chrono::seconds(10)));
  if (probe.exit_code != 0) {
    *why = "not root, and `unshare -r` (an unprivileged user namespace) is refused here: " + probe.output;
    return {};
  }
  return {unshare, "-r", chroot};
}

// A root file system holding only the tmate bundle (/tmate) and a static busybox (/bin/busybox,
// plus /bin/sh -> busybox, the link every busybox system has: the launcher's #!/bin/sh).
class BareRoot {
 public:
  explicit BareRoot(const std::string& bundle) {
    REQUIRE_MESSAGE(fs::exists(bundle), "no bundle at ", bundle, ": build the tmate_bundle target");
    REQUIRE_MESSAGE(fs::exists(kBusybox), "no ", kBusybox, ": install busybox-static (scripts/setup)");
    REQUIRE_MESSAGE(IsStaticElf(kBusybox), kBusybox,
                    " is not a static program: install busybox-static, not busybox (scripts/setup)");
    RunResult tar = Run({"tar", "-xzf", bundle, "-C", dir_.path().string()});
    REQUIRE_MESSAGE(tar.exit_code == 0, "tar -xzf ", bundle, ": ", tar.output);
    fs::create_directories(dir_.path() / "bin");
    fs::copy_file(kBusybox, dir_.path() / "bin/busybox");
    fs::permissions(dir_.path() / "bin/busybox", fs::perms(0755));
    fs::create_symlink("busybox", dir_.path() / "bin/sh");
  }
  const fs::path& path() const { return dir_.path(); }

 private:
  TempDir dir_;
};

// Runs `script` with busybox sh inside the chroot at `root`, through `chroot_cmd` (plus `prefix`
// before it, e.g. an unshare for a PID namespace).
RunResult RunInChroot(const std::vector<std::string>& chroot_cmd, const fs::path& root, const std::string& script,
                      RunOptions options = {}) {
  std::vector<std::string> argv = chroot_cmd;
  argv.insert(argv.end(), {root.string(), "/bin/busybox", "sh", "-c", script});
  // Nothing from the test's environment: only what a bare system would have.
  if (!options.env) options.env = std::vector<std::string>{"PATH=/bin", "HOME=/"};
  return Run(argv, options);
}

std::vector<std::string> RequireChroot() {
  std::string why;
  std::vector<std::string> cmd = ChrootCommand(&why);
  if (cmd.empty()) FAIL("cannot test the tmate bundle in a chroot: ", why);
  return cmd;
}

std::string Sha256OfFile(const fs::path& path) { return base::Sha256Hex(ReadFile(path)); }

const std::string kBundle = TMATE_BUNDLE_PATH;
const std::string kScript = std::string(BROKER_SOURCE_DIR) + "/scripts/build-tmate-bundle";

TEST_SUITE("tmate bundle") {
  TEST_CASE("the bundled tmate runs -V in a chroot that holds only the bundle and a static busybox") {
    const std::vector<std::string> chroot = RequireChroot();
    BareRoot root(kBundle);

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
    const std::vector<std::string> chroot = RequireChroot();
    BareRoot root(kBundle);
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
    const std::vector<std::string> chroot = RequireChroot();
    const std::string unshare = FindProgram("unshare");
    REQUIRE_MESSAGE(!unshare.empty(), "no unshare program (util-linux) for a PID namespace");
    BareRoot root(kBundle);
    // What every real root file system has and tmate needs: /tmp (its socket) and resolv.conf
    // (without it libevent's resolver refuses to start: "Cannot initialize the DNS lookup service").
    fs::create_directories(root.path() / "tmp");
    fs::permissions(root.path() / "tmp", fs::perms(01777));
    fs::create_directories(root.path() / "etc");
    WriteFile(root.path() / "etc/resolv.conf", "nameserver 127.0.0.1\n");
    const int port = FreeLoopbackPort();
    WriteFile(root.path() / "tmp/tmate.conf",
              "set -g tmate-server-host 127.0.0.1\nset -g tmate-server-port " + std::to_string(port) + "\n");

    std::vector<std::string> cmd = {unshare};
    if (chroot.front() != FindProgram("chroot")) cmd.push_back("-r");  // not root: user namespace too
    cmd.insert(cmd.end(), {"-p", "-f", "--kill-child", FindProgram("chroot")});
    RunResult r = RunInChroot(
        cmd, root.path(),
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
