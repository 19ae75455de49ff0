// fake_tmate_server: FakeTmateServer (tests/support/fake_tmate_server.h) as a program, the
// stand-in tmate-ssh-server of scripts/demo when no real one is configured.
//
//   fake_tmate_server [--port N] [--fingerprint SHA256:...] [--require-keys]
//
// Prints "fake_tmate_server listening on 127.0.0.1:<port>" and the fingerprint, logs each session
// that comes up (its token's first 4 characters only, as tmate-ssh-server does), and serves until
// SIGINT or SIGTERM. Only the fake tmate client (fake_tmate) speaks its protocol.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "tests/support/fake_tmate_server.h"

namespace {

int Usage(const char* argv0) {
  std::cerr << "usage: " << argv0 << " [--port N] [--fingerprint SHA256:...] [--require-keys]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string fingerprint = broker::testing::FakeTmateServer::kDefaultFingerprint;
  bool require_keys = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return Usage(argv[0]), 0;
    if (arg == "--port" && i + 1 < argc) {
      port = std::atoi(argv[++i]);
      if (port < 0 || port > 65535) return Usage(argv[0]);
    } else if (arg == "--fingerprint" && i + 1 < argc) {
      fingerprint = argv[++i];
    } else if (arg == "--require-keys") {
      require_keys = true;
    } else {
      return Usage(argv[0]);
    }
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  broker::testing::FakeTmateServer server;
  server.set_fingerprint(fingerprint);
  server.set_require_keys(require_keys);
  try {
    server.Start(port);
  } catch (const std::exception& e) {
    std::cerr << "fake_tmate_server: " << e.what() << "\n";
    return 1;
  }
  std::cout << "fake_tmate_server listening on 127.0.0.1:" << server.port() << "\n"
            << "  TMATE_SERVER_ED25519_FINGERPRINT=" << server.fingerprint() << std::endl;

  // Report sessions as they come up, from a watcher thread; the main thread waits for a signal.
  std::atomic<bool> stopping{false};
  std::thread watcher([&server, &stopping] {
    std::size_t seen = 0;
    while (!stopping.load()) {
      if (!server.WaitForSessions(seen + 1, std::chrono::milliseconds(200))) continue;
      const auto sessions = server.Sessions();
      for (; seen < sessions.size(); ++seen) {
        std::cout << "fake_tmate_server: session " << sessions[seen].id << " up (token "
                  << sessions[seen].token.substr(0, 4) << "...), directory " << sessions[seen].cwd << std::endl;
      }
    }
  });
  int received = 0;
  sigwait(&signals, &received);
  stopping.store(true);
  watcher.join();
  server.Stop();
  std::cout << "fake_tmate_server: signal " << received << ", stopped" << std::endl;
  return 0;
}
