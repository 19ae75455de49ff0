// fake_cc: runs the fake Cloud Controller (+ UAA + log-cache) as a standalone program for local
// demos and manual poking with curl or the cf CLI's `cf curl`-style requests.
//
//   fake_cc [--port N] [--seed demo|none]
//
// Listens on 127.0.0.1 only, prints the base URL and the UAA credentials, and serves until SIGINT
// or SIGTERM. `--seed demo` (the default) loads FakeCloudController::SeedDemoFoundation(): one
// org/space, the buildpack app `spring-music` with two managed bindings and one user-provided.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/support/fake_cloud_controller.h"

namespace {

int Usage(const char* argv0) {
  std::cerr << "usage: " << argv0 << " [--port N] [--seed demo|none]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string seed = "demo";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return Usage(argv[0]), 0;
    if (i + 1 >= argc) return Usage(argv[0]);
    if (arg == "--port") {
      char* end = nullptr;
      const long v = std::strtol(argv[++i], &end, 10);
      if (end == nullptr || *end != '\0' || v < 0 || v > 65535) return Usage(argv[0]);
      port = static_cast<int>(v);
    } else if (arg == "--seed") {
      seed = argv[++i];
      if (seed != "demo" && seed != "none") return Usage(argv[0]);
    } else {
      return Usage(argv[0]);
    }
  }

  // Block the signals before any thread starts so that only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  broker::testing::FakeCloudController fake;
  broker::testing::FakeCloudController::DemoFoundation demo;
  if (seed == "demo") demo = fake.SeedDemoFoundation();
  try {
    fake.Start(port);
  } catch (const std::exception& e) {
    std::cerr << "fake_cc: " << e.what() << "\n";
    return 1;
  }

  std::cout << "fake_cc listening on " << fake.base_url() << "\n"
            << "  CF_API_URL=" << fake.base_url() << "\n";
  if (seed == "demo") {
    std::cout << "  CF_CLIENT_ID=" << demo.client_id << "\n"
              << "  CF_CLIENT_SECRET=" << demo.client_secret << "\n"
              << "  password grant (client \"cf\", empty secret): " << demo.username << " / " << demo.password << "\n"
              << "  org " << demo.org_guid << "  space " << demo.space_guid << "\n"
              << "  app spring-music " << demo.app_guid << "\n"
              << "  ssh-access instance my-ssh " << demo.ssh_instance_guid << "\n";
  } else {
    std::cout << "  (no seed: only the public UAA client \"cf\" exists)\n";
  }
  std::cout.flush();

  int received = 0;
  sigwait(&signals, &received);
  std::cout << "fake_cc: signal " << received << ", stopping\n";
  fake.Stop();
  return 0;
}
