// edge_bench: what hostile header traffic costs the broker (bench/edge/README.md). Measures, on
// 127.0.0.1, against the real broker binary:
//   1. the broker's CPU per 1 MB header line (answered 431), against the ceiling of this
//      machine's own cost of reading 1 MB from a loopback socket in 4 KiB reads (what any server
//      pays to drain it; the broker drains what follows a refusal, so it cannot do better);
//   2. a normal client's median GET /healthz latency while 16 clients send 1 MB headers in a
//      loop, against the same client's median with nobody else on the machine's broker.
// Prints a table and writes it to bench/edge/results/<UTC timestamp>.txt. Exit 1 when a step fails;
// a missed goal is reported only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/broker_process.h"

namespace {

using broker::testing::BrokerProcess;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kHeaderBytes = 1024 * 1024;

[[noreturn]] void Fail(const std::string& what) {
  std::cerr << "edge_bench: FAILED: " << what << "\n";
  std::exit(1);
}

int IntEnv(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// The CPU time of all of `pid`'s threads, in ns (schedstat).
double CpuNs(pid_t pid) {
  double total = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "schedstat");
    double ns = 0;
    if (in >> ns) total += ns;
  }
  return total;
}

double ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Fail("socket");
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Fail("connect");
  return fd;
}

bool SendAll(int fd, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

// One abusive request: a 1 MB header line; true when it was answered 431.
bool HugeHeader(int port, const std::string& request) {
  const int fd = Connect(port);
  SendAll(fd, request);
  char head[13] = {};
  const bool refused = ::recv(fd, head, 12, MSG_WAITALL) == 12 && std::string(head + 9, 3) == "431";
  ::close(fd);
  return refused;
}

// GET /healthz on a persistent connection; the answer's latency in ms.
double Health(int fd) {
  static const std::string request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  const auto start = Clock::now();
  if (!SendAll(fd, request)) Fail("sending GET /healthz");
  std::string got;
  char buf[4096];
  while (got.find("\r\n\r\n") == std::string::npos || got.size() < got.find("\r\n\r\n") + 4 + 2) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) Fail("reading the /healthz answer");
    got.append(buf, static_cast<std::size_t>(n));
    if (got.find("\r\n\r\n") != std::string::npos && got.back() == '}') break;
  }
  if (got.rfind("HTTP/1.1 200", 0) != 0) Fail("GET /healthz answered " + got.substr(0, 40));
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::vector<double> Latencies(int port, int n) {
  const int fd = Connect(port);
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(Health(fd));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::close(fd);
  return out;
}

// The ceiling: this process reading 1 MB from a loopback socket in 4 KiB reads, CPU per MB.
double SinkCpuMsPerMb(int rounds) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 16) != 0) {
    Fail("sink listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  std::atomic<double> cpu_ns{0};
  std::thread sink([&] {
    for (int r = 0; r < rounds; ++r) {
      const int fd = ::accept(listener, nullptr, nullptr);
      const double start = ThreadCpuNs();
      char buf[4096];
      while (::recv(fd, buf, sizeof buf, 0) > 0) {
      }
      cpu_ns.store(cpu_ns.load() + ThreadCpuNs() - start);
      ::close(fd);
    }
  });
  const std::string payload(kHeaderBytes, 'p');
  for (int r = 0; r < rounds; ++r) {
    const int fd = Connect(port);
    SendAll(fd, payload);
    ::close(fd);
  }
  sink.join();
  ::close(listener);
  return cpu_ns.load() / rounds / 1e6;
}

std::string UtcStamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string Row(const std::string& what, double value, const std::string& unit, const std::string& against) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-52s %10.3f %-4s %s", what.c_str(), value, unit.c_str(), against.c_str());
  return buf;
}

std::string Goal(double value, double goal) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "= %.2f of the %.0f ms goal  %s", value / goal, goal, value < goal ? "ok" : "MISSED");
  return buf;
}

int Run() {
  const char* db = std::getenv("BENCH_DATABASE_URL");
  if (db == nullptr) Fail("BENCH_DATABASE_URL is not set");
  const int rounds = IntEnv("BENCH_ROUNDS", 32);
  const int abusers = IntEnv("BENCH_ABUSIVE_CLIENTS", 16);
  const int samples = IntEnv("BENCH_SAMPLES", 100);
  std::ifstream loadavg("/proc/loadavg");
  std::string load;
  std::getline(loadavg, load);

  std::cerr << "edge_bench: ceiling: reading " << rounds << " x 1 MB from loopback\n";
  const double sink_ms = SinkCpuMsPerMb(rounds);

  BrokerProcess broker(db, {{"LOG_LEVEL", "info"}}, std::chrono::seconds(60));
  const std::string huge =
      "GET /v2/catalog HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + std::string(kHeaderBytes, 'p') + "\r\n\r\n";
  if (!HugeHeader(broker.port(), huge)) Fail("a 1 MB header was not answered 431");
  std::cerr << "edge_bench: " << rounds << " sequential 1 MB headers\n";
  const double cpu_before = CpuNs(broker.pid());
  for (int r = 0; r < rounds; ++r) {
    if (!HugeHeader(broker.port(), huge)) Fail("a 1 MB header was not answered 431");
  }
  const double broker_ms = (CpuNs(broker.pid()) - cpu_before) / rounds / 1e6;

  std::cerr << "edge_bench: " << samples << " GET /healthz alone, then with " << abusers << " abusive clients\n";
  const double quiet = Median(Latencies(broker.port(), samples));
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0}, failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < abusers; ++i) {
    threads.emplace_back([&] {
      while (!stop.load()) (HugeHeader(broker.port(), huge) ? refused : failed).fetch_add(1);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const double abuse_cpu_before = CpuNs(broker.pid());
  const int refused_before = refused.load();
  const double loaded = Median(Latencies(broker.port(), samples));
  const double abuse_cpu_ms = (CpuNs(broker.pid()) - abuse_cpu_before) / 1e6;
  const int refused_during = refused.load() - refused_before;
  stop.store(true);
  for (auto& t : threads) t.join();
  if (failed.load() > 0) Fail(std::to_string(failed.load()) + " abusive requests were not answered 431");

  std::ostringstream table;
  table << "edge_bench " << UtcStamp() << "  load average before: " << load << "\n\n";
  table << Row("ceiling: read 1 MB from loopback (4 KiB reads), CPU", sink_ms, "ms", "") << "\n";
  table << Row("broker CPU per 1 MB header (431)", broker_ms, "ms",
               "= " + std::to_string(broker_ms / sink_ms).substr(0, 5) + " x the ceiling  " + Goal(broker_ms, 5))
        << "\n";
  table << Row("normal client median, broker otherwise idle", quiet, "ms", "") << "\n";
  table << Row("normal client median, " + std::to_string(abusers) + " clients sending 1 MB headers", loaded, "ms",
               "= " + std::to_string(loaded / quiet).substr(0, 5) + " x idle  " + Goal(loaded, 50))
        << "\n";
  table << Row("  abusive requests refused meanwhile", refused_during, "", "") << "\n";
  table << Row("  broker CPU per abusive request meanwhile", refused_during > 0 ? abuse_cpu_ms / refused_during : 0,
               "ms", "")
        << "\n";
  std::cout << table.str();
  const std::string dir = std::string(BROKER_SOURCE_DIR) + "/bench/edge/results";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::ofstream(dir + "/" + UtcStamp() + ".txt") << table.str();
  return 0;
}

}  // namespace

int main() { return Run(); }
