#include "tests/support/clone_fixture.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <thread>

#include "tests/support/osb_fixtures.h"

namespace broker::testing {

std::string CloneBindingId(int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%08x-bbbb-4ccc-8ddd-%012d", static_cast<unsigned>(n) * 2654435761u, n);
  return buf;
}

FakeCloudController::SessionReport ContainerReport(const std::string& ssh_command,
                                                   const std::string& ssh_command_read_only) {
  FakeCloudController::SessionReport r;
  r.url = "{env:SSH_ACCESS_SESSION_URL}";
  r.bearer_token = "{env:SSH_ACCESS_SESSION_TOKEN}";
  r.body = R"({"ssh_command":")" + ssh_command + "\"";
  if (!ssh_command_read_only.empty()) r.body += R"(,"ssh_command_read_only":")" + ssh_command_read_only + "\"";
  r.body += "}";
  return r;
}

EnvOverrides CloneEngineEnv(const FakeCloudController& fake, const FakeCloudController::DemoFoundation& demo,
                            int port) {
  return {
      {"PORT", std::to_string(port)},
      {"BROKER_PUBLIC_URL", "http://127.0.0.1:" + std::to_string(port)},
      {"CF_API_URL", fake.base_url()},
      {"CF_CLIENT_ID", demo.client_id},
      {"CF_CLIENT_SECRET", demo.client_secret},
      {"CF_BROKER_NAME", "ssh-access-broker"},
      {"WORKER_THREADS", "4"},
      {"WORKER_LEASE_MS", "2000"},
      {"CLONE_POLL_INTERVAL_MS", "20"},
      {"TMATE_SERVER_HOST", "tmate.example.com"},
      {"TMATE_SERVER_PORT", "2222"},
      {"TMATE_SERVER_ED25519_FINGERPRINT", "SHA256:Z1f1NWhPZ4YjPU9zmjm+d+cWm8XJx5cmXNgs46mkHKg"},
  };
}

// ---- CloneHarness ------------------------------------------------------------------------------

using std::chrono::milliseconds;

CloneHarness::CloneHarness(const std::function<void(Fake&)>& prepare, const EnvOverrides& extra,
                           std::optional<Fake::SessionReport> report) {
  fake.Start();
  demo = fake.SeedDemoFoundation();
  Fake::Knobs k = fake.knobs();
  k.session_report = std::move(report);
  fake.SetKnobs(k);
  if (prepare) prepare(fake);
  broker = StartBroker(extra);
  http = std::make_unique<HttpClient>(broker->base_url(), broker->username(), broker->password());
}

FakeCloudController::SessionReport CloneHarness::DefaultReport() {
  return ContainerReport("ssh -p2222 Xk9fQ2mZ7aP4rT8wYb3nC6vD1@tmate.example.com",
                         "ssh -p2222 ro0Xk9fQ2mZ7aP4rT8wYb3nC6@tmate.example.com");
}

std::unique_ptr<BrokerProcess> CloneHarness::StartBroker(const EnvOverrides& extra) {
  const int port = FreeLoopbackPort();
  EnvOverrides env = CloneEngineEnv(fake, demo, port);
  if (broker) {
    env["SECURITY_USER_NAME"] = broker->username();
    env["SECURITY_USER_PASSWORD"] = broker->password();
    env["BROKER_ENCRYPTION_KEY"] = broker->encryption_key();
  }
  for (const auto& [key, value] : extra) env[key] = value;
  return std::make_unique<BrokerProcess>(db.url(), env);
}

void CloneHarness::Provision() {
  Request r;
  r.method = "PUT";
  r.path = InstancePath(kInstance);
  r.body = ProvisionBody();
  const Response resp = Send(r);
  REQUIRE_MESSAGE(resp.status == 201, resp.Describe());
}

Response CloneHarness::Bind(const std::string& bid, const std::string& app_guid, const std::string& params) const {
  Request r;
  r.method = "PUT";
  r.path = BindingPath(kInstance, bid, "accepts_incomplete=true");
  r.body = BindBody(kStandardPlanId, app_guid, params);
  return Send(r);
}

Response CloneHarness::Unbind(const std::string& bid) const {
  Request r;
  r.method = "DELETE";
  r.path = BindingPath(kInstance, bid, kAsyncUnbindQuery);
  return Send(r);
}

rapidjson::Document CloneHarness::AwaitOperation(const std::string& bid, const std::string& operation,
                                                 milliseconds timeout) const {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    Request r;
    r.path = BindingLastOperationPath(kInstance, bid, "operation=" + operation);
    const Response resp = Send(r);
    if (resp.status == 410) {
      rapidjson::Document gone;
      gone.Parse(R"({"state":"gone"})");
      return gone;
    }
    REQUIRE_MESSAGE(resp.status == 200, resp.Describe(), "\nbroker log tail:\n", broker->LogTail(30));
    rapidjson::Document d = ParseJson(resp.body);
    const auto state = StringMember(d, "state");
    REQUIRE(state.has_value());
    if (*state != "in progress") return d;
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < until,
                    "still in progress after the timeout; broker log tail:\n" << broker->LogTail(60));
    std::this_thread::sleep_for(milliseconds(25));
  }
}

rapidjson::Document CloneHarness::BindAndWait(const std::string& bid, const std::string& app_guid,
                                              const std::string& params) {
  const Response r = Bind(bid, app_guid, params);
  REQUIRE_MESSAGE(r.status == 202, r.Describe());
  return AwaitOperation(bid, OperationOf(r));
}

rapidjson::Document CloneHarness::UnbindAndWait(const std::string& bid) {
  const Response r = Unbind(bid);
  REQUIRE_MESSAGE(r.status == 202, r.Describe());
  return AwaitOperation(bid, OperationOf(r));
}

rapidjson::Document CloneHarness::Credentials(const std::string& bid) const {
  Request r;
  r.path = BindingPath(kInstance, bid);
  const Response resp = Send(r);
  REQUIRE_MESSAGE(resp.status == 200, resp.Describe());
  rapidjson::Document d = ParseJson(resp.body);
  REQUIRE(HasMember(d, "credentials"));
  rapidjson::Document c;
  c.CopyFrom(d["credentials"], c.GetAllocator());
  return c;
}

std::vector<FakeCloudController::AppView> CloneHarness::ClonesOf(const std::string& bid) const {
  return fake.AppsWithLabel(std::string(kLabelKey) + "=" + bid);
}

std::vector<FakeCloudController::AppView> CloneHarness::AllClones() const {
  return fake.AppsWithLabel("ssh-access.broker/managed-by");
}

bool CloneHarness::AwaitNoClone(const std::string& bid, milliseconds timeout) const {
  return Eventually([&] { return ClonesOf(bid).empty(); }, timeout);
}

bool CloneHarness::Eventually(const std::function<bool()>& pred, milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return pred();
}

std::string CloneHarness::Description(const rapidjson::Document& op) {
  return StringMember(op, "description").value_or("");
}

std::string CloneHarness::State(const rapidjson::Document& op) { return StringMember(op, "state").value_or(""); }

}  // namespace broker::testing
