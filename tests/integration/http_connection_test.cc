// How the broker's HTTP server answers on the wire: persistent HTTP/1.1 connections (responses
// written directly, framed by Content-Length), answers too large for the socket at once, and the
// clients that ask for one response only (Connection: close, HTTP/1.0). Raw sockets, so framing
// mistakes a forgiving client would hide are seen. Black-box: the real broker binary.
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "tests/support/osb_fixtures.h"
#include "tests/support/raw_connection.h"

namespace broker::testing {
namespace {

std::string CatalogRequest(const OsbTest& t, const std::string& extra = "", const std::string& version = "HTTP/1.1") {
  return "GET /v2/catalog " + version +
         "\r\nHost: 127.0.0.1\r\nAuthorization: " + BasicAuthHeaderValue(t.broker->username(), t.broker->password()) +
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
    // Header limits at their maximum (1 MiB) so that 500 KiB header lines pass the edge.
    OsbTest t(EnvOverrides{{"BROKER_MAX_HEADER_BYTES", "1048576"}, {"BROKER_MAX_HEADER_LINE_BYTES", "1048576"}});
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

  TEST_CASE("a 2 MB header is refused with 431 and the broker goes on") {
    OsbTest t;
    const std::string before = t.db.Snapshot();
    RawConnection c(t.broker->port());
    // The edge answers once the header passes its limit; the client may still be sending.
    c.TryWrite(CatalogRequest(t, "X-Pad: " + std::string(2 * 1024 * 1024, 'p') + "\r\n"));
    const auto refused = c.ReadResponse();
    CHECK(refused.status == 431);
    CHECK(refused.Header("Connection") == std::optional<std::string>("close"));
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
