// tmate as the broker drives it (reference/tmate.md): the config file the clone's bootstrap hands
// to `tmate -F -f FILE`, and the lines `tmate -F` prints, which the bootstrap forwards verbatim and
// the broker interprets here (so the container side stays a thin shell script).
//
// Pure functions; thread-safe. Nothing here logs: session lines carry secrets (anyone holding a
// token gets a shell in the clone).
#ifndef BROKER_SESSION_TMATE_H_
#define BROKER_SESSION_TMATE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/result.h"
#include "broker/session/session.h"

namespace broker::session {

// What the clone's tmate must be told (tmate.md §3).
struct TmateConfig {
  std::string server_host;         // tmate-server-host: a DNS name or IPv4 address
  int server_port = 22;            // tmate-server-port: 1..65535
  std::string ed25519_fingerprint; // "SHA256:<base64>" as `ssh-keygen -l -E SHA256` prints it; "" = unset
  std::string rsa_fingerprint;     // idem
  // OpenSSH public keys allowed to join ("TYPE BASE64 [comment]"); empty = anyone with the token.
  std::vector<std::string> authorized_keys;
};

// The TmateConfig member a validation failure is about.
enum class TmateField {
  kServerHost,
  kServerPort,
  kEd25519Fingerprint,
  kRsaFingerprint,
  kAuthorizedKeys,  // one of them; the message says which ("authorized_keys[1] ...")
};

struct TmateConfigError {
  TmateField field = TmateField::kServerHost;
  std::string message;  // one user-facing sentence naming the field; it never echoes the value
};

// The first member of `config`, in declaration order, that RenderTmateConfig would refuse, or
// nullopt when it renders. Callers that must name their own source of a value (config::LoadConfig
// names the environment variable) switch on `field`, never on the message.
std::optional<TmateConfigError> ValidateTmateConfig(const TmateConfig& config);

// The config file text, one `set -g` per line:
//   set -g tmate-server-host 'HOST'
//   set -g tmate-server-port PORT
//   set -g tmate-server-ed25519-fingerprint 'SHA256:...'   (when set)
//   set -g tmate-server-rsa-fingerprint 'SHA256:...'       (when set)
//   set -g tmate-foreground-restart 1
//   set-environment -gu LOCPATH                            (the bundle's locale data is for tmate only)
//   set -g tmate-set 'authorized_keys=TYPE BASE64'         (once per key; comments dropped)
// Every value is validated so it needs no escaping inside tmux's single quotes.
// kInvalidArgument with ValidateTmateConfig's message for a host, port, fingerprint or key that
// does not validate.
base::Result<std::string> RenderTmateConfig(const TmateConfig& config);

// One line of `tmate -F` output (tmate.md §4.2), classified. The exact texts come from the tmate
// 2.4.0 source (tmate-session.c, tmate-ssh-client.c, client.c, server.c + log.c's fatal()),
// tmate-ssh-server's tmate-daemon-decoder.c and tmate-websocket's session.ex, and from runs of
// Debian's tmate 2.4.0 (tests/unit/session/tmate_test.cc holds them).
enum class TmateLineKind {
  kSessionReadWrite,        // "ssh session: ssh[ -pPORT] TOKEN@HOST"
  kSessionReadOnly,         // "ssh session read only: ssh[ -pPORT] ro-TOKEN@HOST"
  kWebSession,              // "web session: URL" (a server with a web front end), URL valid (ValidWebUrl)
  kWebSessionReadOnly,      // "web session read only: URL", idem; not kept
  kConnecting,              // "Connecting to HOST..."
  kLookupFailure,           // "HOST lookup failure. Retrying in N seconds (<reason>)" (DNS)
  kConnectionError,         // "Error connecting: <reason>" (refused, reset, unreachable...)
  kConnectionTimeout,       // "Error connecting: Timeout connecting to IP" (libssh) or "...timed out"
  kCannotAuthenticate,      // "Cannot authenticate server" (fingerprint mismatch)
  kAuthorizedKeysRequired,  // "Server requires authorized_keys but none are given."
  kAuthorizedKeysHint,      // the refusal's next lines: "Use '-a FILENAME' ..." and "Press <Ctrl-c><Ctrl-d> to exit."
  kSocketError,             // "error connecting to PATH (<reason>)", "fatal: couldn't create socket: <reason>"
  kDisconnected,            // "Error reading from channel: <reason>"
  kReconnecting,            // "Reconnecting..." (and "Reconnecting... (<message>)")
  kSessionClosed,           // "Session closed"
  kShellRestarted,          // "Session shell restarted"
  kOther,                   // anything else (notes, hints, empty lines, a web line whose URL is not valid)
};

struct TmateLine {
  TmateLineKind kind = TmateLineKind::kOther;
  std::optional<SshEndpoint> endpoint;  // kSessionReadWrite / kSessionReadOnly only
  std::optional<std::string> web_url;   // kWebSession only
  // kLookupFailure, kConnectionError, kConnectionTimeout, kSocketError, kDisconnected: the reason
  // tmate gave; kOther: the line itself. Always SanitizeFailureDetail'd (so never a token).
  std::string reason;
};

// Classifies one line (a trailing '\r' is ignored). A session line whose command does not parse
// (ParseSshCommand) is kOther: it is never mistaken for a usable session; so is a `web session`
// line whose URL is not one MergeSession keeps (it is ignored, never an error).
TmateLine ParseTmateLine(std::string_view line);

// Why tmate has no usable session.
struct TmateFailure {
  enum class Kind {
    kConnectionError,         // the server could not be reached (refused, reset, unreachable...)
    kCannotAuthenticate,      // the server's host key does not match the configured fingerprint
    kAuthorizedKeysRequired,  // the server runs with -A and the bind gave no authorized_keys
    kDisconnected,            // the connection dropped and did not come back
    kBootstrap,               // the bootstrap itself failed (bundle download, checksum, ...)
    kLookupFailure,           // the server's host name does not resolve in the clone (DNS)
    kTimeout,                 // connecting to the server timed out (packets dropped)
    kSocketError,             // tmate could not create or reach its local Unix socket
    kStartTimeout,            // no session within the bootstrap's start timeout, nothing classified
  };
  Kind kind = Kind::kConnectionError;
  // A short reason, printable ASCII only, at most 120 characters ("Connection refused").
  std::string detail;
};

// What a run of lines says, read in order: `session` is the last read-write session line with the
// read-only line printed in the same connection (tmate prints read-only first); `failure` is set
// when, after the last session line (or with none), tmate reported an error and no new session,
// or said the server requires authorized keys. Tokens change on every reconnect (tmate.md §4.2),
// so only the newest pair counts.
struct TmateOutcome {
  std::optional<SessionReport> session;
  std::optional<TmateFailure> failure;
};
TmateOutcome FoldTmateLines(const std::vector<std::string>& lines);

// `text` made safe to show and store as a TmateFailure::detail: control and non-ASCII characters
// dropped, anything looking like a session command withheld, every run of 20 or more token
// characters ([A-Za-z0-9_-], as a tmate token's 25) replaced by "[redacted]", cut to 120 characters.
std::string SanitizeFailureDetail(std::string_view text);

// A sentence a developer can act on, naming the tmate server: e.g. "the clone could not reach the
// tmate server tmate.example.com:2222 (Connection refused); ask your operator to check that the
// tmate server is running and that an application security group lets apps reach it".
std::string DescribeTmateFailure(const TmateFailure& failure, std::string_view server_host, int server_port);

// ---- The clone's reports ----------------------------------------------------------------------

// A report from the clone, decoded. The bootstrap's form is
//   {"tmate_lines": ["<line>", ...], "bootstrap_error"?: "<text>", "start_timeout_s"?: N,
//    "tmate_exit_status"?: N}
// (the tmate lines seen since its previous report, folded with FoldTmateLines; a bootstrap_error
// is a kBootstrap failure). start_timeout_s (1-86400) says tmate printed no session within N s of
// the bootstrap's start: the lines' failure if they hold one, else kStartTimeout naming the last
// line tmate printed. tmate_exit_status (0-255) says tmate exited: the lines' failure, else
// kBootstrap naming the status and the last line. The direct form {"ssh_command", ...} of
// DecodeSessionReport is accepted too. At most one of `session` and `failure` is set; neither when the lines say
// nothing yet ("Connecting to ...").
struct ContainerReport {
  std::optional<SessionReport> session;
  std::optional<TmateFailure> failure;
};
// kInvalidArgument (naming the member, never echoing the body) when the body is not a JSON object,
// tmate_lines is not an array of at most 256 strings of at most kMaxSessionLineBytes each,
// start_timeout_s or tmate_exit_status is not an integer in range, or the direct form does not
// decode.
base::Result<ContainerReport> DecodeContainerReport(std::string_view body);

// The binding's credentials with `failure` recorded as
//   "session_failure": {"kind": "connection_error"|..., "detail": "...", "reported_at": "..."}
// and every other member kept. MergeSession removes it again when a session is reported.
// kInternal when `existing_credentials_json` is neither empty nor a JSON object.
base::Result<std::string> MergeSessionFailure(std::string_view existing_credentials_json, const TmateFailure& failure,
                                              base::TimePoint reported_at);

// The failure recorded by MergeSessionFailure, if any (nullopt also for unreadable credentials).
std::optional<TmateFailure> SessionFailure(std::string_view credentials_json);

}  // namespace broker::session

#endif  // BROKER_SESSION_TMATE_H_
