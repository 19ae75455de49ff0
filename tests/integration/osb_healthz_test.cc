// GET /healthz: unauthenticated liveness that reflects whether the database answers.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {
namespace {

Request HealthRequest() {
  Request req;
  req.method = "GET";
  req.path = "/healthz";
  req.auth = Auth::None();
  req.api_version = std::nullopt;
  req.timeout = std::chrono::seconds(10);
  return req;
}

// Polls /healthz until it answers `status` or `timeout` passes; returns the last response.
Response AwaitHealth(const HttpClient& http, long status, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Response r;
  while (true) {
    r = http.Send(HealthRequest());
    if (r.status == status || std::chrono::steady_clock::now() >= deadline) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

TEST_SUITE("osb healthz") {
  TEST_CASE("healthz answers 200 without credentials or version header when the database answers") {
    OsbTest t;
    Response r = t.Send(HealthRequest());
    CHECK(r.status == 200);
  }

  TEST_CASE("healthz answers 503 while the database is unreachable and 200 again once it is back") {
    TestDatabase db;
    auto [host, port] = HostPortOf(db.url());
    TcpProxy proxy(host, port);
    BrokerProcess broker(WithHostPort(db.url(), proxy.port()));
    HttpClient http(broker.base_url(), broker.username(), broker.password());
    REQUIRE(http.Send(HealthRequest()).status == 200);

    proxy.Close();  // every connection cut, new ones refused
    Response down = AwaitHealth(http, 503, std::chrono::seconds(10));
    INFO("healthz while the database is down: ", down.Describe());
    CHECK(down.status == 503);
    CheckJsonObjectResponse(down);

    // OSB requests that need the database fail with a 5xx, not a hang or a 404 that would tell
    // the platform the instance is gone.
    Response fetch = http.Get(InstancePath("i-1"));
    INFO("fetch instance while the database is down: ", fetch.Describe());
    CHECK(fetch.status >= 500);

    proxy.Open();
    Response up = AwaitHealth(http, 200, std::chrono::seconds(15));
    INFO("healthz after the database came back: ", up.Describe());
    CHECK(up.status == 200);
    CHECK(http.Get(InstancePath("i-1")).status == 404);
    CHECK(broker.running());
  }
}

}  // namespace
}  // namespace broker::testing
