// The HTTP edge against hostile and unusual clients (issue 17): oversized and deep headers,
// header floods from many clients, pipelining, Connection: close, thousands of idle connections,
// slow senders, HEAD of the assets, and log lines that a request value tries to forge.
// Black-box: the real broker binary over raw loopback sockets, every wait bounded.
//
// Load-sensitive checks are phrased to hold on a busy 2-core machine: the cost of a 1 MB header
// is the broker's own CPU time (its threads' schedstat), not wall time; latencies are medians.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/osb_fixtures.h"
#include "tests/support/raw_connection.h"
#include "tests/support/temp_dir.h"

namespace broker::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string Authorization(const OsbTest& t) {
  return "Authorization: " + BasicAuthHeaderValue(t.broker->username(), t.broker->password()) + "\r\n";
}

std::string CatalogRequest(const OsbTest& t, const std::string& extra = "") {
  return "GET /v2/catalog HTTP/1.1\r\nHost: 127.0.0.1\r\n" + Authorization(t) + "X-Broker-API-Version: 2.17\r\n" +
         extra + "\r\n";
}

const std::string kHealth = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

// The CPU time the process has used, in ns: the sum over its threads (schedstat counts ns; the
// clock ticks of /proc/<pid>/stat are 10 ms, too coarse for one request).
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

double Median(std::vector<double> v) {
  if (v.empty()) return 1e9;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One GET /healthz on a persistent connection, in ms.
double TimedHealth(RawConnection& c) {
  const auto start = Clock::now();
  c.Write(kHealth);
  const auto a = c.ReadResponse();
  CHECK(a.status == 200);
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A client that sends a 1 MB header line (unauthenticated: the cost must come before any
// authentication) and reads what it gets. True when the answer was a 4xx.
bool SendHugeHeader(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool refused = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    char head[13] = {};
    if (::recv(fd, head, 12, MSG_WAITALL) == 12) refused = head[9] == '4';
  }
  ::close(fd);
  return refused;
}

std::string HugeHeaderRequest() {
  return "GET /v2/catalog HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + std::string(1024 * 1024, 'p') + "\r\n\r\n";
}

// Non-blocking connects to `port`, `n` of them, waited for up to `timeout`. The fds that connected.
std::vector<int> ConnectMany(int port, int n, milliseconds timeout) {
  std::vector<int> fds;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> pending;
  for (int i = 0; i < n; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    const int r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (r == 0) {
      fds.push_back(fd);
    } else if (errno == EINPROGRESS) {
      pending.push_back(fd);
    } else {
      ::close(fd);
    }
  }
  const auto deadline = Clock::now() + timeout;
  while (!pending.empty() && Clock::now() < deadline) {
    std::vector<pollfd> polls;
    for (const int fd : pending) polls.push_back({fd, POLLOUT, 0});
    ::poll(polls.data(), polls.size(), 100);
    std::vector<int> still;
    for (const auto& p : polls) {
      if (p.revents == 0) {
        still.push_back(p.fd);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) {
        fds.push_back(p.fd);
      } else {
        ::close(p.fd);
      }
    }
    pending.swap(still);
  }
  for (const int fd : pending) ::close(fd);
  return fds;
}

// How many of `fds` the server has closed (EOF or reset) within `timeout`.
int CountClosed(const std::vector<int>& fds, milliseconds timeout) {
  std::vector<bool> closed(fds.size(), false);
  int count = 0;
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    std::vector<pollfd> polls;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (!closed[i]) {
        polls.push_back({fds[i], POLLIN, 0});
        index.push_back(i);
      }
    }
    if (::poll(polls.data(), polls.size(), 100) <= 0) continue;
    for (std::size_t k = 0; k < polls.size(); ++k) {
      if (polls[k].revents == 0) continue;
      char b[64];
      const ssize_t n = ::recv(polls[k].fd, b, sizeof b, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN)) {
        closed[index[k]] = true;
        ++count;
      }
    }
  }
  return count;
}

TEST_SUITE("http edge") {
  TEST_CASE("a 150k-deep originating identity gets a 4xx and the broker stays up") {
    OsbTest t;
    const std::string deep = "cloudfoundry " + Base64Encode(std::string(150'000, '['));
    RawConnection c(t.broker->port());
    c.TryWrite(CatalogRequest(t, "X-Broker-API-Originating-Identity: " + deep + "\r\n"));
    const auto a = c.ReadResponse();
    CHECK(a.status >= 400);
    CHECK(a.status < 500);
    std::this_thread::sleep_for(milliseconds(200));
    CHECK(t.broker->running());
    CHECK(t.Get("/v2/catalog").status == 200);
  }

  TEST_CASE("a 1 MB header costs the broker under 5 ms of CPU and gets 431") {
    OsbTest t;
    const std::string huge = HugeHeaderRequest();
    REQUIRE(SendHugeHeader(t.broker->port(), huge));  // warm up: threads, allocations
    constexpr int kRounds = 8;
    const double before = CpuNs(t.broker->pid());
    int refused = 0;
    for (int i = 0; i < kRounds; ++i) refused += SendHugeHeader(t.broker->port(), huge) ? 1 : 0;
    const double per_request_ms = (CpuNs(t.broker->pid()) - before) / kRounds / 1e6;
    CHECK(refused == kRounds);
    MESSAGE("broker CPU per 1 MB header: ", per_request_ms, " ms");
    CHECK(per_request_ms < 5.0);
    RawConnection c(t.broker->port());
    c.TryWrite(huge);
    const auto a = c.ReadResponse();
    CHECK(a.status == 431);
    CHECK(a.Header("Content-Type") == std::optional<std::string>("application/json"));
    CHECK(a.body.find("\"description\"") != std::string::npos);
  }

  TEST_CASE("16 clients sending 1 MB headers leave a normal client's median under 50 ms") {
    OsbTest t;
    const std::string huge = HugeHeaderRequest();
    std::atomic<bool> stop{false};
    std::atomic<int> abusive{0};
    std::vector<std::thread> clients;
    const double cpu_before = CpuNs(t.broker->pid());
    for (int i = 0; i < 16; ++i) {
      clients.emplace_back([&] {
        while (!stop.load()) {
          if (SendHugeHeader(t.broker->port(), huge)) abusive.fetch_add(1);
        }
      });
    }
    std::this_thread::sleep_for(milliseconds(300));  // the flood is on
    RawConnection normal(t.broker->port());
    std::vector<double> latencies;
    const auto until = Clock::now() + std::chrono::seconds(8);  // bounded even when each answer takes seconds
    for (int i = 0; i < 30 && Clock::now() < until; ++i) {
      latencies.push_back(TimedHealth(normal));
      std::this_thread::sleep_for(milliseconds(50));
    }
    stop.store(true);
    for (auto& th : clients) th.join();
    const double cpu_ms = (CpuNs(t.broker->pid()) - cpu_before) / 1e6;
    MESSAGE("normal client median ", Median(latencies), " ms; ", abusive.load(),
            " abusive requests refused; broker CPU ", cpu_ms, " ms");
    CHECK(Median(latencies) < 50.0);
    REQUIRE(abusive.load() >= 16);
    CHECK(cpu_ms / abusive.load() < 5.0);
  }

  TEST_CASE("100 pipelined requests are all answered, in order") {
    OsbTest t;
    std::string burst;
    for (int i = 0; i < 100; ++i) {
      if (i % 10 == 5) {
        // Bodies in the stream: each must be framed by its Content-Length.
        const std::string body = ProvisionBody();
        burst +=
            "PUT " + InstancePath("pipelined-" + std::to_string(i)) + " HTTP/1.1\r\nHost: x\r\n" + Authorization(t) +
            "X-Broker-API-Version: 2.17\r\nX-Broker-API-Request-Identity: p-" + std::to_string(i) +
            "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      } else {
        burst += CatalogRequest(t, "X-Broker-API-Request-Identity: p-" + std::to_string(i) + "\r\n");
      }
    }
    RawConnection c(t.broker->port());
    c.Write(burst);
    for (int i = 0; i < 100; ++i) {
      CAPTURE(i);
      const auto a = c.ReadResponse();
      CHECK(a.status == (i % 10 == 5 ? 201 : 200));
      REQUIRE(a.Header("X-Broker-API-Request-Identity") == std::optional<std::string>("p-" + std::to_string(i)));
    }
    // And the connection goes on.
    c.Write(kHealth);
    CHECK(c.ReadResponse().status == 200);
  }

  TEST_CASE("a refused request in a pipeline is answered after the ones before it, then the connection closes") {
    OsbTest t;
    RawConnection c(t.broker->port());
    c.Write(kHealth + kHealth + "PUT /v2/x HTTP/1.1\r\nContent-Length: 1x\r\n\r\n" + kHealth);
    CHECK(c.ReadResponse().status == 200);
    CHECK(c.ReadResponse().status == 200);
    const auto refused = c.ReadResponse();
    CHECK(refused.status == 400);
    CHECK(refused.body == R"({"description":"Content-Length must be a decimal number"})");
    CHECK(c.ClosedByServer(milliseconds(5000)));
  }

  TEST_CASE("Connection: close and HTTP/1.0 close the connection after the answer") {
    OsbTest t;
    SUBCASE("when the request says Connection: close") {
      RawConnection c(t.broker->port());
      c.Write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + kHealth);  // the second is not answered
      const auto a = c.ReadResponse();
      CHECK(a.status == 200);
      CHECK(a.Header("Connection") == std::optional<std::string>("close"));
      CHECK(c.ClosedByServer(milliseconds(3000)));
    }
    SUBCASE("when the request is HTTP/1.0 without keep-alive") {
      RawConnection c(t.broker->port());
      c.Write("GET /healthz HTTP/1.0\r\n\r\n");
      CHECK(c.ReadResponse().status == 200);
      CHECK(c.ClosedByServer(milliseconds(3000)));
    }
    SUBCASE("when the request is HTTP/1.0 with keep-alive, it stays open") {
      RawConnection c(t.broker->port());
      c.Write("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
      const auto a = c.ReadResponse();
      CHECK(a.status == 200);
      CHECK(a.Header("Connection") == std::optional<std::string>("Keep-Alive"));
      c.Write(kHealth);
      CHECK(c.ReadResponse().status == 200);
    }
  }

  TEST_CASE("HEAD of the assets answers as GET without a body; a file answer then Connection: close arrives whole") {
    TempDir dir("edge-test");
    const std::string bundle_path = (dir.path() / "tmate-bundle.tar.gz").string();
    std::string bundle;
    for (int i = 0; i < 3 * 1024 * 1024; ++i) bundle += static_cast<char>('a' + i % 26);
    std::ofstream(bundle_path, std::ios::binary) << bundle;
    OsbTest t(EnvOverrides{{"TMATE_BUNDLE_PATH", bundle_path}});
    RawConnection get_conn(t.broker->port());
    get_conn.Write("GET /ssh-access/v1/bootstrap HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto script = get_conn.ReadResponse();
    REQUIRE(script.status == 200);

    RawConnection c(t.broker->port());
    // Pipelined: if a HEAD answer carried a body, the next answer would not parse.
    c.Write(
        "HEAD /ssh-access/v1/bootstrap HTTP/1.1\r\nHost: x\r\n\r\n"
        "HEAD /ssh-access/v1/assets/tmate-bundle.tar.gz HTTP/1.1\r\nHost: x\r\n\r\n"
        "HEAD /ssh-access/v1/assets/tmate-bundle.tar.gz.sha256 HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /ssh-access/v1/assets/tmate-bundle.tar.gz.sha256 HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto head_script = c.ReadHeadResponse();
    CHECK(head_script.status == 200);
    CHECK(head_script.Header("Content-Length") == std::optional<std::string>(std::to_string(script.body.size())));
    CHECK(head_script.Header("Content-Type") == script.Header("Content-Type"));
    const auto head_bundle = c.ReadHeadResponse();
    CHECK(head_bundle.status == 200);
    CHECK(head_bundle.Header("Content-Length") == std::optional<std::string>(std::to_string(bundle.size())));
    const auto head_sha = c.ReadHeadResponse();
    CHECK(head_sha.status == 200);
    const auto sha = c.ReadResponse();
    CHECK(sha.status == 200);
    CHECK(head_sha.Header("Content-Length") == std::optional<std::string>(std::to_string(sha.body.size())));
    CHECK(sha.body.find("tmate-bundle.tar.gz") != std::string::npos);

    // The file goes through Pistache's queue (a small receive window makes sure it cannot be
    // written at once); the close must wait for its last byte.
    RawConnection slow(t.broker->port(), /*receive_buffer=*/4096);
    slow.Write("GET /ssh-access/v1/assets/tmate-bundle.tar.gz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    std::this_thread::sleep_for(milliseconds(500));
    const auto file = slow.ReadResponse();
    CHECK(file.status == 200);
    CHECK(file.body.size() == bundle.size());
    CHECK(file.body == bundle);
    CHECK(slow.ClosedByServer(milliseconds(3000)));
  }

  TEST_CASE("past the connection cap new connections are closed at once while existing clients are served") {
    OsbTest t(EnvOverrides{{"BROKER_MAX_CONNECTIONS", "16"}});
    RawConnection existing(t.broker->port());
    TimedHealth(existing);
    std::vector<int> idle = ConnectMany(t.broker->port(), 40, milliseconds(5000));
    REQUIRE(idle.size() == 40);
    const int closed = CountClosed(idle, milliseconds(1500));
    CHECK(closed >= 40 - 15);
    CHECK(closed <= 40 - 15 + 2);  // the rest stay open (a health probe may hold one for a moment)
    TimedHealth(existing);
    for (const int fd : idle) ::close(fd);
    std::this_thread::sleep_for(milliseconds(300));
    RawConnection fresh(t.broker->port());
    TimedHealth(fresh);
  }

  TEST_CASE("5000 idle connections neither stall the broker nor make it spin while a normal client is served") {
    OsbTest t;
    RawConnection normal(t.broker->port());
    TimedHealth(normal);
    // The broker's descriptors end below 5000 (as 20,000 did in production): the cap (4096) must
    // keep accept() from failing there; at EMFILE Pistache's accept loop spins.
    rlimit limit{4600, 4600};
    REQUIRE(::prlimit(t.broker->pid(), RLIMIT_NOFILE, &limit, nullptr) == 0);
    rlimit own{};
    ::getrlimit(RLIMIT_NOFILE, &own);
    REQUIRE_MESSAGE(own.rlim_cur >= 5200, "this test needs 5200 descriptors, it has " << own.rlim_cur);

    const auto start = Clock::now();
    std::vector<int> idle = ConnectMany(t.broker->port(), 5000, milliseconds(20000));
    const double connect_s = std::chrono::duration<double>(Clock::now() - start).count();
    MESSAGE("5000 connects took ", connect_s, " s");
    CHECK(idle.size() == 5000);
    CHECK(connect_s < 10.0);
    const int closed = CountClosed(idle, milliseconds(2000));
    MESSAGE(closed, " of the idle connections were closed at once");
    CHECK(closed >= 5000 - 4096);
    CHECK(closed <= 5000 - 4096 + 50);

    const double cpu_before = CpuNs(t.broker->pid());
    std::vector<double> latencies;
    for (int i = 0; i < 20; ++i) {
      latencies.push_back(TimedHealth(normal));
      std::this_thread::sleep_for(milliseconds(50));
    }
    const double cpu_ms = (CpuNs(t.broker->pid()) - cpu_before) / 1e6;
    MESSAGE("normal client median ", Median(latencies), " ms; broker CPU over those ~1.2 s: ", cpu_ms, " ms");
    CHECK(Median(latencies) < 50.0);
    CHECK(cpu_ms < 300.0);  // a spinning accept loop burns a whole core

    for (const int fd : idle) ::close(fd);
    std::this_thread::sleep_for(milliseconds(500));
    RawConnection fresh(t.broker->port());
    TimedHealth(fresh);
  }

  TEST_CASE("a request that does not arrive whole within the header timeout gets 408 and the connection closes") {
    OsbTest t(EnvOverrides{{"BROKER_HTTP_HEADER_TIMEOUT_MS", "500"}, {"BROKER_HTTP_IDLE_TIMEOUT_MS", "600000"}});
    SUBCASE("when the client stops in the middle of the header") {
      RawConnection c(t.broker->port());
      c.Write("GET /healthz HTTP/1.1\r\nHost:");
      const auto start = Clock::now();
      const auto a = c.ReadResponse();
      const double waited = std::chrono::duration<double>(Clock::now() - start).count();
      CHECK(a.status == 408);
      CHECK(waited < 3.0);
      CHECK(c.ClosedByServer(milliseconds(4000)));
    }
    SUBCASE("when the client sends a byte at a time (the timeout runs from the first byte)") {
      RawConnection c(t.broker->port());
      const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(100, 's') + "\r\n\r\n";
      bool got_408 = false;
      for (const char ch : request) {
        if (!c.TryWrite(std::string(1, ch))) break;
        if (c.Fill(milliseconds(50))) {
          got_408 = c.buffered().rfind("HTTP/1.1 408", 0) == 0;
          break;
        }
      }
      CHECK(got_408);
    }
    SUBCASE("when a new connection sends nothing, it is closed after the header timeout") {
      RawConnection c(t.broker->port());
      const auto start = Clock::now();
      CHECK(c.ClosedByServer(milliseconds(5000)));
      CHECK(std::chrono::duration<double>(Clock::now() - start).count() < 3.0);
    }
    SUBCASE("when the connection is idle between requests it is not a slow request") {
      RawConnection c(t.broker->port());
      TimedHealth(c);
      std::this_thread::sleep_for(milliseconds(1200));
      TimedHealth(c);
    }
  }

  TEST_CASE("an idle persistent connection is closed after the idle timeout") {
    OsbTest t(EnvOverrides{{"BROKER_HTTP_IDLE_TIMEOUT_MS", "500"}});
    RawConnection c(t.broker->port());
    TimedHealth(c);
    const auto start = Clock::now();
    CHECK(c.ClosedByServer(milliseconds(5000)));
    const double waited = std::chrono::duration<double>(Clock::now() - start).count();
    CHECK(waited > 0.3);
    CHECK(waited < 3.0);
  }

  TEST_CASE("request values cannot forge a log line or a log field") {
    OsbTest t;
    RawConnection c(t.broker->port());
    // A decoded %0a in an id, a space and a quote in the request identity, a %00 in an id.
    c.Write(
        "GET /v2/service_instances/a%0a2026-01-01T00:00:00.000Z%20info%20http%20FORGED-LINE HTTP/1.1\r\nHost: x\r\n" +
        Authorization(t) +
        "X-Broker-API-Version: 2.17\r\nX-Broker-API-Request-Identity: rid status=999 \"FORGED-FIELD\r\n\r\n");
    CHECK(c.ReadResponse().status == 404);
    c.Write("GET /v2/service_instances/X%00y/service_bindings/b%22c HTTP/1.1\r\nHost: x\r\n" + Authorization(t) +
            "X-Broker-API-Version: 2.17\r\nX-Broker-API-Request-Identity: nul-test\r\n\r\n");
    CHECK(c.ReadResponse().status >= 400);
    // The broker flushes its log at least every second.
    std::string log;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while ((log = t.broker->Log()).find("request_id=nul-test") == std::string::npos && Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(100));
    }
    std::istringstream lines(log);
    std::string line;
    int access_lines = 0;
    while (std::getline(lines, line)) {
      CAPTURE(line);
      // Every line is the broker's: it starts with its timestamp and holds no control byte.
      CHECK(line.rfind("20", 0) == 0);
      CHECK(std::none_of(line.begin(), line.end(),
                         [](char ch) { return ch != '\t' && static_cast<unsigned char>(ch) < 0x20; }));
      // The forged text appears only inside the one access-log line, quoted.
      if (line.find("FORGED") != std::string::npos) {
        CHECK(line.find(" http.request method=GET ") != std::string::npos);
        ++access_lines;
        CHECK(line.find(R"(instance_id="a\n2026-01-01T00:00:00.000Z info http FORGED-LINE")") != std::string::npos);
        CHECK(line.find(R"(request_id="rid status=999 \"FORGED-FIELD")") != std::string::npos);
      }
      if (line.find("request_id=nul-test") != std::string::npos) {
        CHECK(line.find("instance_id=X") == std::string::npos);  // never bare: quoted, or left out
        CHECK(line.find("binding_id=b") == std::string::npos);
      }
    }
    CHECK(access_lines == 1);
  }
}

}  // namespace
}  // namespace broker::testing
