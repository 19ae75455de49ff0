#include "tests/support/clone_fixture.h"

#include <cstdio>

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

}  // namespace broker::testing
