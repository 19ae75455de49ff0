#include "tests/support/broker_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"

#ifndef BROKER_BINARY_PATH
#error "BROKER_BINARY_PATH must name the broker executable"
#endif
#ifndef BROKER_SOURCE_DIR
#error "BROKER_SOURCE_DIR must name the source tree (the broker's working directory)"
#endif

namespace broker::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kTempDirPrefix[] = "broker-it";  // the folder holding broker.log

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;  // ignore the final newline
  for (size_t n = 0; n < lines; ++n) {
    size_t nl = pos == 0 ? std::string::npos : text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return text.substr(pos + 1);
}

// fork + execve of the broker with `env`, output appended to `log_path`. All argv/envp memory is
// prepared before fork so the child only calls async-signal-safe functions.
pid_t Spawn(const Env& env, const std::string& log_path) {
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string binary = BROKER_BINARY_PATH;
  std::vector<char*> argv = {binary.data(), nullptr};
  const char* cwd = BROKER_SOURCE_DIR;

  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("open " + log_path + ": " + std::strerror(errno));
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    ::close(null_fd);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::close_range(3, ~0U, 0);
    if (::chdir(cwd) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  return pid;
}

// Waits for `pid` up to `timeout`. True (and *status set) when it exited.
bool WaitPid(pid_t pid, std::chrono::milliseconds timeout, int* status) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true;  // not our child any more
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

}  // namespace

std::string RandomPassword() {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::uniform_int_distribution<int> pick(0, sizeof(kChars) - 2);
  std::string s;
  for (int i = 0; i < 24; ++i) s += kChars[pick(Rng())];
  return s;
}

std::string RandomEncryptionKey() {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string raw;
  for (int i = 0; i < 32; ++i) raw += static_cast<char>(byte(Rng()));
  return Base64Encode(raw);
}

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

Env MakeBrokerEnv(const std::string& database_url, const EnvOverrides& overrides) {
  Env env;
  for (const char* name : {"PATH", "HOME", "LANG", "TZ"}) {
    if (const char* v = std::getenv(name)) env[name] = v;
  }
  env["DATABASE_URL"] = database_url;
  env["SECURITY_USER_NAME"] = "broker";
  env["SECURITY_USER_PASSWORD"] = RandomPassword();
  env["BROKER_ENCRYPTION_KEY"] = RandomEncryptionKey();
  env["LOG_LEVEL"] = "debug";
  env["PORT"] = std::to_string(FreeLoopbackPort());
  for (const auto& [k, v] : overrides) {
    if (v) env[k] = *v;
    else env.erase(k);
  }
  return env;
}

BrokerProcess::BrokerProcess(const std::string& database_url, const EnvOverrides& overrides,
                             std::chrono::milliseconds startup_timeout)
    : env_(MakeBrokerEnv(database_url, overrides)), dir_(kTempDirPrefix) {
  auto it = env_.find("PORT");
  if (it == env_.end()) throw std::runtime_error("BrokerProcess needs a PORT to reach the broker");
  port_ = std::atoi(it->second.c_str());
  if (std::getenv("BROKER_TEST_KEEP_LOGS") != nullptr) dir_.Keep();
  log_path_ = (dir_.path() / "broker.log").string();
  Start(startup_timeout);
}

BrokerProcess::~BrokerProcess() { Kill(SIGKILL); }  // then dir_ goes, unless kept

std::string BrokerProcess::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::string BrokerProcess::username() const {
  auto it = env_.find("SECURITY_USER_NAME");
  return it == env_.end() ? "" : it->second;
}
std::string BrokerProcess::password() const {
  auto it = env_.find("SECURITY_USER_PASSWORD");
  return it == env_.end() ? "" : it->second;
}
std::string BrokerProcess::encryption_key() const {
  auto it = env_.find("BROKER_ENCRYPTION_KEY");
  return it == env_.end() ? "" : it->second;
}

bool BrokerProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) last_wait_status_ = status;
  pid_ = -1;
  return false;
}

std::string BrokerProcess::Log() const { return ReadFile(log_path_); }

std::string BrokerProcess::LogTail(size_t lines) const { return Tail(Log(), lines); }

void BrokerProcess::Start(std::chrono::milliseconds startup_timeout) {
  pid_ = Spawn(env_, log_path_);
  HttpClient client(base_url(), "", "");
  Request health;
  health.method = "GET";
  health.path = "/healthz";
  health.auth = Auth::None();
  health.api_version = std::nullopt;
  health.timeout = std::chrono::milliseconds(2000);
  auto deadline = Clock::now() + startup_timeout;
  long last_status = 0;
  while (Clock::now() < deadline) {
    if (!running()) {
      throw std::runtime_error("broker exited during startup (" +
                               DescribeWaitStatus(last_wait_status_) + "); log tail:\n" +
                               LogTail());
    }
    Response r = client.Send(health);
    last_status = r.status;
    if (r.status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(r.status == 0 ? 10 : 50));
  }
  Kill(SIGKILL);
  throw std::runtime_error("broker not healthy after " +
                           std::to_string(startup_timeout.count()) +
                           " ms (last /healthz status " + std::to_string(last_status) +
                           "); log tail:\n" + LogTail());
}

bool BrokerProcess::WaitExit(std::chrono::milliseconds timeout, int* wait_status) {
  if (pid_ <= 0) return true;
  if (WaitPid(pid_, timeout, wait_status)) {
    last_wait_status_ = *wait_status;
    pid_ = -1;
    return true;
  }
  return false;
}

void BrokerProcess::Kill(int signal) {
  if (!running()) return;
  ::kill(pid_, signal);
  int status = 0;
  if (!WaitExit(std::chrono::seconds(10), &status)) {
    ::kill(pid_, SIGKILL);
    WaitExit(std::chrono::seconds(10), &status);
  }
}

int BrokerProcess::Stop(std::chrono::milliseconds timeout) {
  if (!running()) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  if (!WaitExit(timeout, &status)) {
    ::kill(pid_, SIGKILL);
    WaitExit(std::chrono::seconds(10), &status);
  }
  return status;
}

void BrokerProcess::Restart(std::chrono::milliseconds startup_timeout) {
  Kill(SIGKILL);
  Start(startup_timeout);
}

ExitResult RunBrokerUntilExit(const Env& env, std::chrono::milliseconds timeout) {
  ExitResult result;
  const TempDir dir(kTempDirPrefix);
  const std::string log_path = (dir.path() / "broker.log").string();
  pid_t pid = Spawn(env, log_path);
  int status = 0;
  if (!WaitPid(pid, timeout, &status)) {
    result.timed_out = true;
    ::kill(pid, SIGKILL);
    WaitPid(pid, std::chrono::seconds(10), &status);
  }
  if (WIFEXITED(status)) {
    result.exited = true;
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signaled = true;
    result.signal = WTERMSIG(status);
  }
  result.output = ReadFile(log_path);
  return result;
}

}  // namespace broker::testing
