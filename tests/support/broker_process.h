// BrokerProcess: the real broker binary (BROKER_BINARY_PATH), run as a child process for
// black-box integration tests.
//
// The broker runs with BROKER_SOURCE_DIR as its working directory (so catalog/ and migrations/
// are found), on a free loopback port, with an environment built from defaults plus the test's
// overrides. Nothing of the test runner's own environment leaks in except PATH, HOME, LANG and TZ.
// Its stdout and stderr go to one file that survives restarts; Log() reads it back.
//
// Failures to start throw std::runtime_error whose message carries the log's tail, so doctest
// reports them with the broker's own words. The destructor SIGKILLs a still-running broker.
// Not thread-safe: one test thread owns a BrokerProcess.
#ifndef BROKER_TESTS_SUPPORT_BROKER_PROCESS_H_
#define BROKER_TESTS_SUPPORT_BROKER_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <map>
#include <optional>
#include <string>

#include "tests/support/temp_dir.h"

namespace broker::testing {

// Environment overrides: a value sets the variable, nullopt removes it (also a default).
using EnvOverrides = std::map<std::string, std::optional<std::string>>;
using Env = std::map<std::string, std::string>;

// A fresh random password (24 alphanumerics) and encryption key (base64 of 32 random bytes).
std::string RandomPassword();
std::string RandomEncryptionKey();
// A loopback TCP port nobody listens on right now.
int FreeLoopbackPort();

// The full environment a broker gets: DATABASE_URL=database_url, SECURITY_USER_NAME=broker,
// SECURITY_USER_PASSWORD=<random>, BROKER_ENCRYPTION_KEY=<random>, LOG_LEVEL=debug,
// PORT=<free port>, plus PATH/HOME/LANG/TZ from the runner, then `overrides` applied.
Env MakeBrokerEnv(const std::string& database_url, const EnvOverrides& overrides = {});

class BrokerProcess {
 public:
  // Starts the broker with MakeBrokerEnv(database_url, overrides) and waits until GET /healthz
  // answers 200 (up to `startup_timeout`). Throws std::runtime_error (with the log tail) when the
  // process exits or does not become healthy in time.
  explicit BrokerProcess(const std::string& database_url, const EnvOverrides& overrides = {},
                         std::chrono::milliseconds startup_timeout = std::chrono::seconds(15));
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  int port() const { return port_; }
  std::string base_url() const;  // "http://127.0.0.1:<port>"
  const Env& env() const { return env_; }
  std::string username() const;        // SECURITY_USER_NAME, "" when unset
  std::string password() const;        // SECURITY_USER_PASSWORD, "" when unset
  std::string encryption_key() const;  // BROKER_ENCRYPTION_KEY, "" when unset
  pid_t pid() const { return pid_; }
  bool running();  // reaps the child if it has exited

  // Everything the broker wrote to stdout and stderr, across restarts.
  std::string Log() const;
  std::string LogTail(size_t lines = 40) const;

  // Sends `signal` and waits for the process to exit. No-op when it is not running.
  void Kill(int signal = SIGKILL);
  // SIGTERM, then waits up to `timeout` (SIGKILL after it). Returns the raw wait status, or -1
  // when the process was not running.
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Kills a running process (SIGKILL), then starts again with the same environment and port
  // and waits for health, as the constructor does.
  void Restart(std::chrono::milliseconds startup_timeout = std::chrono::seconds(15));

 private:
  void Start(std::chrono::milliseconds startup_timeout);
  bool WaitExit(std::chrono::milliseconds timeout, int* wait_status);

  Env env_;
  int port_ = 0;
  TempDir dir_;  // holds log_path_; kept when BROKER_TEST_KEEP_LOGS is set
  std::string log_path_;
  pid_t pid_ = -1;
  int last_wait_status_ = 0;
};

// A broker run that is expected to exit by itself (e.g. on invalid configuration).
struct ExitResult {
  bool exited = false;      // exited normally (see exit_code)
  int exit_code = -1;
  bool signaled = false;    // killed by a signal (see signal)
  int signal = 0;
  bool timed_out = false;   // still running after the timeout (then SIGKILLed)
  std::string output;       // stdout + stderr
};

// Runs the broker binary with exactly `env` (cwd BROKER_SOURCE_DIR) until it exits, at most
// `timeout`.
ExitResult RunBrokerUntilExit(const Env& env,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace broker::testing

#endif  // BROKER_TESTS_SUPPORT_BROKER_PROCESS_H_
