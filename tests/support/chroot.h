// Running programs in a chroot that holds nothing but what a test puts there and a static busybox:
// proof that a bundle (scripts/lib/bundle.sh) needs nothing from the host's root file system.
// Used by tmate_bundle_test.cc (the tmate bundle) and package_test.cc (the Cloud Foundry package).
//
// The chroot needs root or an unprivileged user namespace (`unshare -r`); without either,
// RequireChroot() FAILs the test and says what is missing: these tests never pass silently.
// Prerequisites: busybox-static (scripts/setup). Helpers report failures with doctest assertions,
// so call them from the test's own thread.
#ifndef BROKER_TESTS_SUPPORT_CHROOT_H_
#define BROKER_TESTS_SUPPORT_CHROOT_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace broker::testing::sandbox {

namespace fs = std::filesystem;

inline constexpr const char* kBusybox = "/bin/busybox";  // Debian busybox-static

std::string ReadFile(const fs::path& path);
void WriteFile(const fs::path& path, const std::string& text);  // REQUIREs success

struct RunResult {
  int exit_code = -1;    // -1 when killed by a signal
  bool stopped = false;  // killed by us: `until` held, or the timeout passed
  std::string output;    // stdout + stderr
};

struct RunOptions {
  fs::path cwd;                                   // empty: the test's own
  std::optional<std::vector<std::string>> env;    // nullopt: the test's own
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  std::function<bool(const std::string&)> until;  // kill (SIGKILL) once the output satisfies it
};

// RunOptions without designated initializers (-Wmissing-field-initializers).
RunOptions Options(std::chrono::milliseconds timeout, fs::path cwd = {},
                   std::optional<std::vector<std::string>> env = std::nullopt,
                   std::function<bool(const std::string&)> until = nullptr);

std::string Describe(const std::vector<std::string>& argv);  // argv joined by spaces

// Runs argv (PATH lookup) with stdout and stderr in one file, until it exits, `until` holds or the
// timeout passes (then SIGKILL).
RunResult Run(const std::vector<std::string>& argv, const RunOptions& options = {});

// An executable called `name` along PATH, then in the sbin directories (chroot lives in /usr/sbin,
// which a non-root PATH often lacks). Empty when there is none.
std::string FindProgram(const std::string& name);

// True when the ELF file at `path` names no dynamic loader (PT_INTERP): a static program.
bool IsStaticElf(const fs::path& path);

// How to enter a chroot as this user: {"chroot"} as root, {"unshare", "-r", "chroot"} otherwise.
// Empty, with `why` set, when neither works here.
std::vector<std::string> ChrootCommand(std::string* why);
// ChrootCommand(), or FAIL naming what is missing; `what` says what the test wanted to check.
std::vector<std::string> RequireChroot(const std::string& what);
// `chroot_cmd` (from RequireChroot) run in a new PID namespace (unshare -p -f --kill-child, plus -r
// when chroot_cmd has it): killing the unshare ends everything started inside, daemons included.
// With `proc_dir` (a directory inside the chroot), a proc file system of that namespace is mounted
// there (--mount-proc, in a mount namespace of its own).
std::vector<std::string> InPidNamespace(const std::vector<std::string>& chroot_cmd, const fs::path& proc_dir = {});

// A root file system holding a static busybox (/bin/busybox, plus /bin/sh -> busybox, the link
// every busybox system has) and whatever the test adds.
class BareRoot {
 public:
  BareRoot();
  const fs::path& path() const { return dir_.path(); }
  // Extracts `tarball` (tar -xzf) into the root. `hint` says how to make a missing one.
  void AddTarball(const std::string& tarball, const std::string& hint);
  // Copies the directory `source` (cp -a) to `dest` inside the root (relative, e.g. "home/vcap/app").
  void AddDirectory(const fs::path& source, const fs::path& dest, const std::string& hint);

 private:
  TempDir dir_{"bare-root"};
};

// Runs `script` with busybox sh inside the chroot at `root`, through `chroot_cmd` (e.g. from
// RequireChroot or InPidNamespace). The environment is options.env, else only PATH=/bin and HOME=/.
RunResult RunInChroot(const std::vector<std::string>& chroot_cmd, const fs::path& root, const std::string& script,
                      RunOptions options = {});

}  // namespace broker::testing::sandbox

#endif  // BROKER_TESTS_SUPPORT_CHROOT_H_
