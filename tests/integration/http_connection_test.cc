// How the broker's HTTP server answers on the wire: persistent HTTP/1.1 connections (responses
// written directly, framed by Content-Length), answers too large for the socket at once, and the
// clients that ask for one response only (Connection: close, HTTP/1.0). Raw sockets, so framing
// mistakes a forgiving client would hide are seen. Black-box: the real broker binary.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cctype>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

// One client connection, read with a deadline so a framing bug fails instead of hanging.
class RawConnection {
 public:
  explicit RawConnection(int port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    if (receive_buffer > 0) {
      REQUIRE(::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) == 0);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  void Write(const std::string& bytes) {
    REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  }

  // Reads more bytes into the buffer; false at EOF or after 10 s without any.
  bool Fill() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return false;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  struct Answer {
    int status = 0;
    std::string head;  // status line and header fields
    std::string body;
    std::optional<std::string> Header(const std::string& name) const {
      std::string lower_head = Lower(head);
      const auto at = lower_head.find("\r\n" + Lower(name) + ":");
      if (at == std::string::npos) return std::nullopt;
      const auto start = head.find_first_not_of(' ', at + 2 + name.size() + 1);
      return head.substr(start, head.find("\r\n", start) - start);
    }
  };

  // One response framed by its Content-Length (none: no body, as for a 204).
  Answer ReadResponse() {
    std::size_t end = 0;
    std::size_t searched = 0;
    while ((end = buffer_.find("\r\n\r\n", searched)) == std::string::npos) {
      searched = buffer_.size() < 3 ? 0 : buffer_.size() - 3;
      if (!Fill()) FAIL("no end of the header in " << buffer_.size() << " bytes: " << buffer_.substr(0, 200));
    }
    Answer a;
    a.head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    REQUIRE_MESSAGE((a.head.rfind("HTTP/1.1 ", 0) == 0 || a.head.rfind("HTTP/1.0 ", 0) == 0), a.head);
    a.status = std::stoi(a.head.substr(9, 3));
    const auto length = a.Header("Content-Length");
    const std::size_t want = length ? std::stoul(*length) : 0;
    while (buffer_.size() < want) {
      if (!Fill()) FAIL("the body ends at " << buffer_.size() << " of " << want << " bytes");
    }
    a.body = buffer_.substr(0, want);
    buffer_.erase(0, want);
    return a;
  }

  // True when the server closes the connection with nothing more to read.
  bool ClosedByServer() { return !Fill() && buffer_.empty(); }

 private:
  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  int fd_ = -1;
  std::string buffer_;
};

std::string CatalogRequest(const OsbTest& t, const std::string& extra = "", const std::string& version = "HTTP/1.1") {
  return "GET /v2/catalog " + version + "\r\nHost: 127.0.0.1\r\nAuthorization: " +
         BasicAuthHeaderValue(t.broker->username(), t.broker->password()) +
         "\r\nX-Broker-API-Version: 2.17\r\n" + extra + "\r\n";
}

TEST_SUITE("http connection") {
  TEST_CASE("one persistent connection answers request after request, each framed by its Content-Length") {
    OsbTest t;
    const std::string catalog = t.Get("/v2/catalog").body;
    RawConnection c(t.broker->port());
    for (int round = 0; round < 3; ++round) {
      CAPTURE(round);
      c.Write(CatalogRequest(t, "X-Broker-API-Request-Identity: id-" + std::to_string(round) + "\r\n"));
      const auto ok = c.ReadResponse();
      CHECK(ok.status == 200);
      CHECK(ok.body == catalog);
      CHECK(ok.Header("Content-Type") == std::optional<std::string>("application/json"));
      CHECK(ok.Header("Connection") == std::optional<std::string>("Keep-Alive"));
      CHECK(ok.Header("X-Broker-API-Request-Identity") == std::optional<std::string>("id-" + std::to_string(round)));

      c.Write("GET /v2/catalog HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Broker-API-Version: 2.17\r\n\r\n");
      const auto denied = c.ReadResponse();
      CHECK(denied.status == 401);
      CHECK(denied.Header("WWW-Authenticate") ==
            std::optional<std::string>(R"(Basic realm="ssh-access broker", charset="UTF-8")"));
      CHECK(denied.body.find("\"description\"") != std::string::npos);

      c.Write("POST /ssh-access/v1/bindings/b-1/session HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
      const auto no_token = c.ReadResponse();
      CHECK(no_token.status == 401);
      CHECK(no_token.Header("Cache-Control") == std::optional<std::string>("no-store"));
    }
  }

  TEST_CASE("an answer larger than the socket takes at once arrives whole, and the connection goes on") {
    OsbTest t;
    const std::string catalog = t.Get("/v2/catalog").body;
    // The request identity is echoed, so a 500 KiB one makes a 500 KB answer. The client reads
    // nothing until it has sent four such requests and a small one: the answers fill the socket
    // (a loopback socket with a tiny receive window takes about 1.7 MB), so a send is partial and
    // Pistache's queue writes the rest; every later answer must still come in order, whole.
    // Each request goes out only after the broker logged the one before: Pistache 0.0.5 drops
    // the start of a request that arrives in the same read as the end of the previous one.
    RawConnection c(t.broker->port(), /*receive_buffer=*/1024);
    auto identity = [](int i) { return "big-" + std::to_string(i) + "-" + std::string(500 * 1024, 'i'); };
    auto send_and_wait_for_log = [&](const std::string& id) {
      c.Write(CatalogRequest(t, "X-Broker-API-Request-Identity: " + id + "\r\n"));
      const std::string logged = "request_id=" + id.substr(0, 128) + " ";
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (t.broker->Log().find(logged) == std::string::npos) {
        REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "the broker never logged " << id.substr(0, 20));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    };
    constexpr int kBig = 4;
    for (int i = 0; i < kBig; ++i) send_and_wait_for_log(identity(i));
    send_and_wait_for_log("small");
    for (int i = 0; i < kBig; ++i) {
      CAPTURE(i);
      const auto big = c.ReadResponse();
      CHECK(big.status == 200);
      CHECK(big.Header("X-Broker-API-Request-Identity") == std::optional<std::string>(identity(i)));
      CHECK(big.body == catalog);
    }
    const auto small = c.ReadResponse();
    CHECK(small.status == 200);
    CHECK(small.Header("X-Broker-API-Request-Identity") == std::optional<std::string>("small"));
    CHECK(small.body == catalog);
    // And the connection goes on.
    c.Write(CatalogRequest(t, "X-Broker-API-Request-Identity: after\r\n"));
    const auto after = c.ReadResponse();
    CHECK(after.status == 200);
    CHECK(after.Header("X-Broker-API-Request-Identity") == std::optional<std::string>("after"));
  }

  TEST_CASE("a request over Pistache's limit is refused with 413 and the broker goes on") {
    OsbTest t;
    const std::string before = t.db.Snapshot();
    RawConnection c(t.broker->port());
    c.Write(CatalogRequest(t, "X-Pad: " + std::string(2 * 1024 * 1024, 'p') + "\r\n"));
    const auto refused = c.ReadResponse();
    CHECK(refused.status == 413);
    CHECK(t.Get("/v2/catalog").status == 200);
    CHECK(t.db.Snapshot() == before);
  }

  TEST_CASE("Connection: close and HTTP/1.0 requests get their whole answer") {
    OsbTest t;
    const std::string catalog = t.Get("/v2/catalog").body;
    {
      RawConnection c(t.broker->port());
      c.Write(CatalogRequest(t, "Connection: close\r\n"));
      const auto a = c.ReadResponse();
      CHECK(a.status == 200);
      CHECK(a.body == catalog);
      CHECK(a.Header("Connection").value_or("") != "Keep-Alive");
    }
    {
      RawConnection c(t.broker->port());
      c.Write(CatalogRequest(t, "", "HTTP/1.0"));
      const auto a = c.ReadResponse();
      CHECK(a.status == 200);
      CHECK(a.body == catalog);
    }
  }
}

}  // namespace
}  // namespace broker::testing
