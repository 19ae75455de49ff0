// Pieces shared by the tests and benchmarks that run the real broker's clone engine against the
// fake Cloud Controller: binding ids, the session report the fake posts as "the container", and the
// broker environment that wires a broker to a fake.
#ifndef BROKER_TESTS_SUPPORT_CLONE_FIXTURE_H_
#define BROKER_TESTS_SUPPORT_CLONE_FIXTURE_H_

#include <string>

#include "tests/support/broker_process.h"
#include "tests/support/fake_cloud_controller.h"

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

}  // namespace broker::testing

#endif  // BROKER_TESTS_SUPPORT_CLONE_FIXTURE_H_
