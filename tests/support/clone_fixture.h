// Pieces shared by the tests and benchmarks that run the real broker's clone engine against the
// fake Cloud Controller: binding ids, the session report the fake posts as "the container", and the
// broker environment that wires a broker to a fake.
#ifndef BROKER_TESTS_SUPPORT_CLONE_FIXTURE_H_
#define BROKER_TESTS_SUPPORT_CLONE_FIXTURE_H_

#include <rapidjson/document.h>

#include <chrono>
#include <optional>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/broker_process.h"
#include "tests/support/fake_cloud_controller.h"
#include "tests/support/http_client.h"
#include "tests/support/test_database.h"

namespace broker::testing {

// A binding id for test number `n`. Its first 8 characters differ per `n`: they make the clone's
// fallback name "<app>-ssh-<8>".
std::string CloneBindingId(int n);

// What the clone's bootstrap does once tmate is connected: POST `ssh_command` (and, when not
// empty, `ssh_command_read_only`) to the broker's session URL with the token from the clone's
// environment. The fake posts it when the clone reaches RUNNING.
FakeCloudController::SessionReport ContainerReport(const std::string& ssh_command,
                                                   const std::string& ssh_command_read_only = "");

// The environment of a broker on loopback `port` that clones through `fake` (seeded with
// SeedDemoFoundation(), whose broker is "ssh-access-broker"): PORT, BROKER_PUBLIC_URL, CF_*,
// TMATE_SERVER_*, WORKER_THREADS=4, WORKER_LEASE_MS=2000, CLONE_POLL_INTERVAL_MS=20; callers
// override what they need.
EnvOverrides CloneEngineEnv(const FakeCloudController& fake, const FakeCloudController::DemoFoundation& demo,
                            int port);

// The demo foundation on a started fake Cloud Controller, a fresh database, one broker process
// wired to both (CloneEngineEnv), and the OSB calls the platform makes, as doctest-REQUIRE-ing
// helpers. `prepare` runs on the seeded fake before the broker starts; `extra` overrides the
// broker's environment. With `report` set, the fake posts it as the container's session report
// when a clone reaches RUNNING; without it something else must (the real bootstrap in the
// end-to-end tests).
class CloneHarness {
 public:
  using Fake = FakeCloudController;
  static constexpr char kInstance[] = "11111111-aaaa-4bbb-8ccc-000000000001";
  static constexpr char kLabelKey[] = "ssh-access.broker/binding-guid";

  explicit CloneHarness(const std::function<void(Fake&)>& prepare = {}, const EnvOverrides& extra = {},
                        std::optional<Fake::SessionReport> report = DefaultReport());
  virtual ~CloneHarness() = default;

  // The report of a session "Xk9fQ2mZ7aP4rT8wYb3nC6vD1@tmate.example.com" port 2222 (+ read-only).
  static Fake::SessionReport DefaultReport();

  // A broker process on the same database and fake (a second one shares the first one's secrets).
  std::unique_ptr<BrokerProcess> StartBroker(const EnvOverrides& extra = {});

  Response Send(const Request& r) const { return http->Send(r); }
  void Provision();  // REQUIREs 201
  Response Bind(const std::string& bid, const std::string& app_guid, const std::string& params = "") const;
  Response Unbind(const std::string& bid) const;
  // Polls last_operation until it is no longer "in progress"; the final body ({"state":"gone"}
  // for a 410).
  rapidjson::Document AwaitOperation(const std::string& bid, const std::string& operation,
                                     std::chrono::milliseconds timeout = std::chrono::milliseconds(45000)) const;
  // Binds, REQUIREs 202, waits for the outcome; last_operation's final body.
  rapidjson::Document BindAndWait(const std::string& bid, const std::string& app_guid, const std::string& params = "");
  rapidjson::Document UnbindAndWait(const std::string& bid);
  // GET binding's credentials (REQUIREs 200).
  rapidjson::Document Credentials(const std::string& bid) const;

  std::vector<Fake::AppView> ClonesOf(const std::string& bid) const;
  std::vector<Fake::AppView> AllClones() const;
  // Waits until the fake holds no clone for the binding (cleanup runs after a failure).
  bool AwaitNoClone(const std::string& bid, std::chrono::milliseconds timeout = std::chrono::milliseconds(20000)) const;
  // Waits until `pred` holds; false after `timeout`.
  static bool Eventually(const std::function<bool()>& pred,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(20000));

  static std::string Description(const rapidjson::Document& op);
  static std::string State(const rapidjson::Document& op);

  Fake fake;
  Fake::DemoFoundation demo;
  TestDatabase db;
  std::unique_ptr<BrokerProcess> broker;
  std::unique_ptr<HttpClient> http;
};

}  // namespace broker::testing

#endif  // BROKER_TESTS_SUPPORT_CLONE_FIXTURE_H_
