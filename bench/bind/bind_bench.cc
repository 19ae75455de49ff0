// bind_bench: many concurrent binds against the fake Cloud Controller with zero latency.
//
// Runs the real broker binary (tests/support/broker_process.h) on a fresh database
// (BENCH_DATABASE_URL; the broker applies the migrations), wired to the in-process fake Cloud
// Controller + UAA + log-cache (tests/support/fake_cloud_controller.h) seeded with the demo
// foundation, every tick count 1 and the container's session report on RUNNING. Provisions one
// instance, fires BENCH_BINDS binds of the demo app at once from BENCH_CLIENT_THREADS threads,
// polls each binding's last_operation until it succeeded (any other outcome fails the run), then
// measures, from outside the broker:
//   - wall time from the first PUT until the last binding was seen succeeded;
//   - the broker's CPU (utime + stime of its pid in /proc/<pid>/stat) over that time, and its
//     peak RSS (VmHWM);
//   - the Cloud Controller calls per bind, from the fake's journal, polls (GET /v3/jobs/:guid,
//     GET /v3/droplets/:guid, GET /v3/processes/:guid/stats) counted apart, UAA token calls apart;
//   - the CPU of one last_operation GET (a calibration burst after the run), to estimate how much
//     of the broker's CPU went to answering this program's own polling;
//   - a machine reference before the run: the CPU one loopback TCP round trip between two threads
//     costs here, since a bind's CPU is mostly such exchanges and their thread wake-ups, whose
//     price varies severalfold between virtual machines (the broker's CPU per bind is also given
//     in these round trips).
// Prints a table, judged against the goals (< 5 ms broker CPU per bind, <= 25 non-poll CC calls
// per bind), and writes it to bench/bind/results/<UTC timestamp>.txt. See README.md here.
//
// Exit status: 0 when every bind succeeded (a missed goal is reported, not fatal), 1 otherwise,
// 2 on bad configuration.
#define DOCTEST_CONFIG_IMPLEMENT  // osb_fixtures.cc and test_database.cc refer to doctest; no main
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
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

namespace broker::testing {
namespace {

using Fake = FakeCloudController;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr double kCpuGoalMs = 5.0;         // broker CPU per bind
constexpr double kNonPollCeiling = 25.0;   // non-poll CC calls per bind
constexpr char kInstanceId[] = "b1e4c0de-0000-4000-8000-000000000001";

// ---- configuration -------------------------------------------------------------------------

struct Options {
  std::string database_url;
  int binds = 200;
  int client_threads = 32;
  int worker_threads = 4;
  int poll_interval_ms = 20;       // the broker's CLONE_POLL_INTERVAL_MS
  int worker_lease_ms = 30000;     // the broker's WORKER_LEASE_MS (its default)
  int lastop_interval_ms = 250;    // between two last_operation GETs of one binding
  int calibration_gets = 2000;     // last_operation GETs of the calibration burst
  int reference_round_trips = 5000;  // loopback round trips of each machine reference
  int timeout_s = 600;
  std::string log_level = "info";
  std::string results_dir;
  std::string git_rev;
  std::string build_type;  // CMAKE_BUILD_TYPE of this build tree (the broker's too)
};

int IntEnv(const char* name, int fallback, int min, int max) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (end == nullptr || *end != '\0' || n < min || n > max) {
    std::cerr << "bind_bench: " << name << "=" << v << " is not an integer in [" << min << ", " << max << "]\n";
    std::exit(2);
  }
  return static_cast<int>(n);
}

std::string StrEnv(const char* name, const std::string& fallback = {}) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

Options LoadOptions() {
  Options o;
  o.database_url = StrEnv("BENCH_DATABASE_URL");
  if (o.database_url.empty()) {
    std::cerr << "bind_bench: set BENCH_DATABASE_URL to a fresh PostgreSQL database (bench/bind/run does)\n";
    std::exit(2);
  }
  o.binds = IntEnv("BENCH_BINDS", o.binds, 1, 100000);
  o.client_threads = IntEnv("BENCH_CLIENT_THREADS", o.client_threads, 1, 1024);
  o.worker_threads = IntEnv("BENCH_WORKER_THREADS", o.worker_threads, 1, 64);
  o.poll_interval_ms = IntEnv("BENCH_POLL_INTERVAL_MS", o.poll_interval_ms, 10, 600000);
  o.worker_lease_ms = IntEnv("BENCH_WORKER_LEASE_MS", o.worker_lease_ms, 300, 3600000);
  o.lastop_interval_ms = IntEnv("BENCH_LASTOP_INTERVAL_MS", o.lastop_interval_ms, 1, 600000);
  o.calibration_gets = IntEnv("BENCH_CALIBRATION_GETS", o.calibration_gets, 0, 1000000);
  o.reference_round_trips = IntEnv("BENCH_REFERENCE_ROUND_TRIPS", o.reference_round_trips, 0, 10000000);
  o.timeout_s = IntEnv("BENCH_TIMEOUT_S", o.timeout_s, 1, 86400);
  o.log_level = StrEnv("BENCH_LOG_LEVEL", o.log_level);
  o.results_dir = StrEnv("BENCH_RESULTS_DIR", std::string(BROKER_SOURCE_DIR) + "/bench/bind/results");
  o.git_rev = StrEnv("BENCH_GIT_REV", "?");
  o.build_type = BENCH_BUILD_TYPE;
  return o;
}

// ---- the broker process, from outside ------------------------------------------------------

// utime + stime of `pid`, in clock ticks (fields 14 and 15 of /proc/<pid>/stat).
std::uint64_t CpuTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/stat");
  // The command name (field 2) is in parentheses and may contain spaces: count from the last ')'.
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string f;
  std::uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return utime + stime;
}

// Nanoseconds each thread of `pid` has run (the first field of /proc/<pid>/task/<tid>/schedstat),
// summed into the clone worker's threads (named worker/<n> and heartbeat by the broker), the
// HTTP reactors (named http once they answered a request) and all the others (Pistache's
// listener, which accepts the connections, main, logging). Empty when the kernel has no
// schedstat files.
struct ThreadSplit {
  std::uint64_t worker_ns = 0;
  std::uint64_t http_ns = 0;
  std::uint64_t other_ns = 0;
  bool available = false;
};

ThreadSplit ThreadRuntimes(pid_t pid) {
  ThreadSplit split;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream comm(task.path() / "comm");
    std::ifstream sched(task.path() / "schedstat");
    std::string name;
    std::uint64_t ns = 0;
    if (!std::getline(comm, name) || !(sched >> ns)) continue;  // the thread just ended
    split.available = true;
    if (name.rfind("worker/", 0) == 0 || name == "heartbeat") {
      split.worker_ns += ns;
    } else if (name == "http") {
      split.http_ns += ns;
    } else {
      split.other_ns += ns;
    }
  }
  return split;
}

double TicksToSeconds(std::uint64_t ticks) { return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK)); }

// A "Vm...:" value of /proc/<pid>/status in kB, or -1.
long StatusKb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
  }
  return -1;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown CPU";
}

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU seconds the calling thread has used (user + system).
double ThreadCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Pins the calling thread to `cpu`; false when the kernel refuses (a cpuset without it).
bool PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

// The first two CPUs this process may run on, or nothing when it may use only one.
std::optional<std::pair<int, int>> TwoCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return std::nullopt;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  if (cpus.size() < 2) return std::nullopt;
  return std::make_pair(cpus[0], cpus[1]);
}

// The machine reference: microseconds of CPU (both threads', user + system) that one round trip
// of a 64-byte message costs between two threads over a TCP connection on 127.0.0.1, blocking
// send and recv, Nagle off: the kind of exchange a bind is made of. The two threads (new ones:
// the pinning is not inherited by anything else) run on cpus.first and cpus.second, one CPU when
// both are the same. On a virtual machine a wake-up across CPUs costs many times one on the same
// CPU, and that price varies severalfold between machines. Throws when a socket call fails.
double LoopbackRoundTripMicros(int round_trips, std::pair<int, int> cpus) {
  auto check = [](bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("machine reference: ") + what + ": " + std::strerror(errno));
  };
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(listener >= 0, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  check(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind");
  check(::listen(listener, 1) == 0, "listen");
  check(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0, "getsockname");
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(client >= 0, "socket");
  check(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "connect");
  const int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  check(server >= 0, "accept");
  ::close(listener);
  const int one = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  // One side, on `cpu`: `round_trips` times, send 64 bytes and read 64 back (or read, then
  // send). Its CPU seconds go to `cpu_s`; on EOF or an error it shuts `peer` down (which
  // unblocks the other side) and clears `ok`.
  std::atomic<bool> ok{true};
  auto side = [&](int fd, int peer, bool send_first, int cpu, double& cpu_s) {
    PinToCpu(cpu);  // best effort: unpinned, the number is only noisier
    char msg[64] = {};
    auto send_msg = [&] { return ::send(fd, msg, sizeof msg, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof msg); };
    auto recv_msg = [&] {
      for (std::size_t got = 0; got < sizeof msg;) {
        const ssize_t r = ::recv(fd, msg + got, sizeof msg - got, 0);
        if (r <= 0) return false;
        got += static_cast<std::size_t>(r);
      }
      return true;
    };
    const double c0 = ThreadCpuSeconds();
    for (int i = 0; i < round_trips && ok; ++i) {
      if (!(send_first ? send_msg() && recv_msg() : recv_msg() && send_msg())) {
        ok = false;
        ::shutdown(peer, SHUT_RDWR);
      }
    }
    cpu_s = ThreadCpuSeconds() - c0;
  };
  double client_cpu = 0, echo_cpu = 0;
  std::thread echo([&] { side(server, client, false, cpus.second, echo_cpu); });
  std::thread ping([&] { side(client, server, true, cpus.first, client_cpu); });
  ping.join();
  echo.join();
  ::close(client);
  ::close(server);
  if (!ok) throw std::runtime_error("machine reference: a send or recv between the two threads failed");
  return (client_cpu + echo_cpu) * 1e6 / round_trips;
}

// ---- helpers -------------------------------------------------------------------------------

std::string NewUuid(std::mt19937_64& rng) {
  const std::uint64_t hi = (rng() & ~0xF000ull) | 0x4000ull;                        // version 4
  const std::uint64_t lo = (rng() & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // variant 10
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
  return buf;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string UtcStamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

bool IsPoll(const Fake::JournalEntry& e) {
  return e.method == "GET" &&
         (e.route == "/v3/jobs/:guid" || e.route == "/v3/droplets/:guid" || e.route == "/v3/processes/:guid/stats");
}

struct Binding {
  std::string id;
  std::string operation;
  Clock::time_point accepted{};
  Clock::time_point succeeded{};
  int lastop_gets = 0;
};

[[noreturn]] void Fail(const std::string& what, BrokerProcess* broker) {
  std::cerr << "\nbind_bench: FAILED: " << what << "\n";
  if (broker != nullptr) std::cerr << "broker log tail:\n" << broker->LogTail(60) << "\n";
  std::exit(1);
}

// ---- the run -------------------------------------------------------------------------------

int Run() {
  const Options opt = LoadOptions();
  const std::string stamp = UtcStamp();
  const std::string load_before = LoadAverage();
  // The machine reference: round trips across two CPUs (when the process may use two) and on one.
  const std::optional<std::pair<int, int>> two_cpus = TwoCpus();
  double cross_cpu_us = 0, one_cpu_us = 0;
  if (opt.reference_round_trips > 0) {
    std::cerr << "bind_bench: machine reference, " << opt.reference_round_trips << " loopback round trips\n";
    if (two_cpus) cross_cpu_us = LoopbackRoundTripMicros(opt.reference_round_trips, *two_cpus);
    const int cpu = two_cpus ? two_cpus->first : std::max(0, sched_getcpu());  // -1: not known
    one_cpu_us = LoopbackRoundTripMicros(opt.reference_round_trips, {cpu, cpu});
  }

  Fake fake;
  fake.Start();
  const Fake::DemoFoundation demo = fake.SeedDemoFoundation();
  fake.UpdateKnobs([](Fake::Knobs& k) {
    k.droplet_copy_ticks = 1;
    k.binding_create_job_ticks = 1;
    k.binding_delete_job_ticks = 1;
    k.app_delete_job_ticks = 1;
    k.droplet_delete_job_ticks = 1;
    k.instance_start_ticks = 1;
    k.session_report = ContainerReport("ssh -p2222 Xk9fQ2mZ7aP4rT8wYb3nC6vD1@tmate.example.com",
                                       "ssh -p2222 ro0Xk9fQ2mZ7aP4rT8wYb3nC6@tmate.example.com");
  });

  // What the source app brings: its bindings, managed and user-provided.
  int managed_bindings = 0, ups_bindings = 0;
  for (const auto& b : fake.BindingsOfApp(demo.app_guid)) {
    (b.service_instance_guid == demo.ups_instance_guid ? ups_bindings : managed_bindings) += 1;
  }

  const int port = FreeLoopbackPort();
  EnvOverrides env = CloneEngineEnv(fake, demo, port);
  env["WORKER_THREADS"] = std::to_string(opt.worker_threads);
  env["WORKER_LEASE_MS"] = std::to_string(opt.worker_lease_ms);
  env["CLONE_POLL_INTERVAL_MS"] = std::to_string(opt.poll_interval_ms);
  env["LOG_LEVEL"] = opt.log_level;
  std::cerr << "bind_bench: starting the broker (WORKER_THREADS=" << opt.worker_threads
            << ", CLONE_POLL_INTERVAL_MS=" << opt.poll_interval_ms << ", LOG_LEVEL=" << opt.log_level << ")\n";
  BrokerProcess broker(opt.database_url, env, std::chrono::seconds(60));
  const HttpClient http(broker.base_url(), broker.username(), broker.password());

  {
    Request r;
    r.method = "PUT";
    r.path = InstancePath(kInstanceId, "accepts_incomplete=true");
    r.body = ProvisionBody();
    const Response resp = http.Send(r);
    if (resp.status != 201) Fail("provision: " + resp.Describe(), &broker);
  }

  // Binding ids: random UUIDs, so the first 8 characters (the clone's fallback name) differ.
  std::vector<Binding> bindings(static_cast<std::size_t>(opt.binds));
  {
    std::mt19937_64 rng(std::random_device{}());
    for (auto& b : bindings) b.id = NewUuid(rng);
  }

  // The broker's log so far: its lines, and its job claims (the worker logs each at info).
  struct LogCounts {
    long lines = 0;
    long claims = 0;
  };
  auto count_lines = [&broker] {
    const std::string log = broker.Log();
    LogCounts c;
    c.lines = std::count(log.begin(), log.end(), '\n');
    for (auto at = log.find("worker.job_claimed "); at != std::string::npos;
         at = log.find("worker.job_claimed ", at + 1)) {
      ++c.claims;
    }
    return c;
  };
  const std::size_t startup_calls = fake.Journal().size();
  const auto log_lines_before = count_lines();
  fake.ClearJournal();
  const double self_cpu_before = SelfCpuSeconds();
  const std::uint64_t cpu_before = CpuTicks(broker.pid());
  const ThreadSplit threads_before = ThreadRuntimes(broker.pid());
  std::cerr << "bind_bench: " << opt.binds << " binds from " << opt.client_threads << " client threads\n";

  // Each client thread PUTs bindings off a shared counter, then polls the ones it PUT.
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + std::chrono::seconds(opt.timeout_s);
  std::atomic<std::size_t> next{0};
  std::atomic<int> done{0};
  std::mutex failure_mu;
  std::optional<std::string> failure;
  auto set_failure = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(failure_mu);
    if (!failure) failure = what;
  };
  auto failed = [&] {
    std::lock_guard<std::mutex> lock(failure_mu);
    return failure.has_value();
  };
  std::vector<std::thread> clients;
  for (int t = 0; t < opt.client_threads; ++t) {
    clients.emplace_back([&] {
      std::vector<Binding*> mine;
      for (std::size_t i = 0; (i = next.fetch_add(1)) < bindings.size() && !failed();) {
        Binding& b = bindings[i];
        Request r;
        r.method = "PUT";
        r.path = BindingPath(kInstanceId, b.id, "accepts_incomplete=true");
        r.body = BindBody(kStandardPlanId, demo.app_guid);
        const Response resp = http.Send(r);
        if (resp.status != 202) return set_failure("bind " + b.id + ": " + resp.Describe());
        b.operation = OperationOf(resp);
        b.accepted = Clock::now();
        mine.push_back(&b);
      }
      std::vector<Clock::time_point> due(mine.size(), Clock::now());
      std::size_t open = mine.size();
      while (open > 0 && !failed()) {
        if (Clock::now() > deadline) return set_failure(std::to_string(opt.binds - done.load()) +
                                                        " binds still in progress after BENCH_TIMEOUT_S=" +
                                                        std::to_string(opt.timeout_s));
        Clock::time_point earliest = Clock::time_point::max();
        for (std::size_t k = 0; k < mine.size(); ++k) {
          Binding& b = *mine[k];
          if (b.succeeded != Clock::time_point{}) continue;
          if (Clock::now() < due[k]) {
            earliest = std::min(earliest, due[k]);
            continue;
          }
          Request r;
          r.path = BindingLastOperationPath(kInstanceId, b.id, "operation=" + b.operation);
          const Response resp = http.Send(r);
          ++b.lastop_gets;
          if (resp.status != 200) return set_failure("last_operation of " + b.id + ": " + resp.Describe());
          const rapidjson::Document d = ParseJson(resp.body);
          const std::string state = StringMember(d, "state").value_or("");
          if (state == "succeeded") {
            b.succeeded = Clock::now();
            --open;
            ++done;
          } else if (state == "in progress") {
            due[k] = Clock::now() + milliseconds(opt.lastop_interval_ms);
            earliest = std::min(earliest, due[k]);
          } else {
            return set_failure("binding " + b.id + " ended " + state + ": " +
                               StringMember(d, "description").value_or("(no description)"));
          }
        }
        if (open > 0 && earliest != Clock::time_point::max()) std::this_thread::sleep_until(earliest);
      }
    });
  }
  for (auto& c : clients) c.join();
  if (failure) Fail(*failure, &broker);

  Clock::time_point last_accepted = start, last_succeeded = start;
  int lastop_gets = 0;
  for (const auto& b : bindings) {
    last_accepted = std::max(last_accepted, b.accepted);
    last_succeeded = std::max(last_succeeded, b.succeeded);
    lastop_gets += b.lastop_gets;
  }
  const std::uint64_t cpu_after = CpuTicks(broker.pid());
  const ThreadSplit threads_after = ThreadRuntimes(broker.pid());
  const double self_cpu = SelfCpuSeconds() - self_cpu_before;
  const long rss_peak_kb = StatusKb(broker.pid(), "VmHWM");
  const std::vector<Fake::JournalEntry> journal = fake.Journal();
  const std::string load_after = LoadAverage();
  const LogCounts log_after = count_lines();
  const long log_lines = log_after.lines - log_lines_before.lines;
  const long job_claims = log_after.claims - log_lines_before.claims;

  // Every clone exists once, with the source's bindings.
  const auto clones = fake.AppsWithLabel("ssh-access.broker/managed-by");
  if (static_cast<int>(clones.size()) != opt.binds) {
    Fail(std::to_string(clones.size()) + " clone apps for " + std::to_string(opt.binds) + " binds", &broker);
  }

  // Calibration: what one last_operation GET costs the broker, on the now succeeded bindings.
  double cpu_per_lastop_ms = 0;
  if (opt.calibration_gets > 0) {
    std::cerr << "bind_bench: calibration, " << opt.calibration_gets << " last_operation GETs\n";
    std::atomic<int> left{opt.calibration_gets};
    const std::uint64_t c0 = CpuTicks(broker.pid());
    std::vector<std::thread> ts;
    for (int t = 0; t < opt.client_threads; ++t) {
      ts.emplace_back([&] {
        for (int i = 0; (i = left.fetch_sub(1)) > 0 && !failed();) {
          const Binding& b = bindings[static_cast<std::size_t>(i) % bindings.size()];
          Request r;
          r.path = BindingLastOperationPath(kInstanceId, b.id, "operation=" + b.operation);
          const Response resp = http.Send(r);
          if (resp.status != 200) return set_failure("calibration last_operation: " + resp.Describe());
        }
      });
    }
    for (auto& t : ts) t.join();
    if (failure) Fail(*failure, &broker);
    cpu_per_lastop_ms = TicksToSeconds(CpuTicks(broker.pid()) - c0) * 1000.0 / opt.calibration_gets;
  }

  // ---- the journal ----
  struct RouteCount {
    int calls = 0;
    int errors = 0;  // status >= 400 or no answer
  };
  std::map<std::string, RouteCount> by_route;
  int non_poll = 0, polls = 0, uaa = 0, other = 0, ups_binding_calls = 0;
  std::set<int> client_ports;  // one per TCP connection the broker opened to the fake
  for (const auto& e : journal) {
    client_ports.insert(e.client_port);
    const std::string key = e.method + " " + (e.route.empty() ? e.path : e.route) + (IsPoll(e) ? "  (poll)" : "");
    auto& rc = by_route[key];
    ++rc.calls;
    if (e.status == 0 || e.status >= 400) ++rc.errors;
    if (e.path == "/oauth/token") {
      ++uaa;
    } else if (IsPoll(e)) {
      ++polls;
    } else if (e.path == "/" || e.path.rfind("/v3", 0) == 0) {  // the CC's root and V3 API
      ++non_poll;
      if (e.method == "POST" && e.route == "/v3/service_credential_bindings" &&
          e.body.find(demo.ups_instance_guid) != std::string::npos) {
        ++ups_binding_calls;
      }
    } else {
      ++other;
    }
  }

  const double n = opt.binds;
  const double wall = Seconds(last_succeeded - start);
  const double cpu_s = TicksToSeconds(cpu_after - cpu_before);
  const double cpu_ms_per_bind = cpu_s * 1000.0 / n;
  const double lastop_cpu_s = cpu_per_lastop_ms * lastop_gets / 1000.0;
  const double cpu_ms_net = std::max(0.0, cpu_s - lastop_cpu_s) * 1000.0 / n;
  const double non_poll_per_bind = non_poll / n;
  auto verdict = [](bool ok) { return ok ? "ok" : "MISSED"; };

  std::ostringstream out;
  auto row = [&out](const std::string& name, const std::string& value, const std::string& note = "") {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-46s %12s   %s", name.c_str(), value.c_str(), note.c_str());
    std::string line = buf;
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  out << "ssh-access bind bench, " << stamp << "\n";
  out << "broker " << opt.git_rev << " (" << opt.build_type << "), WORKER_THREADS=" << opt.worker_threads
      << ", CLONE_POLL_INTERVAL_MS=" << opt.poll_interval_ms << ", WORKER_LEASE_MS=" << opt.worker_lease_ms
      << ", LOG_LEVEL=" << opt.log_level << "\n";
  out << opt.binds << " concurrent binds from " << opt.client_threads << " client threads, last_operation every "
      << opt.lastop_interval_ms << " ms per binding; fake CC in-process on 127.0.0.1, zero latency, every tick count 1\n";
  out << "source app: buildpack, " << managed_bindings << " managed + " << ups_bindings
      << " user-provided service bindings (+ 1 unbound instance of our own offering)\n";
  out << "machine: " << std::thread::hardware_concurrency() << " cores, " << CpuModel() << "; load average "
      << load_before << " before, " << load_after << " after\n";
  out << "\n";
  row("measure", "value");
  row("binds succeeded", std::to_string(opt.binds));
  row("wall s, first PUT to last seen succeeded", Fixed(wall, 2),
      "(last 202 after " + Fixed(Seconds(last_accepted - start), 2) + " s; +/- " +
          std::to_string(opt.lastop_interval_ms) + " ms)");
  row("binds/s", Fixed(n / wall, 1));
  row("broker CPU s (utime+stime)", Fixed(cpu_s, 2));
  row("broker CPU ms per bind", Fixed(cpu_ms_per_bind, 2),
      "= " + Fixed(cpu_ms_per_bind / kCpuGoalMs, 2) + " of the 5 ms goal  " + verdict(cpu_ms_per_bind < kCpuGoalMs));
  if (opt.calibration_gets > 0) {
    row("  last_operation GETs answered", std::to_string(lastop_gets),
        "(" + Fixed(lastop_gets / n, 1) + " per bind, " + Fixed(cpu_per_lastop_ms, 3) + " ms CPU each, calibrated)");
    row("  CPU ms per bind without those GETs (est.)", Fixed(cpu_ms_net, 2),
        "= " + Fixed(cpu_ms_net / kCpuGoalMs, 2) + " of the 5 ms goal");
  } else {
    row("  last_operation GETs answered", std::to_string(lastop_gets),
        "(" + Fixed(lastop_gets / n, 1) + " per bind; not calibrated: BENCH_CALIBRATION_GETS=0)");
  }
  if (threads_before.available && threads_after.available) {
    const double worker_ms = static_cast<double>(threads_after.worker_ns - threads_before.worker_ns) / 1e6 / n;
    const double http_ms = static_cast<double>(threads_after.http_ns - threads_before.http_ns) / 1e6 / n;
    const double other_ms = static_cast<double>(threads_after.other_ns - threads_before.other_ns) / 1e6 / n;
    row("  of which clone worker threads, ms/bind", Fixed(worker_ms, 2),
        "(worker/<n> + heartbeat, scheduler runtime from /proc/<pid>/task/*/schedstat)");
    row("  of which HTTP reactor threads, ms/bind", Fixed(http_ms, 2),
        "(http: the PUTs, the session reports, the last_operation polls)");
    row("  of which the other threads, ms/bind", Fixed(other_ms, 2),
        "(the listener accepting connections, main, logging)");
  }
  if (opt.reference_round_trips > 0) {
    if (two_cpus) {
      row("machine ref: CPU us per round trip, 2 CPUs", Fixed(cross_cpu_us, 1),
          "(64 bytes each way over TCP on 127.0.0.1 between threads pinned to CPUs " +
              std::to_string(two_cpus->first) + " and " + std::to_string(two_cpus->second) + ", both sides)");
    }
    row("machine ref: the same on 1 CPU", Fixed(one_cpu_us, 1), "(both threads on one CPU)");
    if (two_cpus) {
      row("  broker CPU per bind in 2-CPU round trips", Fixed(cpu_ms_per_bind * 1000.0 / cross_cpu_us, 0),
          "(the machine's price of a wake-up across CPUs taken out)");
    }
  }
  row("broker peak RSS (VmHWM), MB", Fixed(static_cast<double>(rss_peak_kb) / 1024.0, 1));
  row("CC non-poll calls per bind", Fixed(non_poll_per_bind, 2),
      "= " + Fixed(non_poll_per_bind / kNonPollCeiling, 2) + " of the 25 ceiling  " +
          verdict(non_poll_per_bind <= kNonPollCeiling));
  row("  of which binding the user-provided instance", Fixed(ups_binding_calls / n, 2),
      "(without: " + Fixed((non_poll - ups_binding_calls) / n, 2) + " = " +
          Fixed((non_poll - ups_binding_calls) / n / kNonPollCeiling, 2) + " of 25)");
  row("CC poll calls per bind", Fixed(polls / n, 2), "(jobs, droplets, process stats)");
  row("UAA token calls", std::to_string(uaa));
  row("other calls (log-cache)", std::to_string(other));
  row("TCP connections to the fake CC / UAA", std::to_string(client_ports.size()),
      "(" + Fixed(static_cast<double>(journal.size()) / static_cast<double>(std::max<std::size_t>(client_ports.size(), 1)), 1) +
          " requests each)");
  row("broker log lines per bind (LOG_LEVEL=" + opt.log_level + ")", Fixed(static_cast<double>(log_lines) / n, 1));
  row("worker job claims per bind", Fixed(static_cast<double>(job_claims) / n, 1),
      "(worker.job_claimed lines in the broker's log; 0 below LOG_LEVEL=info)");
  row("fake CC calls before the binds (startup)", std::to_string(startup_calls));
  row("bench process CPU s (fake CC + clients)", Fixed(self_cpu, 2));
  out << "\n";
  char hdr[256];
  std::snprintf(hdr, sizeof hdr, "%-62s %10s %8s\n", "calls during the binds, by route", "per bind", "4xx/5xx");
  out << hdr;
  std::vector<std::pair<std::string, RouteCount>> routes(by_route.begin(), by_route.end());
  std::stable_sort(routes.begin(), routes.end(),
                   [](const auto& a, const auto& b) { return a.second.calls > b.second.calls; });
  for (const auto& [route, rc] : routes) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-62s %10s %8d\n", route.c_str(), Fixed(rc.calls / n, 2).c_str(), rc.errors);
    out << buf;
  }

  std::cout << out.str() << std::flush;
  std::error_code ec;
  std::filesystem::create_directories(opt.results_dir, ec);
  const std::string path = opt.results_dir + "/" + stamp + ".txt";
  std::ofstream file(path);
  file << out.str();
  if (!file.flush()) {
    std::cerr << "bind_bench: could not write " << path << "\n";
    return 1;
  }
  std::cerr << "bind_bench: saved " << path << "\n";
  broker.Stop();
  fake.Stop();
  return 0;
}

}  // namespace
}  // namespace broker::testing

int main() {
  try {
    return broker::testing::Run();
  } catch (const std::exception& e) {
    std::cerr << "bind_bench: FAILED: " << e.what() << "\n";
    return 1;
  }
}
