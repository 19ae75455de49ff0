#include "broker/clone/session_desk.h"

#include <optional>

#include "broker/base/digest.h"
#include "broker/base/log.h"
#include "broker/clone/state_machine.h"
#include "broker/clone/steps.h"
#include "broker/osb/json_util.h"
#include "broker/osb/types.h"
#include "broker/session/session.h"
#include "broker/session/tmate.h"

namespace broker::clone {
namespace {

using base::Result;
using base::Status;

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = base::Logger("clone");
  return log;
}

// One answer for every way of failing to authenticate, so the answers do not tell which bindings
// exist or what state they are in.
Status BadToken() { return Status::Unauthenticated("missing or wrong session token for this binding"); }
Status BadKey() { return Status::Unauthenticated("missing or wrong session credentials for this binding"); }

// True when `secret` hashes to `stored_hash`. The digest of `secret` is always computed and the
// comparison is over fixed-length hex, so the time taken says nothing about either.
bool SecretMatches(std::string_view secret, std::string_view stored_hash) {
  const std::string digest = base::Sha256Hex(secret);
  const bool equal = base::ConstantTimeEquals(digest, stored_hash);
  return !secret.empty() && !stored_hash.empty() && equal;
}

// The binding is one a clone may report for: a live bind that is running or has succeeded.
bool AcceptsReports(const osb::Binding& b) {
  return !b.deleted && b.operation == osb::BindingOperation::kBind &&
         (b.state == osb::OperationState::kInProgress || b.state == osb::OperationState::kSucceeded);
}

// Which binding a request is about, as a log field: binding ids are not secret, but a caller that
// fails to authenticate chose this one, so it is bounded (and quoted unless well-formed).
std::string LogId(std::string_view id) { return base::LogId(id.substr(0, 128)); }

}  // namespace

Status SessionDesk::Report(std::string_view request_id, std::string_view binding_id, std::string_view bearer_token,
                           std::string_view body) {
  bool replaced = false;
  bool read_only = false;
  std::optional<session::TmateFailure> failure;
  bool nothing_yet = false;
  std::int64_t completed_job = 0;
  const Status s = store_.InTransaction([&](osb::StoreTx& tx) -> Status {
    replaced = false;
    read_only = false;
    failure.reset();
    nothing_yet = false;
    completed_job = 0;
    // The binding, and the job of its operation (which this report may end), in one go.
    BROKER_ASSIGN_OR_RETURN(osb::StoreTx::BindingAndJob rows, tx.LockBindingAndJob(binding_id));
    std::optional<osb::Binding>& found = rows.binding;
    // Authenticate before looking at the body: an unauthenticated caller learns nothing from it.
    const bool token_ok = SecretMatches(bearer_token, found.has_value() ? found->session_token_hash : "");
    if (!found.has_value() || !token_ok || !AcceptsReports(*found)) return BadToken();
    osb::Binding& binding = *found;

    BROKER_ASSIGN_OR_RETURN(session::ContainerReport report, session::DecodeContainerReport(body));
    std::string merged;
    osb::Event event;
    if (report.session.has_value()) {
      read_only = report.session->ssh_command_read_only.has_value();
      replaced = session::SessionView(binding.credentials_json).ok();
      BROKER_ASSIGN_OR_RETURN(merged, session::MergeSession(binding.credentials_json, *report.session, clock_.Now()));
      event.kind = "binding.session_reported";
      event.detail_json = std::string("{\"read_only\":") + (read_only ? "true" : "false") +
                          ",\"replaced\":" + (replaced ? "true" : "false") + "}";
    } else if (report.failure.has_value()) {
      failure = report.failure;
      BROKER_ASSIGN_OR_RETURN(merged,
                              session::MergeSessionFailure(binding.credentials_json, *report.failure, clock_.Now()));
      event.kind = "binding.session_failed";
      rapidjson::Document detail(rapidjson::kObjectType);
      detail.AddMember("reason", rapidjson::Value(report.failure->detail.c_str(), detail.GetAllocator()),
                       detail.GetAllocator());
      event.detail_json = osb::CanonicalJson(detail);
    } else {
      nothing_yet = true;  // the lines say nothing yet ("Connecting to ...")
      return Status::Ok();
    }
    // osb::Binding's JSON fields hold canonical text.
    BROKER_ASSIGN_OR_RETURN(rapidjson::Document doc, osb::ParseJson(merged, "merged credentials"));
    binding.credentials_json = osb::CanonicalJson(doc);
    event.instance_id = binding.instance_id;
    event.binding_id = binding.id;
    event.request_id = std::string(request_id);

    // The bind's job waiting for this very report ends here.
    std::optional<osb::Event> bound;
    if (report.session.has_value() && engine_ != nullptr && binding.state == osb::OperationState::kInProgress) {
      const std::optional<osb::JobRow>& job = rows.job;
      if (job.has_value() && job->kind == osb::JobKind::kClone && job->step == step::kAwaitSession &&
          job->Waiting()) {
        BROKER_ASSIGN_OR_RETURN(rapidjson::Document outputs, osb::ParseJson(job->outputs_json, "job outputs"));
        CompleteBind(binding, outputs, *engine_, clock_.Now());
        BROKER_RETURN_IF_ERROR(tx.CompleteJob(job->id));
        bound = event;
        bound->kind = "binding.bound";
        bound->detail_json = "{}";
        completed_job = job->id;
      }
    }
    BROKER_RETURN_IF_ERROR(tx.UpdateBinding(binding));
    BROKER_RETURN_IF_ERROR(tx.RecordEvent(event));
    return bound.has_value() ? tx.RecordEvent(*bound) : Status::Ok();
  });

  if (!s.ok()) {
    if (s.code() == base::Code::kUnauthenticated) {
      Log()->warn("clone.session_report_rejected request_id={} binding_id={} reason=unauthenticated", LogId(request_id),
                  LogId(binding_id));
    } else if (s.code() == base::Code::kInvalidArgument) {
      // The message names the problem without echoing the body, so it is safe to log.
      Log()->warn("clone.session_report_rejected request_id={} binding_id={} reason=invalid detail={}",
                  LogId(request_id), LogId(binding_id), base::LogQuote(s.message()));
    }
    return s;
  }
  if (nothing_yet) {
    Log()->debug("clone.session_report_empty request_id={} binding_id={}", LogId(request_id), LogId(binding_id));
  } else if (failure.has_value()) {
    // The detail is sanitised (session::SanitizeFailureDetail): no session command reaches it.
    Log()->warn("clone.session_failed request_id={} binding_id={} detail={}", LogId(request_id), LogId(binding_id),
                base::LogQuote(failure->detail));
  } else {
    Log()->info("clone.session_reported request_id={} binding_id={} read_only={} replaced={}", LogId(request_id),
                LogId(binding_id), read_only, replaced);
    if (completed_job != 0) {
      Log()->info("clone.job_completed job={} kind=clone binding={} by=session_report request_id={}", completed_job,
                  LogId(binding_id), LogId(request_id));
    }
  }
  return Status::Ok();
}

Result<std::string> SessionDesk::Read(std::string_view request_id, std::string_view binding_id, std::string_view key) {
  BROKER_ASSIGN_OR_RETURN(std::optional<osb::Binding> found, store_.GetBinding(binding_id));
  const bool key_ok = SecretMatches(key, found.has_value() ? found->session_key_hash : "");
  if (!found.has_value() || !key_ok || found->deleted || found->operation != osb::BindingOperation::kBind ||
      found->state != osb::OperationState::kSucceeded) {
    Log()->warn("clone.session_read_rejected request_id={} binding_id={} reason=unauthenticated", LogId(request_id),
                LogId(binding_id));
    return BadKey();
  }
  return session::SessionView(found->credentials_json);
}

}  // namespace broker::clone
