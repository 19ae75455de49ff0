// FakeTmateServer: a loopback TCP server standing in for tmate-ssh-server in tests, talking to the
// fake tmate client (tests/support/programs/fake_tmate_main.cc, target `fake_tmate`), its only
// client. Together they reproduce what the bootstrap (broker/session/bootstrap.sh) sees from the
// real pair: the `-F` output of tmate.md §4.2, fingerprint checks, authorized-keys enforcement
// (server -A), reconnects with fresh tokens; and they let a test act as a viewer typing into the
// session's shell (Run), to check the shell's directory and environment.
//
// Wire protocol (text lines ending in '\n'; <esc> = EscapeLine(): '\\' -> "\\\\", '\n' -> "\\n",
// '\r' -> "\\r"; one space between fields):
//   server, on accept:  FAKE-TMATE-SERVER 1 <ed25519-fingerprint> <advertised-host> <advertised-port> <0|1 require-keys>
//   client, fingerprint differs from its config: closes (prints `Cannot authenticate server`).
//   client, else:       key <esc authorized key>     (one per `tmate-set authorized_keys=...`)
//                       cwd <esc directory>          (new-session -c)
//                       env <esc NAME=VALUE>         (one per variable of its own environment)
//                       pid <pid>
//                       tokens <rw-token> <ro-token> (the ro token includes "ro-")
//                       ready
//   server:             ok          the session is up; the client prints its session lines
//                       need-keys   require-keys and no keys: the client prints the session
//                                   lines and the refusal, the server half-closes, the client
//                                   disconnects and reconnects with new tokens
//   server, later:      run <id> <esc command>   client runs `bash -c command` in cwd with its
//                                                environment (plus TMUX), stdin /dev/null
//                       exit <status>            client exits with that status, printing nothing
//                                                (as tmate does when the shell exits and
//                                                tmate-foreground-restart is 0)
//   client:             result <id> <exit status> <esc stdout+stderr>
// A dropped connection makes the client print `Error reading from channel: Socket error:
// disconnected`, `Reconnecting...` and connect again after FAKE_TMATE_RETRY_MS.
//
// Thread-safety: every public member function may be called from any thread at any time. One
// thread accepts, one thread per connection reads; Stop() (also run by the destructor) shuts every
// connection down and joins all of them. No timers: the only waits are the callers' timeouts.
#ifndef BROKER_TESTS_SUPPORT_FAKE_TMATE_SERVER_H_
#define BROKER_TESTS_SUPPORT_FAKE_TMATE_SERVER_H_

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace broker::testing {

// The protocol's line escaping (see above), shared with the fake tmate client.
std::string EscapeLine(std::string_view text);
// Writes all of `data` to the socket (no SIGPIPE); false when the peer is gone.
bool SendAll(int fd, std::string_view data);
std::string UnescapeLine(std::string_view text);

class FakeTmateServer {
 public:
  // What one client connection announced ("ready" received).
  struct Session {
    int id = 0;                                // 1, 2, ... in the order the sessions came up
    std::string token;                         // as printed in `ssh session:`
    std::string token_read_only;               // as printed in `ssh session read only:` ("ro-...")
    std::vector<std::string> authorized_keys;  // the client's tmate-set authorized_keys values
    std::string cwd;                           // the session's directory (new-session -c)
    std::map<std::string, std::string> env;    // the client's own environment
    int client_pid = 0;
    bool refused = false;  // require-keys and no keys: told so and disconnected
    bool live = false;     // the connection is still open
  };

  struct RunResult {
    int exit_status = -1;  // bash's exit status (128+N when killed by signal N)
    std::string output;    // stdout and stderr, interleaved
  };

  FakeTmateServer();
  ~FakeTmateServer();  // Stop()
  FakeTmateServer(const FakeTmateServer&) = delete;
  FakeTmateServer& operator=(const FakeTmateServer&) = delete;

  // Listens on 127.0.0.1:port (0: any free port). Throws std::runtime_error when it cannot, or
  // when already started.
  void Start(int port = 0);
  // Stops accepting, drops every connection and joins every thread. Idempotent.
  void Stop();
  int port() const;  // 0 before Start()

  // The banner's values for connections accepted from now on.
  void set_fingerprint(std::string fingerprint);   // default kDefaultFingerprint
  std::string fingerprint() const;
  void set_advertised_host(std::string host);      // default "127.0.0.1" (like -h)
  void set_advertised_port(int port);              // default 0 = the listening port (like -q)
  void set_require_keys(bool require);             // default false (like -A)

  // Drops every open connection, as a restarted server would; keeps listening.
  void Restart();

  // Every session announced so far, oldest first.
  std::vector<Session> Sessions() const;
  // Connections accepted so far (including ones the client then refused).
  std::size_t connections() const;
  // Blocks until at least `count` sessions were announced; false on timeout.
  bool WaitForSessions(std::size_t count, std::chrono::milliseconds timeout) const;

  // Asks the most recent live, non-refused session to run `bash -c command` in its directory with
  // its environment, and waits for the output. nullopt when there is no such session, it
  // disconnects, or `timeout` passes.
  std::optional<RunResult> Run(const std::string& command, std::chrono::milliseconds timeout);
  // Asks the most recent live, non-refused session's client to exit with `status`. False when
  // there is no such session.
  bool ExitClient(int status);

  static constexpr char kDefaultFingerprint[] = "SHA256:FakeTmateServerEd25519KeyAAAAAAAAAAAAAAAAAAAAAAA";

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace broker::testing

#endif  // BROKER_TESTS_SUPPORT_FAKE_TMATE_SERVER_H_
