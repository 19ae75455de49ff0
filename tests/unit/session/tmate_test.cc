// Tests for broker/session/tmate.h: the config the clone's tmate gets, and the `tmate -F` lines of
// reference/tmate.md §4.2, exactly as tmate 2.4.0 prints them.
#include "broker/session/tmate.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

namespace broker::session {
namespace {

using K = TmateLineKind;

constexpr char kEd[] = "SHA256:Z1f1NWhPZ4YjPU9zmjm+d+cWm8XJx5cmXNgs46mkHKg";
constexpr char kRsa[] = "SHA256:3wfH0dGDd1uQ4yHnGKhVEqE2HmW8uF7mPvS9i0OcXk=";
constexpr char kKey[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHl7sVxkSu2GZsPKc4L5e4LvG1mvhW3Ch8mPp0n0gKzX alice@laptop";

TEST_SUITE("session::tmate") {
  TEST_CASE("RenderTmateConfig writes the server, both fingerprints, restart and one tmate-set per key") {
    const auto conf = RenderTmateConfig({"tmate.example.com", 2222, kEd, kRsa, {kKey, kKey}});
    REQUIRE_MESSAGE(conf.ok(), conf.status().ToString());
    CHECK(*conf == std::string("set -g tmate-server-host 'tmate.example.com'\n"
                               "set -g tmate-server-port 2222\n"
                               "set -g tmate-server-ed25519-fingerprint '") +
                       kEd + "'\nset -g tmate-server-rsa-fingerprint '" + kRsa +
                       "'\nset -g tmate-foreground-restart 1\n"
                       "set-environment -gu LOCPATH\n"
                       "set -g tmate-set 'authorized_keys=ssh-ed25519 "
                       "AAAAC3NzaC1lZDI1NTE5AAAAIHl7sVxkSu2GZsPKc4L5e4LvG1mvhW3Ch8mPp0n0gKzX'\n"
                       "set -g tmate-set 'authorized_keys=ssh-ed25519 "
                       "AAAAC3NzaC1lZDI1NTE5AAAAIHl7sVxkSu2GZsPKc4L5e4LvG1mvhW3Ch8mPp0n0gKzX'\n");
    // Without the rsa fingerprint or keys, those lines are left out.
    const auto minimal = RenderTmateConfig({"10.0.0.5", 22, kEd, "", {}});
    REQUIRE(minimal.ok());
    CHECK(minimal->find("rsa") == std::string::npos);
    CHECK(minimal->find("tmate-set") == std::string::npos);
    CHECK(minimal->find("set -g tmate-server-port 22\n") != std::string::npos);
  }

  TEST_CASE("RenderTmateConfig refuses anything that would need quoting or is not what tmate expects") {
    using F = TmateField;
    struct Row {
      TmateConfig config;
      F field;
      std::string message;
    };
    const std::string fingerprint = " fingerprint must look like SHA256:<base64> (ssh-keygen -l -E SHA256)";
    const std::string not_a_key = "] is not an OpenSSH public key (TYPE BASE64 [comment])";
    const std::string bad_host = "the tmate server host must be a DNS name or an IPv4 address";
    const std::vector<Row> rows = {
        {{"", 2222, kEd, "", {}}, F::kServerHost, bad_host},
        {{"tmate.example.com'; run-shell 'id", 2222, kEd, "", {}}, F::kServerHost, bad_host},
        {{"tmate.example.com", 0, kEd, "", {}}, F::kServerPort, "the tmate server port must be 1-65535"},
        {{"tmate.example.com", 65536, kEd, "", {}}, F::kServerPort, "the tmate server port must be 1-65535"},
        {{"tmate.example.com", 2222, "Z1f1NWhPZ4YjPU9zmjm", "", {}}, F::kEd25519Fingerprint,
         "the tmate server ed25519" + fingerprint},
        {{"tmate.example.com", 2222, "SHA256:abc'def", "", {}}, F::kEd25519Fingerprint,
         "the tmate server ed25519" + fingerprint},
        {{"tmate.example.com", 2222, kEd, "MD5:aa:bb", {}}, F::kRsaFingerprint, "the tmate server rsa" + fingerprint},
        {{"tmate.example.com", 2222, kEd, "", {"ssh-ed25519"}}, F::kAuthorizedKeys, "authorized_keys[0" + not_a_key},
        {{"tmate.example.com", 2222, kEd, "", {kKey, "ssh-foo AAAAC3NzaC1lZDI1NTE5AAAA"}}, F::kAuthorizedKeys,
         "authorized_keys[1" + not_a_key},
        {{"tmate.example.com", 2222, kEd, "", {"ssh-ed25519 AAAA'C3NzaC1lZDI1NTE5AAAAIHl7"}}, F::kAuthorizedKeys,
         "authorized_keys[0" + not_a_key},
        // The first bad member in declaration order is the one reported.
        {{"bad host", 0, "MD5:x", "MD5:y", {"nope"}}, F::kServerHost, bad_host},
        {{"tmate.example.com", 22, "MD5:x", "MD5:y", {"nope"}}, F::kEd25519Fingerprint,
         "the tmate server ed25519" + fingerprint},
        {{"tmate.example.com", 22, "", "MD5:y", {"nope"}}, F::kRsaFingerprint, "the tmate server rsa" + fingerprint},
    };
    for (const auto& row : rows) {
      CAPTURE(row.message);
      const auto error = ValidateTmateConfig(row.config);
      REQUIRE(error.has_value());
      CHECK(error->field == row.field);
      CHECK(error->message == row.message);
      // RenderTmateConfig refuses with the same message.
      const auto conf = RenderTmateConfig(row.config);
      REQUIRE_FALSE(conf.ok());
      CHECK(conf.status().code() == base::Code::kInvalidArgument);
      CHECK(conf.status().message() == row.message);
    }
  }

  TEST_CASE("ValidateTmateConfig accepts what RenderTmateConfig renders") {
    CHECK_FALSE(ValidateTmateConfig({"tmate.example.com", 2222, kEd, kRsa, {kKey}}).has_value());
    CHECK_FALSE(ValidateTmateConfig({"10.0.0.5", 22, kEd, "", {}}).has_value());
    CHECK_FALSE(ValidateTmateConfig({"10.0.0.5", 65535, "", "", {}}).has_value());
  }

  TEST_CASE("ParseTmateLine classifies every line tmate -F prints (tmate.md §4.2)") {
    struct Row {
      std::string line;
      K kind;
      std::string command;  // the normalised command of a session line
      std::string reason;
    };
    const std::vector<Row> rows = {
        {"To connect to the session locally, run: tmate -S /tmp/s attach", K::kOther, "",
         "To connect to the session locally, run: tmate -S /tmp/s attach"},
        {"Connecting to 127.0.0.1...", K::kConnecting, "", ""},
        {"Note: clear your terminal before sharing readonly access", K::kOther, "",
         "Note: clear your terminal before sharing readonly access"},
        {"ssh session read only: ssh -p2222 ro-A4HHCB4GQRbLw5UjkaJefdNtE@127.0.0.1", K::kSessionReadOnly,
         "ssh -p 2222 ro-A4HHCB4GQRbLw5UjkaJefdNtE@127.0.0.1", ""},
        {"ssh session: ssh -p2222 ZtUe8FunVPV2CcSbG4s22rK3f@127.0.0.1", K::kSessionReadWrite,
         "ssh -p 2222 ZtUe8FunVPV2CcSbG4s22rK3f@127.0.0.1", ""},
        // Advertised port 22: no -p at all.
        {"ssh session: ssh ZtUe8FunVPV2CcSbG4s22rK3f@tmate.example.com", K::kSessionReadWrite,
         "ssh ZtUe8FunVPV2CcSbG4s22rK3f@tmate.example.com", ""},
        {"ssh session read only: ssh ro-A4HHCB4GQRbLw5UjkaJefdNtE@tmate.example.com", K::kSessionReadOnly,
         "ssh ro-A4HHCB4GQRbLw5UjkaJefdNtE@tmate.example.com", ""},
        {"ssh session: ssh -p2222 ZtUe8FunVPV2CcSbG4s22rK3f@127.0.0.1\r", K::kSessionReadWrite,
         "ssh -p 2222 ZtUe8FunVPV2CcSbG4s22rK3f@127.0.0.1", ""},
        // A session line whose command is not tmate's exact form is never a session.
        {"ssh session: ssh -p2222 tok@host; rm -rf /", K::kOther, "", ""},
        {"ssh session: ", K::kOther, "", ""},
        {"web session: https://tmate.io/t/abc", K::kWebSession, "", ""},
        {"Error connecting: Connection refused", K::kConnectionError, "", "Connection refused"},
        {"Cannot authenticate server", K::kCannotAuthenticate, "", ""},
        {"Reconnecting...", K::kReconnecting, "", ""},
        {"Error reading from channel: Socket error: disconnected", K::kDisconnected, "", "Socket error: disconnected"},
        {"Server requires authorized_keys but none are given.", K::kAuthorizedKeysRequired, "", ""},
        {"Use '-a FILENAME' to specify an authorized_keys file.", K::kAuthorizedKeysHint, "", ""},
        {"Session closed", K::kSessionClosed, "", ""},
        {"Session shell restarted", K::kShellRestarted, "", ""},
        {"", K::kOther, "", ""},
    };
    for (const auto& row : rows) {
      CAPTURE(row.line);
      const TmateLine t = ParseTmateLine(row.line);
      CHECK(static_cast<int>(t.kind) == static_cast<int>(row.kind));
      if (!row.command.empty()) {
        REQUIRE(t.endpoint.has_value());
        CHECK(t.endpoint->command == row.command);
      } else {
        CHECK_FALSE(t.endpoint.has_value());
      }
      CHECK(t.reason == row.reason);
    }
  }

  TEST_CASE("FoldTmateLines keeps the newest session, and a failure only when no session came after it") {
    const std::vector<std::string> first = {
        "To connect to the session locally, run: tmate -S /tmp/s attach",
        "Connecting to 127.0.0.1...",
        "Note: clear your terminal before sharing readonly access",
        "ssh session read only: ssh -p2222 ro-A4HHCB4GQRbLw5UjkaJefdNtE@127.0.0.1",
        "ssh session: ssh -p2222 ZtUe8FunVPV2CcSbG4s22rK3f@127.0.0.1",
    };
    const auto a = FoldTmateLines(first);
    REQUIRE(a.session.has_value());
    CHECK_FALSE(a.failure.has_value());
    CHECK(a.session->ssh_command == "ssh -p 2222 ZtUe8FunVPV2CcSbG4s22rK3f@127.0.0.1");
    CHECK(a.session->ssh_command_read_only == "ssh -p 2222 ro-A4HHCB4GQRbLw5UjkaJefdNtE@127.0.0.1");

    // The server restarted: new tokens, only the newest pair counts.
    auto reconnect = first;
    for (const char* l : {"Error reading from channel: Socket error: disconnected", "Reconnecting...",
                          "Connecting to 127.0.0.1...",
                          "ssh session read only: ssh -p2222 ro-NewNewNewNewNewNewNewNewN@127.0.0.1",
                          "ssh session: ssh -p2222 FreshFreshFreshFreshFresh@127.0.0.1"}) {
      reconnect.emplace_back(l);
    }
    const auto b = FoldTmateLines(reconnect);
    REQUIRE(b.session.has_value());
    CHECK(b.session->ssh_command == "ssh -p 2222 FreshFreshFreshFreshFresh@127.0.0.1");
    CHECK(b.session->ssh_command_read_only == "ssh -p 2222 ro-NewNewNewNewNewNewNewNewN@127.0.0.1");

    // A read-only line of an earlier connection is not paired with a later read-write line.
    const auto c = FoldTmateLines({"ssh session read only: ssh ro-Old@h", "Connecting to h...", "ssh session: ssh New@h"});
    REQUIRE(c.session.has_value());
    CHECK_FALSE(c.session->ssh_command_read_only.has_value());

    const auto refused = FoldTmateLines({"Connecting to 127.0.0.1...", "Error connecting: Connection refused",
                                         "Reconnecting...", "Error connecting: Connection refused"});
    CHECK_FALSE(refused.session.has_value());
    REQUIRE(refused.failure.has_value());
    CHECK(refused.failure->kind == TmateFailure::Kind::kConnectionError);
    CHECK(refused.failure->detail == "Connection refused");

    const auto wrong_key = FoldTmateLines({"Connecting to 127.0.0.1...", "Cannot authenticate server", "Reconnecting..."});
    REQUIRE(wrong_key.failure.has_value());
    CHECK(wrong_key.failure->kind == TmateFailure::Kind::kCannotAuthenticate);

    // With a server running -A and no keys, the session lines are printed but unusable.
    auto keys = first;
    keys.emplace_back("Server requires authorized_keys but none are given.");
    keys.emplace_back("Use '-a FILENAME' to specify an authorized_keys file.");
    const auto k = FoldTmateLines(keys);
    CHECK_FALSE(k.session.has_value());
    REQUIRE(k.failure.has_value());
    CHECK(k.failure->kind == TmateFailure::Kind::kAuthorizedKeysRequired);

    // Errors, then a session: the session wins.
    const auto r = FoldTmateLines({"Error connecting: Connection refused", "Reconnecting...",
                                   "ssh session: ssh -p2222 ZtUe8FunVPV2CcSbG4s22rK3f@127.0.0.1"});
    CHECK(r.session.has_value());
    CHECK_FALSE(r.failure.has_value());

    const auto nothing = FoldTmateLines({"Connecting to 127.0.0.1..."});
    CHECK_FALSE(nothing.session.has_value());
    CHECK_FALSE(nothing.failure.has_value());
  }

  // Every line that means "no session", exactly as tmate 2.4.0 prints it. Where each comes from:
  // run = Debian's tmate 2.4.0 (/usr/bin/tmate, the one the bundle holds) run here with -F; src =
  // the tmate 2.4.0 source, tmate-ssh-server d7334ee (tmate-daemon-decoder.c) or libssh 0.10.
  TEST_CASE("ParseTmateLine and FoldTmateLines classify every line that means no session, as tmate prints it") {
    using FK = TmateFailure::Kind;
    struct Row {
      std::vector<std::string> lines;  // what tmate printed, in order
      K kind;                          // ParseTmateLine of the last line
      FK failure;                      // FoldTmateLines of all of them
      std::string detail;
    };
    const std::string long_path = "/tmp/tm1/" + std::string(120, 'x') + "/tmate.sock";
    const std::vector<Row> rows = {
        // run: tmate-server-host nonexistent.invalid (tmate-session.c dns_cb), every 2 s.
        {{"To connect to the session locally, run: tmate -S /tmp/tm1/s2 attach",
          "nonexistent.invalid lookup failure. Retrying in 2 seconds (nodename nor servname provided, or not known)"},
         K::kLookupFailure, FK::kLookupFailure, "nodename nor servname provided, or not known"},
        // run: a closed port on 127.0.0.1 (tmate-ssh-client.c "Error connecting: %s", libssh's strerror).
        {{"Connecting to 127.0.0.1...", "Error connecting: Connection refused", "Reconnecting...",
          "Connecting to 127.0.0.1...", "Error connecting: Connection refused"},
         K::kConnectionError, FK::kConnectionError, "Connection refused"},
        // run: an address whose packets this machine's network answers with a reset.
        {{"Connecting to 10.255.255.1...", "Error connecting: Connection reset by peer"}, K::kConnectionError,
         FK::kConnectionError, "Connection reset by peer"},
        // src: libssh ssh_connect's "Timeout connecting to %s", under tmate's "Error connecting: %s".
        {{"Connecting to 10.255.255.1...", "Error connecting: Timeout connecting to 10.255.255.1"},
         K::kConnectionTimeout, FK::kTimeout, "Timeout connecting to 10.255.255.1"},
        // run: a listener on 127.0.0.1 whose accept queue is full, so the kernel drops the SYNs.
        {{"Connecting to 127.0.0.1...", "Error connecting: Connection timed out"}, K::kConnectionTimeout, FK::kTimeout,
         "Connection timed out"},
        // src: tmate-ssh-client.c, a host key whose SHA256 is not the configured fingerprint.
        {{"Connecting to 127.0.0.1...", "Cannot authenticate server", "Reconnecting..."}, K::kReconnecting,
         FK::kCannotAuthenticate, "Cannot authenticate server"},
        // src: tmate-ssh-server -A, tmate-daemon-decoder.c tmate_ready: after the session lines.
        {{"Connecting to 127.0.0.1...", "ssh session read only: ssh -p2222 ro-A4HHCB4GQRbLw5UjkaJefdNtE@127.0.0.1",
          "ssh session: ssh -p2222 ZtUe8FunVPV2CcSbG4s22rK3f@127.0.0.1",
          "Server requires authorized_keys but none are given.", "Use '-a FILENAME' to specify an authorized_keys file.",
          "Press <Ctrl-c><Ctrl-d> to exit.", ""},
         K::kOther, FK::kAuthorizedKeysRequired, "Server requires authorized_keys but none are given"},
        // run: -S under a folder whose path is too long for a Unix socket (client.c), exit 1.
        {{"error connecting to " + long_path + " (File name too long)"}, K::kSocketError, FK::kSocketError,
         "File name too long"},
        // run: as nobody, -S in a root-owned mode-700 folder (client.c).
        {{"error connecting to /tmp/tm1/priv/tmate.sock (Permission denied)"}, K::kSocketError, FK::kSocketError,
         "Permission denied"},
        // run: as nobody, -S in a root-owned mode-755 folder (server.c + log.c fatal()).
        {{"fatal: couldn't create socket: Permission denied"}, K::kSocketError, FK::kSocketError, "Permission denied"},
        // run: -S in a folder that does not exist.
        {{"fatal: couldn't create socket: No such file or directory"}, K::kSocketError, FK::kSocketError,
         "No such file or directory"},
    };
    for (const auto& row : rows) {
      CAPTURE(row.lines.back());
      CHECK(static_cast<int>(ParseTmateLine(row.lines.back()).kind) == static_cast<int>(row.kind));
      const TmateOutcome o = FoldTmateLines(row.lines);
      CHECK_FALSE(o.session.has_value());
      REQUIRE(o.failure.has_value());
      CHECK(static_cast<int>(o.failure->kind) == static_cast<int>(row.failure));
      CHECK(o.failure->detail == row.detail);
    }
    CHECK(static_cast<int>(ParseTmateLine("Press <Ctrl-c><Ctrl-d> to exit.").kind) ==
          static_cast<int>(K::kAuthorizedKeysHint));
  }

  TEST_CASE("a line not on the list is passed through as its reason, with tokens scrubbed and the length capped") {
    const TmateLine named = ParseTmateLine("Named sessions are not supported (no websocket server)");
    CHECK(static_cast<int>(named.kind) == static_cast<int>(K::kOther));
    CHECK(named.reason == "Named sessions are not supported (no websocket server)");
    // A token-sized run of token characters never survives, wherever it is.
    const TmateLine odd = ParseTmateLine("session token ZtUe8FunVPV2CcSbG4s22rK3f expired");
    CHECK(odd.reason == "session token [redacted] expired");
    CHECK(ParseTmateLine("Error connecting: ZtUe8FunVPV2CcSbG4s22rK3f").reason == "[redacted]");
    std::string long_line;
    for (int i = 0; i < 60; ++i) long_line += "word ";
    CHECK(ParseTmateLine(long_line).reason.size() == 120);
    // A session line that does not parse has no reason (it may hold a token in another shape).
    CHECK(ParseTmateLine("ssh session: ssh -p2222 tok@host; rm -rf /").reason.empty());
  }

  TEST_CASE("web session lines, as a tmate server with a web front end prints them, are kept or ignored, never a failure") {
    // tmate-websocket lib/tmate/session.ex: web ro, ssh ro, web rw, ssh rw (no "Note:" with -F).
    const std::vector<std::string> tmate_io = {
        "To connect to the session locally, run: tmate -S /tmp/s attach",
        "Connecting to ssh.tmate.io...",
        "web session read only: https://tmate.io/t/ro-A4HHCB4GQRbLw5UjkaJefdNtE",
        "ssh session read only: ssh ro-A4HHCB4GQRbLw5UjkaJefdNtE@nyc1.tmate.io",
        "web session: https://tmate.io/t/ZtUe8FunVPV2CcSbG4s22rK3f",
        "ssh session: ssh ZtUe8FunVPV2CcSbG4s22rK3f@nyc1.tmate.io",
    };
    CHECK(static_cast<int>(ParseTmateLine(tmate_io[2]).kind) == static_cast<int>(K::kWebSessionReadOnly));
    const auto a = FoldTmateLines(tmate_io);
    REQUIRE(a.session.has_value());
    CHECK(a.session->web_url == "https://tmate.io/t/ZtUe8FunVPV2CcSbG4s22rK3f");
    CHECK(a.session->ssh_command_read_only == "ssh ro-A4HHCB4GQRbLw5UjkaJefdNtE@nyc1.tmate.io");
    // What the report does with it: the merge takes it.
    CHECK(MergeSession("", *a.session, base::TimePoint(std::chrono::seconds(1'800'000'000))).ok());

    // A development front end (config/dev.exs user_facing_base_url "http://localhost:4000/").
    auto dev = tmate_io;
    dev[4] = "web session: http://localhost:4000/t/ZtUe8FunVPV2CcSbG4s22rK3f";
    CHECK(FoldTmateLines(dev).session->web_url == "http://localhost:4000/t/ZtUe8FunVPV2CcSbG4s22rK3f");

    // URLs MergeSession would refuse are ignored: the session stays, without web_url.
    for (const std::string& bad : {std::string("web session: http://"), std::string("web session: http://a b"),
                                   std::string("web session: https://x/\"quoted\""),
                                   "web session: https://tmate.io/t/" + std::string(600, 'a')}) {
      CAPTURE(bad);
      auto lines = tmate_io;
      lines[4] = bad;
      const auto r = FoldTmateLines(lines);
      REQUIRE(r.session.has_value());
      CHECK_FALSE(r.failure.has_value());
      CHECK_FALSE(r.session->web_url.has_value());
      CHECK(MergeSession("", *r.session, base::TimePoint(std::chrono::seconds(1'800'000'000))).ok());
    }
  }

  TEST_CASE("DecodeContainerReport turns the bootstrap's start timeout and tmate's exit into failures") {
    using FK = TmateFailure::Kind;
    const auto dns = DecodeContainerReport(
        R"j({"tmate_lines":["nonexistent.invalid lookup failure. Retrying in 2 seconds (nodename nor servname provided, or not known)"],"start_timeout_s":5})j");
    REQUIRE(dns.ok());
    REQUIRE(dns->failure.has_value());
    CHECK(dns->failure->kind == FK::kLookupFailure);

    const auto quiet = DecodeContainerReport(R"j({"tmate_lines":["Connecting to 10.255.255.1..."],"start_timeout_s":120})j");
    REQUIRE(quiet.ok());
    REQUIRE(quiet->failure.has_value());
    CHECK(quiet->failure->kind == FK::kStartTimeout);
    CHECK(quiet->failure->detail == "none within 120 s; tmate's last line: Connecting to 10.255.255.1...");

    const auto exited = DecodeContainerReport(R"j({"tmate_lines":["need UTF-8 locale (LC_CTYPE) but have ANSI_X3.4-1968"],"tmate_exit_status":1})j");
    REQUIRE(exited.ok());
    REQUIRE(exited->failure.has_value());
    CHECK(exited->failure->kind == FK::kBootstrap);
    CHECK(exited->failure->detail == "tmate exited with status 1: need UTF-8 locale (LC_CTYPE) but have ANSI_X3.4-1968");

    const auto socket = DecodeContainerReport(
        R"j({"tmate_lines":["error connecting to /tmp/x/tmate.sock (File name too long)"],"tmate_exit_status":1})j");
    REQUIRE(socket.ok());
    CHECK(socket->failure->kind == FK::kSocketError);

    for (const char* bad : {R"j({"tmate_lines":[],"start_timeout_s":0})j", R"j({"tmate_lines":[],"start_timeout_s":"5"})j",
                            R"j({"tmate_lines":[],"tmate_exit_status":256})j"}) {
      CAPTURE(bad);
      CHECK_FALSE(DecodeContainerReport(bad).ok());
    }
  }

  TEST_CASE("DecodeContainerReport reads the bootstrap's form and the direct form, and refuses the rest") {
    const auto lines = DecodeContainerReport(
        R"({"tmate_lines":["ssh session: ssh -p2222 ZtUe8FunVPV2CcSbG4s22rK3f@127.0.0.1"]})");
    REQUIRE(lines.ok());
    REQUIRE(lines->session.has_value());
    CHECK(lines->session->ssh_command == "ssh -p 2222 ZtUe8FunVPV2CcSbG4s22rK3f@127.0.0.1");

    const auto direct = DecodeContainerReport(R"({"ssh_command":"ssh tok@h"})");
    REQUIRE(direct.ok());
    CHECK(direct->session->ssh_command == "ssh tok@h");

    const auto boot = DecodeContainerReport(R"({"tmate_lines":[],"bootstrap_error":"bundle checksum mismatch\n"})");
    REQUIRE(boot.ok());
    REQUIRE(boot->failure.has_value());
    CHECK(boot->failure->kind == TmateFailure::Kind::kBootstrap);
    CHECK(boot->failure->detail == "bundle checksum mismatch");

    for (const std::string& bad : std::vector<std::string>{"[]", "{}", R"({"tmate_lines":"x"})", R"({"tmate_lines":[1]})",
                                  R"({"tmate_lines":[],"bootstrap_error":3})", "{", R"({"ssh_command":"rm -rf /"})",
                                  R"({"tmate_lines":[")" + std::string(600, 'a') + R"("]})"}) {
      CAPTURE(bad);
      const auto r = DecodeContainerReport(bad);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == base::Code::kInvalidArgument);
    }
  }

  TEST_CASE("a recorded failure round-trips, keeps other members, and never holds a session command") {
    const auto merged = MergeSessionFailure(R"({"clone_app_name":"a-ssh"})",
                                            {TmateFailure::Kind::kCannotAuthenticate, "Cannot authenticate server"},
                                            base::TimePoint(std::chrono::seconds(1'800'000'000)));
    REQUIRE(merged.ok());
    CHECK(merged->find("\"clone_app_name\":\"a-ssh\"") != std::string::npos);
    const auto f = SessionFailure(*merged);
    REQUIRE(f.has_value());
    CHECK(f->kind == TmateFailure::Kind::kCannotAuthenticate);
    CHECK_FALSE(SessionFailure("").has_value());
    CHECK_FALSE(SessionFailure("not json").has_value());
    CHECK(SanitizeFailureDetail("see ssh session: ssh tok@h").find("tok") == std::string::npos);
    std::string words;
    for (int i = 0; i < 100; ++i) words += "ab ";
    CHECK(SanitizeFailureDetail(words).size() == 120);
  }

  TEST_CASE("DescribeTmateFailure names the server and says what to do") {
    const auto refused = DescribeTmateFailure({TmateFailure::Kind::kConnectionError, "Connection refused"},
                                              "tmate.example.com", 2222);
    CHECK(refused.find("tmate.example.com:2222") != std::string::npos);
    CHECK(refused.find("Connection refused") != std::string::npos);
    CHECK(refused.find("security group") != std::string::npos);
    const auto keys = DescribeTmateFailure({TmateFailure::Kind::kAuthorizedKeysRequired, ""}, "t.example.com", 22);
    CHECK(keys.find("authorized_keys") != std::string::npos);
    CHECK(keys.find("t.example.com:22") != std::string::npos);
    const auto fp = DescribeTmateFailure({TmateFailure::Kind::kCannotAuthenticate, ""}, "t.example.com", 22);
    CHECK(fp.find("TMATE_SERVER_ED25519_FINGERPRINT") != std::string::npos);
    const auto dns = DescribeTmateFailure({TmateFailure::Kind::kLookupFailure, "nodename nor servname provided, or not known"},
                                          "nonexistent.invalid", 2222);
    CHECK(dns.find("could not look up the tmate server nonexistent.invalid:2222") != std::string::npos);
    CHECK(dns.find("TMATE_SERVER_HOST") != std::string::npos);
    const auto slow = DescribeTmateFailure({TmateFailure::Kind::kTimeout, "Timeout connecting to 10.0.0.9"}, "t.example.com", 22);
    CHECK(slow.find("t.example.com:22 timed out") != std::string::npos);
    const auto sock = DescribeTmateFailure({TmateFailure::Kind::kSocketError, "File name too long"}, "t.example.com", 22);
    CHECK(sock.find("local socket (File name too long)") != std::string::npos);
    const auto late = DescribeTmateFailure({TmateFailure::Kind::kStartTimeout, "none within 120 s"}, "t.example.com", 22);
    CHECK(late.find("no session from the tmate server t.example.com:22 (none within 120 s)") != std::string::npos);
  }
}

}  // namespace
}  // namespace broker::session
