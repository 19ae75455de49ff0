#include "tests/support/chroot.h"

#include <doctest/doctest.h>
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

namespace broker::testing::sandbox {

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

RunOptions Options(std::chrono::milliseconds timeout, fs::path cwd, std::optional<std::vector<std::string>> env,
                   std::function<bool(const std::string&)> until) {
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

RunResult Run(const std::vector<std::string>& argv, const RunOptions& options) {
  TempDir out_dir("run-output");
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

std::vector<std::string> RequireChroot(const std::string& what) {
  std::string why;
  std::vector<std::string> cmd = ChrootCommand(&why);
  if (cmd.empty()) FAIL("cannot test ", what, " in a chroot: ", why);
  return cmd;
}

std::vector<std::string> InPidNamespace(const std::vector<std::string>& chroot_cmd, const fs::path& proc_dir) {
  const std::string unshare = FindProgram("unshare");
  REQUIRE_MESSAGE(!unshare.empty(), "no unshare program (util-linux) for a PID namespace");
  std::vector<std::string> cmd = {unshare};
  if (chroot_cmd.front() != FindProgram("chroot")) cmd.push_back("-r");  // not root: user namespace too
  cmd.insert(cmd.end(), {"-p", "-f", "--kill-child"});
  if (!proc_dir.empty()) cmd.push_back("--mount-proc=" + proc_dir.string());
  cmd.push_back(FindProgram("chroot"));
  return cmd;
}

BareRoot::BareRoot() {
  REQUIRE_MESSAGE(fs::exists(kBusybox), "no ", kBusybox, ": install busybox-static (scripts/setup)");
  REQUIRE_MESSAGE(IsStaticElf(kBusybox), kBusybox,
                  " is not a static program: install busybox-static, not busybox (scripts/setup)");
  fs::create_directories(path() / "bin");
  fs::copy_file(kBusybox, path() / "bin/busybox");
  fs::permissions(path() / "bin/busybox", fs::perms(0755));
  fs::create_symlink("busybox", path() / "bin/sh");
}

void BareRoot::AddTarball(const std::string& tarball, const std::string& hint) {
  REQUIRE_MESSAGE(fs::exists(tarball), "no ", tarball, ": ", hint);
  RunResult tar = Run({"tar", "-xzf", tarball, "-C", path().string()});
  REQUIRE_MESSAGE(tar.exit_code == 0, "tar -xzf ", tarball, ": ", tar.output);
}

void BareRoot::AddDirectory(const fs::path& source, const fs::path& dest, const std::string& hint) {
  REQUIRE_MESSAGE(fs::is_directory(source), "no directory ", source.string(), ": ", hint);
  const fs::path target = path() / dest;
  fs::create_directories(target.parent_path());
  RunResult cp = Run({"cp", "-a", source.string(), target.string()});
  REQUIRE_MESSAGE(cp.exit_code == 0, "cp -a ", source.string(), " ", target.string(), ": ", cp.output);
}

RunResult RunInChroot(const std::vector<std::string>& chroot_cmd, const fs::path& root, const std::string& script,
                      RunOptions options) {
  std::vector<std::string> argv = chroot_cmd;
  argv.insert(argv.end(), {root.string(), "/bin/busybox", "sh", "-c", script});
  // Nothing from the test's environment: only what a bare system would have.
  if (!options.env) options.env = std::vector<std::string>{"PATH=/bin", "HOME=/"};
  return Run(argv, options);
}

}  // namespace broker::testing::sandbox
