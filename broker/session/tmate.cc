#include "broker/session/tmate.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>
#include <utility>

#include "broker/session/report_json.h"

namespace broker::session {
namespace {

using base::Result;
using base::Status;

constexpr std::size_t kMaxDetailChars = 120;
constexpr std::size_t kMaxReportLines = 256;

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// "SHA256:" and 1-64 base64 characters, '=' padding allowed at the end only.
bool ValidFingerprint(std::string_view f) {
  constexpr std::string_view kPrefix = "SHA256:";
  if (!StartsWith(f, kPrefix)) return false;
  std::string_view b64 = f.substr(kPrefix.size());
  while (!b64.empty() && b64.back() == '=') b64.remove_suffix(1);
  if (b64.empty() || b64.size() > 64) return false;
  for (char c : b64) {
    if (!IsBase64Char(c)) return false;
  }
  return true;
}

constexpr std::array<std::string_view, 8> kKeyTypes = {
    "ssh-ed25519",         "ssh-rsa",
    "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss",
};

// "TYPE BASE64" of an OpenSSH public key line (the comment dropped), or nullopt.
std::optional<std::string> KeyWithoutComment(std::string_view key) {
  const std::size_t sp = key.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  const std::string_view type = key.substr(0, sp);
  bool known = false;
  for (std::string_view t : kKeyTypes) known = known || t == type;
  if (!known) return std::nullopt;
  std::string_view rest = key.substr(sp + 1);
  const std::size_t end = rest.find(' ');
  std::string_view b64 = rest.substr(0, end);
  std::string_view body = b64;
  while (!body.empty() && body.back() == '=') body.remove_suffix(1);
  if (body.size() < 16 || body.size() > 16384) return std::nullopt;
  for (char c : body) {
    if (!IsBase64Char(c)) return std::nullopt;
  }
  return std::string(type) + " " + std::string(b64);
}

std::string_view TrimCr(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  return line;
}

constexpr std::string_view KindName(TmateFailure::Kind k) {
  switch (k) {
    case TmateFailure::Kind::kConnectionError: return "connection_error";
    case TmateFailure::Kind::kCannotAuthenticate: return "cannot_authenticate";
    case TmateFailure::Kind::kAuthorizedKeysRequired: return "authorized_keys_required";
    case TmateFailure::Kind::kDisconnected: return "disconnected";
    case TmateFailure::Kind::kBootstrap: return "bootstrap";
    case TmateFailure::Kind::kLookupFailure: return "lookup_failure";
    case TmateFailure::Kind::kTimeout: return "timeout";
    case TmateFailure::Kind::kSocketError: return "socket_error";
    case TmateFailure::Kind::kStartTimeout: return "start_timeout";
  }
  return "connection_error";
}

std::optional<TmateFailure::Kind> KindFromName(std::string_view name) {
  for (auto k : {TmateFailure::Kind::kConnectionError, TmateFailure::Kind::kCannotAuthenticate,
                 TmateFailure::Kind::kAuthorizedKeysRequired, TmateFailure::Kind::kDisconnected,
                 TmateFailure::Kind::kBootstrap, TmateFailure::Kind::kLookupFailure, TmateFailure::Kind::kTimeout,
                 TmateFailure::Kind::kSocketError, TmateFailure::Kind::kStartTimeout}) {
    if (KindName(k) == name) return k;
  }
  return std::nullopt;
}

Result<rapidjson::Document> ParseObjectOrEmpty(std::string_view json) {
  rapidjson::Document doc;
  if (json.empty()) {
    doc.SetObject();
    return doc;
  }
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return Status::Internal("the binding's credentials are not a JSON object");
  return doc;
}

// The fingerprint members in the order they are validated and rendered.
struct FingerprintMember {
  const char* name;  // as in the tmate option: tmate-server-<name>-fingerprint
  TmateField field;
  const std::string TmateConfig::*value;
};
constexpr FingerprintMember kFingerprints[] = {
    {"ed25519", TmateField::kEd25519Fingerprint, &TmateConfig::ed25519_fingerprint},
    {"rsa", TmateField::kRsaFingerprint, &TmateConfig::rsa_fingerprint},
};

}  // namespace

std::optional<TmateConfigError> ValidateTmateConfig(const TmateConfig& c) {
  if (!ValidSshHost(c.server_host)) {
    return TmateConfigError{TmateField::kServerHost, "the tmate server host must be a DNS name or an IPv4 address"};
  }
  if (c.server_port < 1 || c.server_port > 65535) {
    return TmateConfigError{TmateField::kServerPort, "the tmate server port must be 1-65535"};
  }
  for (const auto& f : kFingerprints) {
    const std::string& value = c.*f.value;
    if (!value.empty() && !ValidFingerprint(value)) {
      return TmateConfigError{f.field, std::string("the tmate server ") + f.name +
                                           " fingerprint must look like SHA256:<base64> (ssh-keygen -l -E SHA256)"};
    }
  }
  for (std::size_t i = 0; i < c.authorized_keys.size(); ++i) {
    if (!KeyWithoutComment(c.authorized_keys[i])) {
      return TmateConfigError{TmateField::kAuthorizedKeys,
                              "authorized_keys[" + std::to_string(i) +
                                  "] is not an OpenSSH public key (TYPE BASE64 [comment])"};
    }
  }
  return std::nullopt;
}

Result<std::string> RenderTmateConfig(const TmateConfig& c) {
  if (auto error = ValidateTmateConfig(c)) return Status::InvalidArgument(std::move(error->message));
  std::string out = "set -g tmate-server-host '" + c.server_host + "'\n";
  out += "set -g tmate-server-port " + std::to_string(c.server_port) + "\n";
  for (const auto& f : kFingerprints) {
    const std::string& value = c.*f.value;
    if (!value.empty()) out += std::string("set -g tmate-server-") + f.name + "-fingerprint '" + value + "'\n";
  }
  out += "set -g tmate-foreground-restart 1\n";
  // The bundle's launcher points LOCPATH at locale data for the bundled glibc; the shells tmate
  // starts use the host's glibc and must not inherit it.
  out += "set-environment -gu LOCPATH\n";
  for (const auto& k : c.authorized_keys) out += "set -g tmate-set 'authorized_keys=" + *KeyWithoutComment(k) + "'\n";
  return out;
}

TmateLine ParseTmateLine(std::string_view raw) {
  const std::string_view line = TrimCr(raw);
  TmateLine out;
  auto session = [&](std::string_view prefix, TmateLineKind kind) {
    auto ep = ParseSshCommand(line.substr(prefix.size()));
    if (ep.ok()) {
      out.kind = kind;
      out.endpoint = std::move(ep).value();
    }
  };
  // "<what> (<reason>)" at the end of `text`: the reason, or nullopt.
  auto parenthesised = [](std::string_view text) -> std::optional<std::string_view> {
    if (text.empty() || text.back() != ')') return std::nullopt;
    const std::size_t open = text.rfind(" (");
    if (open == std::string_view::npos) return std::nullopt;
    return text.substr(open + 2, text.size() - open - 3);
  };
  constexpr std::string_view kLookup = " lookup failure. Retrying in ";  // tmate-session.c dns_cb
  constexpr std::string_view kTimeoutReason = "Timeout connecting to ";  // libssh ssh_connect
  if (StartsWith(line, "ssh session read only: ")) {
    session("ssh session read only: ", TmateLineKind::kSessionReadOnly);
  } else if (StartsWith(line, "ssh session: ")) {
    session("ssh session: ", TmateLineKind::kSessionReadWrite);
  } else if (StartsWith(line, "web session read only: ")) {
    if (ValidWebUrl(line.substr(23))) out.kind = TmateLineKind::kWebSessionReadOnly;
  } else if (StartsWith(line, "web session: ")) {
    const std::string_view url = line.substr(13);
    if (ValidWebUrl(url)) {
      out.kind = TmateLineKind::kWebSession;
      out.web_url = std::string(url);
    }
  } else if (StartsWith(line, "Connecting to ")) {
    out.kind = TmateLineKind::kConnecting;
  } else if (const std::size_t at = line.find(kLookup); at != std::string_view::npos && at > 0 && parenthesised(line)) {
    out.kind = TmateLineKind::kLookupFailure;
    out.reason = SanitizeFailureDetail(*parenthesised(line));
  } else if (StartsWith(line, "Error connecting: ")) {
    const std::string_view reason = line.substr(18);
    const bool timeout = StartsWith(reason, kTimeoutReason) || reason.find("timed out") != std::string_view::npos;
    out.kind = timeout ? TmateLineKind::kConnectionTimeout : TmateLineKind::kConnectionError;
    out.reason = SanitizeFailureDetail(reason);
  } else if (StartsWith(line, "error connecting to ") && parenthesised(line)) {
    out.kind = TmateLineKind::kSocketError;  // client.c: the tmate server's Unix socket
    out.reason = SanitizeFailureDetail(*parenthesised(line));
  } else if (StartsWith(line, "fatal: couldn't create socket: ")) {
    out.kind = TmateLineKind::kSocketError;  // server.c + log.c fatal(): "fatal: MSG: strerror"
    out.reason = SanitizeFailureDetail(line.substr(31));
  } else if (StartsWith(line, "Error reading from channel: ")) {
    out.kind = TmateLineKind::kDisconnected;
    out.reason = SanitizeFailureDetail(line.substr(28));
  } else if (line == "Cannot authenticate server") {
    out.kind = TmateLineKind::kCannotAuthenticate;
  } else if (StartsWith(line, "Server requires authorized_keys but none are given")) {
    out.kind = TmateLineKind::kAuthorizedKeysRequired;
  } else if (line == "Use '-a FILENAME' to specify an authorized_keys file." || line == "Press <Ctrl-c><Ctrl-d> to exit.") {
    out.kind = TmateLineKind::kAuthorizedKeysHint;
  } else if (line == "Reconnecting..." || StartsWith(line, "Reconnecting... (")) {
    out.kind = TmateLineKind::kReconnecting;
  } else if (line == "Session closed") {
    out.kind = TmateLineKind::kSessionClosed;
  } else if (line == "Session shell restarted") {
    out.kind = TmateLineKind::kShellRestarted;
  }
  if (out.kind == TmateLineKind::kOther && !StartsWith(line, "ssh session") && !StartsWith(line, "web session")) {
    out.reason = SanitizeFailureDetail(line);
  }
  return out;
}

TmateOutcome FoldTmateLines(const std::vector<std::string>& lines) {
  std::optional<SshEndpoint> read_only;  // printed just before its read-write line
  std::optional<std::string> web_url;    // a web front end prints it before the ssh line
  std::optional<SessionReport> session;
  std::optional<TmateFailure> failure;
  for (const auto& l : lines) {
    TmateLine t = ParseTmateLine(l);
    switch (t.kind) {
      case TmateLineKind::kSessionReadOnly:
        read_only = std::move(t.endpoint);
        break;
      case TmateLineKind::kSessionReadWrite:
        session = SessionReport{t.endpoint->command, std::nullopt, std::move(web_url)};
        if (read_only) session->ssh_command_read_only = read_only->command;
        read_only.reset();
        web_url.reset();
        failure.reset();
        break;
      case TmateLineKind::kWebSession:
        web_url = std::move(t.web_url);
        break;
      case TmateLineKind::kLookupFailure:
        failure = TmateFailure{TmateFailure::Kind::kLookupFailure, t.reason};
        break;
      case TmateLineKind::kConnectionError:
        failure = TmateFailure{TmateFailure::Kind::kConnectionError, t.reason};
        break;
      case TmateLineKind::kConnectionTimeout:
        failure = TmateFailure{TmateFailure::Kind::kTimeout, t.reason};
        break;
      case TmateLineKind::kSocketError:
        failure = TmateFailure{TmateFailure::Kind::kSocketError, t.reason};
        break;
      case TmateLineKind::kDisconnected:
        failure = TmateFailure{TmateFailure::Kind::kDisconnected, t.reason};
        break;
      case TmateLineKind::kCannotAuthenticate:
        failure = TmateFailure{TmateFailure::Kind::kCannotAuthenticate, "Cannot authenticate server"};
        break;
      case TmateLineKind::kAuthorizedKeysRequired:
        failure = TmateFailure{TmateFailure::Kind::kAuthorizedKeysRequired,
                               "Server requires authorized_keys but none are given"};
        break;
      case TmateLineKind::kConnecting:
        read_only.reset();  // a new connection: tokens of the old one are gone
        web_url.reset();
        break;
      default:
        break;
    }
  }
  TmateOutcome out;
  if (failure) {
    out.failure = std::move(failure);
  } else {
    out.session = std::move(session);
  }
  return out;
}

std::string SanitizeFailureDetail(std::string_view text) {
  constexpr std::size_t kTokenRun = 20;
  std::string printable;
  for (char c : text) {
    if (c >= 0x20 && c <= 0x7e) printable += c;
  }
  if (printable.find("ssh session") != std::string::npos || printable.find('@') != std::string::npos) {
    return "(details withheld: they looked like a session command)";
  }
  auto token_char = [](char c) { return IsBase64Char(c) ? c != '+' && c != '/' : c == '-' || c == '_'; };
  std::string out;
  for (std::size_t i = 0; i < printable.size();) {
    std::size_t j = i;
    while (j < printable.size() && token_char(printable[j])) ++j;
    if (j - i >= kTokenRun) {
      out += "[redacted]";
    } else {
      out.append(printable, i, j - i);
    }
    if (j < printable.size()) out += printable[j];
    i = j + 1;
  }
  if (out.size() > kMaxDetailChars) out.resize(kMaxDetailChars);
  return out;
}

std::string DescribeTmateFailure(const TmateFailure& f, std::string_view host, int port) {
  const std::string server = std::string(host) + ":" + std::to_string(port);
  const std::string detail = f.detail.empty() ? "" : " (" + f.detail + ")";
  switch (f.kind) {
    case TmateFailure::Kind::kConnectionError:
      return "the clone could not reach the tmate server " + server + detail +
             "; ask your operator to check that the tmate server is running and that an application security "
             "group lets apps in this space reach it";
    case TmateFailure::Kind::kCannotAuthenticate:
      return "the tmate server " + server +
             " did not present the host key the broker is configured with (tmate said: Cannot authenticate "
             "server); ask your operator to check TMATE_SERVER_ED25519_FINGERPRINT against the server's key";
    case TmateFailure::Kind::kAuthorizedKeysRequired:
      return "the tmate server " + server +
             " accepts only sessions restricted to authorized keys; bind again with -c "
             "'{\"authorized_keys\":[\"ssh-ed25519 AAAA... you@host\"]}'";
    case TmateFailure::Kind::kDisconnected:
      return "the clone lost its connection to the tmate server " + server + detail +
             " and could not reconnect; ask your operator to check the tmate server";
    case TmateFailure::Kind::kBootstrap:
      return "the ssh bootstrap in the clone failed" + (f.detail.empty() ? std::string() : ": " + f.detail);
    case TmateFailure::Kind::kLookupFailure:
      return "the clone could not look up the tmate server " + server + detail +
             "; ask your operator to check TMATE_SERVER_HOST and that the DNS apps in this space use resolves it";
    case TmateFailure::Kind::kTimeout:
      return "the clone's connection to the tmate server " + server + " timed out" + detail +
             "; ask your operator to check that the tmate server is up and that an application security group "
             "lets apps in this space reach it (a firewall that drops packets looks like this)";
    case TmateFailure::Kind::kSocketError:
      return "tmate in the clone could not use its local socket" + detail +
             " and never contacted the tmate server " + server +
             "; check that the app's /tmp (or TMPDIR) is writable, and tell your operator";
    case TmateFailure::Kind::kStartTimeout:
      return "tmate in the clone had no session from the tmate server " + server + detail +
             "; ask your operator to check that the tmate server is running and reachable from apps in this space";
  }
  return "the ssh session could not be started";
}

Result<ContainerReport> DecodeContainerReport(std::string_view body) {
  BROKER_ASSIGN_OR_RETURN(rapidjson::Document doc, internal::ParseReportObject(body));
  ContainerReport out;
  if (doc.HasMember("ssh_command")) {
    BROKER_ASSIGN_OR_RETURN(SessionReport direct, internal::DecodeSessionReportObject(doc));
    out.session = std::move(direct);
    return out;
  }
  const auto lines = doc.FindMember("tmate_lines");
  if (lines == doc.MemberEnd()) return Status::InvalidArgument("the session report has neither tmate_lines nor ssh_command");
  if (!lines->value.IsArray()) return Status::InvalidArgument("tmate_lines must be an array of strings");
  if (lines->value.Size() > kMaxReportLines) {
    return Status::InvalidArgument("tmate_lines holds more than " + std::to_string(kMaxReportLines) + " lines");
  }
  std::vector<std::string> text;
  for (const auto& l : lines->value.GetArray()) {
    if (!l.IsString()) return Status::InvalidArgument("tmate_lines must be an array of strings");
    if (l.GetStringLength() > kMaxSessionLineBytes) {
      return Status::InvalidArgument("a line of tmate_lines is longer than " + std::to_string(kMaxSessionLineBytes) +
                                     " bytes");
    }
    text.emplace_back(l.GetString(), l.GetStringLength());
  }
  if (const auto err = doc.FindMember("bootstrap_error"); err != doc.MemberEnd() && !err->value.IsNull()) {
    if (!err->value.IsString()) return Status::InvalidArgument("bootstrap_error must be a string");
    out.failure = TmateFailure{TmateFailure::Kind::kBootstrap,
                               SanitizeFailureDetail({err->value.GetString(), err->value.GetStringLength()})};
    return out;
  }
  // The bootstrap's verdicts: no session in time, or tmate gone.
  auto int_member = [&](const char* name, int lo, int hi) -> Result<std::optional<int>> {
    const auto m = doc.FindMember(name);
    if (m == doc.MemberEnd() || m->value.IsNull()) return std::optional<int>();
    if (!m->value.IsInt() || m->value.GetInt() < lo || m->value.GetInt() > hi) {
      return Status::InvalidArgument(std::string(name) + " must be an integer from " + std::to_string(lo) + " to " +
                                     std::to_string(hi));
    }
    return std::optional<int>(m->value.GetInt());
  };
  BROKER_ASSIGN_OR_RETURN(const std::optional<int> start_timeout, int_member("start_timeout_s", 1, 86400));
  BROKER_ASSIGN_OR_RETURN(const std::optional<int> exit_status, int_member("tmate_exit_status", 0, 255));
  TmateOutcome folded = FoldTmateLines(text);
  out.session = std::move(folded.session);
  out.failure = std::move(folded.failure);
  if ((start_timeout || exit_status) && !out.failure) {
    // The last line tmate printed that says something (never a session line), as the reason.
    std::string last;
    for (auto it = text.rbegin(); it != text.rend() && last.empty(); ++it) {
      const std::string_view l = TrimCr(*it);
      if (!StartsWith(l, "ssh session") && !StartsWith(l, "web session")) last = SanitizeFailureDetail(l);
    }
    if (start_timeout && !out.session) {
      out.failure = TmateFailure{TmateFailure::Kind::kStartTimeout,
                                 SanitizeFailureDetail("none within " + std::to_string(*start_timeout) + " s" +
                                                       (last.empty() ? "" : "; tmate's last line: " + last))};
    } else if (exit_status) {
      out.session.reset();
      out.failure = TmateFailure{TmateFailure::Kind::kBootstrap,
                                 SanitizeFailureDetail("tmate exited with status " + std::to_string(*exit_status) +
                                                       (last.empty() ? "" : ": " + last))};
    }
  }
  return out;
}

Result<std::string> MergeSessionFailure(std::string_view existing_credentials_json, const TmateFailure& failure,
                                        base::TimePoint reported_at) {
  BROKER_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseObjectOrEmpty(existing_credentials_json));
  auto& a = doc.GetAllocator();
  doc.RemoveMember("session_failure");
  rapidjson::Value f(rapidjson::kObjectType);
  const std::string_view kind = KindName(failure.kind);
  f.AddMember("kind", rapidjson::Value(kind.data(), static_cast<rapidjson::SizeType>(kind.size()), a), a);
  const std::string detail = SanitizeFailureDetail(failure.detail);
  f.AddMember("detail", rapidjson::Value(detail.c_str(), a), a);
  f.AddMember("reported_at", rapidjson::Value(base::FormatIso8601(reported_at).c_str(), a), a);
  doc.AddMember("session_failure", f, a);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  doc.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::optional<TmateFailure> SessionFailure(std::string_view credentials_json) {
  auto doc = ParseObjectOrEmpty(credentials_json);
  if (!doc.ok()) return std::nullopt;
  const auto f = doc->FindMember("session_failure");
  if (f == doc->MemberEnd() || !f->value.IsObject()) return std::nullopt;
  const auto kind = f->value.FindMember("kind");
  const auto detail = f->value.FindMember("detail");
  if (kind == f->value.MemberEnd() || !kind->value.IsString()) return std::nullopt;
  const auto k = KindFromName(kind->value.GetString());
  if (!k) return std::nullopt;
  TmateFailure out{*k, {}};
  if (detail != f->value.MemberEnd() && detail->value.IsString()) out.detail = detail->value.GetString();
  return out;
}

}  // namespace broker::session
