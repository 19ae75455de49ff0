// fake_cc: runs the fake Cloud Controller (+ UAA + log-cache) as a standalone program for local
// demos and manual poking with curl or the cf CLI's `cf curl`-style requests.
//
//   fake_cc [--port N] [--seed demo|none] [--local-containers DIR [--container-env NAME=VALUE]...]
//
// Listens on 127.0.0.1 only, prints the base URL and the UAA credentials, and serves until SIGINT
// or SIGTERM. `--seed demo` (the default) loads FakeCloudController::SeedDemoFoundation(): one
// org/space, the buildpack app `spring-music` with two managed bindings and one user-provided.
// `--local-containers DIR` turns on Knobs::local_containers: a started app's web command runs as
// a local process under DIR (see fake_cloud_controller.h); each `--container-env` adds one
// variable to those processes' environment. On SIGINT/SIGTERM they are stopped before exit.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "tests/support/fake_cloud_controller.h"

namespace {

constexpr char kOptions[] =
    "  --port N                    listen on 127.0.0.1:N (default 0: any free port)\n"
    "  --seed demo|none            load the demo foundation (default demo)\n"
    "  --local-containers DIR      run started apps' web commands as local processes under DIR\n"
    "  --container-env NAME=VALUE  add a variable to those processes (repeatable)\n";

int Usage(const char* argv0) {
  std::cerr << "usage: " << argv0
            << " [--port N] [--seed demo|none] [--local-containers DIR [--container-env NAME=VALUE]...]\n"
            << kOptions;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string seed = "demo";
  std::optional<std::string> containers_dir;
  std::map<std::string, std::string> container_env;
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
    } else if (arg == "--local-containers") {
      containers_dir = argv[++i];
      if (containers_dir->empty()) return Usage(argv[0]);
    } else if (arg == "--container-env") {
      const std::string assignment = argv[++i];
      const std::size_t eq = assignment.find('=');
      if (eq == std::string::npos || eq == 0) return Usage(argv[0]);
      container_env[assignment.substr(0, eq)] = assignment.substr(eq + 1);
    } else {
      return Usage(argv[0]);
    }
  }
  if (!container_env.empty() && !containers_dir) return Usage(argv[0]);

  // Block the signals before any thread starts so that only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  broker::testing::FakeCloudController fake;
  broker::testing::FakeCloudController::DemoFoundation demo;
  if (seed == "demo") demo = fake.SeedDemoFoundation();
  if (containers_dir) {
    std::error_code ec;
    const std::filesystem::path dir = std::filesystem::absolute(*containers_dir, ec);
    if (ec || (std::filesystem::create_directories(dir, ec), ec)) {
      std::cerr << "fake_cc: --local-containers " << *containers_dir << ": " << ec.message() << "\n";
      return 1;
    }
    fake.UpdateKnobs([&](broker::testing::FakeCloudController::Knobs& k) {
      k.local_containers = broker::testing::FakeCloudController::LocalContainers{dir.string(), container_env};
    });
  }
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
  if (containers_dir) std::cout << "  local containers under " << fake.knobs().local_containers->root_dir << "\n";
  std::cout.flush();

  int received = 0;
  sigwait(&signals, &received);
  std::cout << "fake_cc: signal " << received << ", stopping\n";
  fake.Stop();
  return 0;
}
