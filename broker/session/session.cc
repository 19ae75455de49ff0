#include "broker/session/session.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>

#include "broker/base/json.h"
#include "broker/session/report_json.h"

namespace broker::session {
namespace {

using base::Result;
using base::Status;

constexpr std::size_t kMaxTokenBytes = 128;
constexpr std::size_t kMaxHostBytes = 253;
constexpr std::size_t kMaxLabelBytes = 63;

// The credential members a report owns; MergeSession replaces all of them together.
// A recorded failure (tmate.h, MergeSessionFailure) goes with them: a newer session supersedes it.
constexpr std::array<std::string_view, 9> kSessionMembers = {
    "ssh_command", "ssh_command_read_only", "host", "port", "username", "uri", "web_url", "session_reported_at",
    "session_failure",
};

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool ValidToken(std::string_view t) {
  if (t.empty() || t.size() > kMaxTokenBytes || !IsAlnum(t.front())) return false;
  for (char c : t) {
    if (!IsAlnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

bool ValidHost(std::string_view h) {
  if (h.empty() || h.size() > kMaxHostBytes) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = h.find('.', start);
    const std::string_view label = h.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > kMaxLabelBytes || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!IsAlnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// Decimal 1..65535, no sign, no leading zero.
std::optional<int> ParsePort(std::string_view p) {
  if (p.empty() || p.size() > 5 || p.front() == '0') return std::nullopt;
  int v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > 65535) return std::nullopt;
  return v;
}

bool WebUrlOk(std::string_view u) {
  if (u.size() > kMaxSessionLineBytes) return false;
  std::string_view rest;
  if (u.starts_with("https://")) {
    rest = u.substr(8);
  } else if (u.starts_with("http://")) {
    rest = u.substr(7);
  } else {
    return false;
  }
  if (rest.empty()) return false;
  for (char c : rest) {
    // Printable ASCII without space, quotes, backslash, backquote or angle brackets.
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '\\' || c == '`' || c == '<' || c == '>') {
      return false;
    }
  }
  return true;
}

void WriteString(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

bool IsSessionMember(std::string_view name) {
  for (std::string_view m : kSessionMembers) {
    if (m == name) return true;
  }
  return false;
}

// The optional string member `name`: nullopt when absent or null, kInvalidArgument when another type.
Result<std::optional<std::string>> OptionalString(const rapidjson::Value& obj, const char* name) {
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::optional<std::string>();
  if (!it->value.IsString()) return Status::InvalidArgument(std::string(name) + " must be a string");
  return std::optional<std::string>(std::string(it->value.GetString(), it->value.GetStringLength()));
}

}  // namespace

bool ValidSshHost(std::string_view host) { return ValidHost(host); }

bool ValidWebUrl(std::string_view url) { return WebUrlOk(url); }

std::string SshEndpoint::Uri() const { return "ssh://" + username + "@" + host + ":" + std::to_string(port); }

Result<SshEndpoint> ParseSshCommand(std::string_view text) {
  static constexpr char kForm[] = "the ssh command must have the form \"ssh [-pPORT] TOKEN@HOST\"";
  if (text.size() > kMaxSessionLineBytes) {
    return Status::InvalidArgument("the ssh command is longer than " + std::to_string(kMaxSessionLineBytes) + " characters");
  }
  constexpr std::string_view kSsh = "ssh ";
  if (!text.starts_with(kSsh)) return Status::InvalidArgument(kForm);
  std::string_view rest = text.substr(kSsh.size());

  SshEndpoint out;
  if (rest.starts_with("-p")) {
    rest.remove_prefix(2);
    if (rest.starts_with(' ')) rest.remove_prefix(1);  // "-p 2222" as well as tmate's "-p2222"
    const std::size_t space = rest.find(' ');
    if (space == std::string_view::npos) return Status::InvalidArgument(kForm);
    const auto port = ParsePort(rest.substr(0, space));
    if (!port) return Status::InvalidArgument("the ssh command has a port that is not a number from 1 to 65535");
    out.port = *port;
    rest.remove_prefix(space + 1);
  }
  const std::size_t at = rest.find('@');
  if (at == std::string_view::npos) return Status::InvalidArgument(kForm);
  const std::string_view token = rest.substr(0, at);
  const std::string_view host = rest.substr(at + 1);
  if (!ValidToken(token)) {
    return Status::InvalidArgument("the ssh command has a token that is not 1-" + std::to_string(kMaxTokenBytes) +
                                   " letters, digits, '-' or '_' starting with a letter or digit");
  }
  if (!ValidHost(host)) return Status::InvalidArgument("the ssh command has a host that is not a DNS name or IPv4 address");

  out.username = std::string(token);
  out.host = std::string(host);
  out.command = out.port == 22 ? "ssh " + out.username + "@" + out.host
                               : "ssh -p " + std::to_string(out.port) + " " + out.username + "@" + out.host;
  return out;
}

namespace internal {

Result<rapidjson::Document> ParseReportObject(std::string_view body) {
  BROKER_ASSIGN_OR_RETURN(rapidjson::Document doc, base::ParseJson(body, "the session report"));
  if (!doc.IsObject()) return Status::InvalidArgument("the session report must be a JSON object");
  return doc;
}

Result<SessionReport> DecodeSessionReportObject(const rapidjson::Value& doc) {
  SessionReport report;
  const auto ssh = doc.FindMember("ssh_command");
  if (ssh == doc.MemberEnd() || ssh->value.IsNull()) {
    return Status::InvalidArgument("the session report has no ssh_command");
  }
  if (!ssh->value.IsString()) return Status::InvalidArgument("ssh_command must be a string");
  report.ssh_command.assign(ssh->value.GetString(), ssh->value.GetStringLength());
  if (const auto parsed = ParseSshCommand(report.ssh_command); !parsed.ok()) {
    return parsed.status().WithContext("ssh_command");
  }

  BROKER_ASSIGN_OR_RETURN(report.ssh_command_read_only, OptionalString(doc, "ssh_command_read_only"));
  if (report.ssh_command_read_only) {
    if (const auto parsed = ParseSshCommand(*report.ssh_command_read_only); !parsed.ok()) {
      return parsed.status().WithContext("ssh_command_read_only");
    }
  }
  BROKER_ASSIGN_OR_RETURN(report.web_url, OptionalString(doc, "web_url"));
  if (report.web_url && !ValidWebUrl(*report.web_url)) {
    return Status::InvalidArgument("web_url must be an http or https URL of at most " +
                                   std::to_string(kMaxSessionLineBytes) +
                                   " printable characters without spaces or quotes");
  }
  return report;
}

}  // namespace internal

Result<SessionReport> DecodeSessionReport(std::string_view body) {
  BROKER_ASSIGN_OR_RETURN(rapidjson::Document doc, internal::ParseReportObject(body));
  return internal::DecodeSessionReportObject(doc);
}

Result<std::string> MergeSession(std::string_view existing_credentials_json, const SessionReport& report,
                                 base::TimePoint reported_at) {
  BROKER_ASSIGN_OR_RETURN(SshEndpoint rw, ParseSshCommand(report.ssh_command));
  std::optional<SshEndpoint> ro;
  if (report.ssh_command_read_only) {
    auto parsed = ParseSshCommand(*report.ssh_command_read_only);
    if (!parsed.ok()) return parsed.status().WithContext("ssh_command_read_only");
    ro = std::move(parsed).value();
  }
  if (report.web_url && !ValidWebUrl(*report.web_url)) return Status::InvalidArgument("web_url is not acceptable");

  rapidjson::Document existing;
  if (!existing_credentials_json.empty()) {
    existing.Parse(existing_credentials_json.data(), existing_credentials_json.size());
    if (existing.HasParseError() || !existing.IsObject()) {
      return Status::Internal("the binding's credentials are not a JSON object");
    }
  } else {
    existing.SetObject();
  }

  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  // The job's members (clone_app_name, session_url, expires_at, ...) in their existing order.
  for (const auto& m : existing.GetObject()) {
    const std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (IsSessionMember(name)) continue;
    WriteString(w, name);
    m.value.Accept(w);
  }
  w.Key("ssh_command");
  WriteString(w, rw.command);
  if (ro) {
    w.Key("ssh_command_read_only");
    WriteString(w, ro->command);
  }
  w.Key("host");
  WriteString(w, rw.host);
  w.Key("port");
  w.Int(rw.port);
  w.Key("username");
  WriteString(w, rw.username);
  w.Key("uri");
  WriteString(w, rw.Uri());
  if (report.web_url) {
    w.Key("web_url");
    WriteString(w, *report.web_url);
  }
  w.Key("session_reported_at");
  WriteString(w, base::FormatIso8601(reported_at));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::string> SessionView(std::string_view credentials_json) {
  static const Status kNone = Status::NotFound("no session has been reported yet; the clone may still be starting");
  if (credentials_json.empty()) return kNone;
  rapidjson::Document doc;
  doc.Parse(credentials_json.data(), credentials_json.size());
  if (doc.HasParseError() || !doc.IsObject()) return Status::Internal("the binding's credentials are not a JSON object");
  const auto ssh = doc.FindMember("ssh_command");
  if (ssh == doc.MemberEnd() || !ssh->value.IsString()) return kNone;
  auto rw = ParseSshCommand(std::string_view(ssh->value.GetString(), ssh->value.GetStringLength()));
  if (!rw.ok()) return Status::Internal("the binding's stored ssh_command does not parse");

  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("ssh_command");
  WriteString(w, rw->command);
  for (const char* optional : {"ssh_command_read_only", "web_url", "session_reported_at"}) {
    const auto it = doc.FindMember(optional);
    if (it == doc.MemberEnd() || !it->value.IsString()) continue;
    w.Key(optional);
    w.String(it->value.GetString(), it->value.GetStringLength());
  }
  w.Key("uri");
  WriteString(w, rw->Uri());
  w.Key("host");
  WriteString(w, rw->host);
  w.Key("port");
  w.Int(rw->port);
  w.Key("username");
  WriteString(w, rw->username);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace broker::session
