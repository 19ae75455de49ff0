// Fuzz harness: what a clone reports about its tmate session (broker/session/tmate.h,
// broker/session/session.h): ParseTmateLine and FoldTmateLines on tmate's output, and the report
// bodies DecodeContainerReport and DecodeSessionReport read.
//
// Each input is used twice: as a report body, and as tmate output (split into lines at '\n').
// Findings, besides sanitizer reports:
//   - a session line whose endpoint does not parse again to itself, a web line whose URL is not
//     one ValidWebUrl keeps;
//   - a failure reason that is not what SanitizeFailureDetail promises (printable ASCII, at most
//     120 characters, no '@', no run of 20 token characters: no tmate token reaches a log);
//   - a decoded session that MergeSession refuses or SessionView cannot read back (a report the
//     broker accepted and then loses), a decoded failure MergeSessionFailure/SessionFailure lose;
//   - a container report with both a session and a failure.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/session/session.h"
#include "broker/session/tmate.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using broker::fuzz::Require;
using broker::session::TmateLineKind;

constexpr char kExisting[] = R"({"clone_app_name":"my-app-ssh-1a2b","expires_at":"2026-12-08T02:00:00Z"})";
const broker::base::TimePoint kReportedAt{std::chrono::seconds(1'765'000'000)};

void RequireSanitized(const std::string& detail) {
  Require(detail.size() <= 120, "a failure detail is longer than 120 characters", detail);
  std::size_t run = 0;
  for (char c : detail) {
    Require(c >= 0x20 && c <= 0x7e, "a failure detail holds a control or non-ASCII byte", detail);
    Require(c != '@', "a failure detail holds '@' (a session command?)", detail);
    const bool token =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    run = token ? run + 1 : 0;
    Require(run < 20, "a failure detail holds a run of 20 token characters (a tmate token?)", detail);
  }
}

void RequireKept(const broker::session::SessionReport& report, std::string_view input) {
  const auto merged = broker::session::MergeSession(kExisting, report, kReportedAt);
  Require(merged.ok(), "MergeSession refused a session a decoder accepted", input);
  Require(broker::fuzz::ValidUtf8(*merged), "MergeSession wrote invalid UTF-8", *merged);
  Require(broker::session::SessionView(*merged).ok(), "SessionView cannot read what MergeSession wrote", *merged);
}

void RequireKept(const broker::session::TmateFailure& failure, std::string_view input) {
  RequireSanitized(failure.detail);
  const auto merged = broker::session::MergeSessionFailure(kExisting, failure, kReportedAt);
  Require(merged.ok(), "MergeSessionFailure refused a decoded failure", input);
  const auto back = broker::session::SessionFailure(*merged);
  Require(back && back->kind == failure.kind && back->detail == failure.detail,
          "SessionFailure does not read back what MergeSessionFailure wrote", *merged);
  (void)broker::session::DescribeTmateFailure(failure, "tmate.example.com", 2222);
}

void CheckLine(std::string_view line) {
  const broker::session::TmateLine t = broker::session::ParseTmateLine(line);
  const bool session = t.kind == TmateLineKind::kSessionReadWrite || t.kind == TmateLineKind::kSessionReadOnly;
  Require(session == t.endpoint.has_value(), "an endpoint on a line that is not a session line, or none on one", line);
  if (session) {
    const auto again = broker::session::ParseSshCommand(t.endpoint->command);
    Require(again.ok() && again->command == t.endpoint->command, "a session command does not parse to itself", line);
  }
  Require((t.kind == TmateLineKind::kWebSession) == t.web_url.has_value(), "a web URL on a line that is not one", line);
  if (t.web_url) Require(broker::session::ValidWebUrl(*t.web_url), "a web URL that ValidWebUrl refuses", line);
  RequireSanitized(t.reason);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  broker::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = broker::fuzz::Text(data, size);

  // As a report body.
  if (const auto report = broker::session::DecodeSessionReport(text); report.ok()) RequireKept(*report, text);
  if (const auto report = broker::session::DecodeContainerReport(text); report.ok()) {
    Require(!(report->session && report->failure), "a container report with both a session and a failure", text);
    if (report->session) RequireKept(*report->session, text);
    if (report->failure) RequireKept(*report->failure, text);
  }

  // As tmate output.
  std::vector<std::string> lines;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.emplace_back(text.substr(start, end - start));
    CheckLine(lines.back());
    start = end + 1;
  }
  const broker::session::TmateOutcome outcome = broker::session::FoldTmateLines(lines);
  Require(!(outcome.session && outcome.failure), "FoldTmateLines gave both a session and a failure", text);
  if (outcome.session) RequireKept(*outcome.session, text);
  if (outcome.failure) RequireKept(*outcome.failure, text);
  return 0;
}
