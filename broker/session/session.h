// The tmate session as the broker sees it: the `ssh session:` lines tmate prints (tmate.md §4.2),
// the clone's report of them, and the shape they take in a binding's credentials (DESIGN.md §6).
//
// An ssh command is accepted only in the exact forms tmate prints, `ssh TOKEN@HOST`,
// `ssh -pPORT TOKEN@HOST` (and `ssh -p PORT TOKEN@HOST`), because users paste it into a shell:
// anything else (shell metacharacters, extra options, a token that starts with '-') is refused.
//
// Pure functions; thread-safe. Nothing here logs: the strings handled are secrets (anyone holding
// one gets a shell in the clone).
#ifndef BROKER_SESSION_SESSION_H_
#define BROKER_SESSION_SESSION_H_

#include <optional>
#include <string>
#include <string_view>

#include "broker/base/clock.h"
#include "broker/base/result.h"

namespace broker::session {

// The longest ssh command or web URL we accept.
inline constexpr std::size_t kMaxSessionLineBytes = 512;

// One parsed `ssh ...` command.
struct SshEndpoint {
  std::string command;   // normalised: "ssh TOKEN@HOST" for port 22, else "ssh -p PORT TOKEN@HOST"
  std::string host;      // a DNS name or IPv4 address: labels of [A-Za-z0-9-], dot-separated
  int port = 22;         // 1..65535
  std::string username;  // the tmate token ("ro-..." for a read-only session)

  // "ssh://TOKEN@HOST:PORT"
  std::string Uri() const;
};

// Parses exactly `ssh TOKEN@HOST`, `ssh -pPORT TOKEN@HOST` or `ssh -p PORT TOKEN@HOST`, with single
// spaces and nothing before or after. TOKEN is 1-128 of [A-Za-z0-9_-] not starting with '-';
// HOST is at most 253 characters of dot-separated labels (1-63 of [A-Za-z0-9-], not starting or
// ending with '-'); PORT is 1-65535 in decimal without sign or leading zero.
// kInvalidArgument (saying what is wrong, never echoing the text) for anything else, including
// text over kMaxSessionLineBytes.
base::Result<SshEndpoint> ParseSshCommand(std::string_view text);

// True for a host ParseSshCommand accepts: at most 253 characters of dot-separated labels, each
// 1-63 of [A-Za-z0-9-] not starting or ending with '-'.
bool ValidSshHost(std::string_view host);

// True for a web_url DecodeSessionReport and MergeSession accept: http:// or https:// and at least
// one more character, at most kMaxSessionLineBytes of printable ASCII without space, quotes,
// backslash, backquote or angle brackets.
bool ValidWebUrl(std::string_view url);

// What a clone reports after tmate printed its session lines.
struct SessionReport {
  std::string ssh_command;                           // the read-write `ssh session:` command
  std::optional<std::string> ssh_command_read_only;  // the `ssh session read only:` command
  std::optional<std::string> web_url;                // tmate's web session URL, when it has one
};

// Decodes a report body: a JSON object {"ssh_command": "...", "ssh_command_read_only"?: "...",
// "web_url"?: "..."} (null counts as absent for the optional members; other members are ignored).
// Validates every command with ParseSshCommand and web_url as an http(s) URL of at most
// kMaxSessionLineBytes printable non-space ASCII characters. kInvalidArgument naming the member
// when the body is not a JSON object, ssh_command is missing, or a member has the wrong type or
// an unacceptable value.
base::Result<SessionReport> DecodeSessionReport(std::string_view body);

// The binding's credentials with `report` merged in, as compact JSON text. Every member of
// `existing_credentials_json` is kept ("" counts as {}), except that these are set from the
// report: ssh_command and ssh_command_read_only (normalised commands), host, port (a number),
// username (the token), uri ("ssh://TOKEN@HOST:PORT"), web_url and session_reported_at
// (FormatIso8601(reported_at)). An optional member the report lacks is removed, so a newer
// report replaces the older one whole.
// kInvalidArgument when a command in `report` does not parse (see ParseSshCommand);
// kInternal when `existing_credentials_json` is neither empty nor a JSON object.
base::Result<std::string> MergeSession(std::string_view existing_credentials_json, const SessionReport& report,
                                       base::TimePoint reported_at);

// What GET .../session answers, as compact JSON text: {"ssh_command", "ssh_command_read_only"?,
// "uri", "host", "port", "username", "web_url"?, "session_reported_at"?} taken from credentials
// written by MergeSession. kNotFound when the credentials hold no session yet (empty, or no
// ssh_command); kInternal when they are not a JSON object or their ssh_command does not parse.
base::Result<std::string> SessionView(std::string_view credentials_json);

}  // namespace broker::session

#endif  // BROKER_SESSION_SESSION_H_
