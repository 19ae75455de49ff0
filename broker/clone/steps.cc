#include "broker/clone/steps.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include "broker/base/digest.h"
#include "broker/base/encoding.h"
#include "broker/base/ids.h"
#include "broker/base/log.h"
#include "broker/base/url.h"
#include "broker/osb/json_util.h"
#include "broker/session/tmate.h"

namespace broker::clone {
namespace {

using base::Code;
using base::Status;
using rapidjson::Value;

std::shared_ptr<spdlog::logger> Log() {
  static const std::shared_ptr<spdlog::logger> logger = base::Logger("clone");
  return logger;
}

constexpr std::size_t kMaxAppName = 255;

// ---- Outputs: small helpers over the job's outputs object -----------------------------------

class Out {
 public:
  explicit Out(rapidjson::Document& doc) : doc_(doc) {
    if (!doc_.IsObject()) doc_.SetObject();
  }
  rapidjson::Document::AllocatorType& a() { return doc_.GetAllocator(); }
  Value& root() { return doc_; }

  std::string Str(const Value& obj, const char* key) const {
    if (!obj.IsObject()) return {};
    const auto it = obj.FindMember(key);
    return it != obj.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength())
                                                         : std::string();
  }
  std::string Str(const char* key) const { return Str(doc_, key); }
  std::int64_t Int(const Value& obj, const char* key, std::int64_t fallback = 0) const {
    if (!obj.IsObject()) return fallback;
    const auto it = obj.FindMember(key);
    return it != obj.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : fallback;
  }
  bool Bool(const char* key) const {
    const auto it = doc_.FindMember(key);
    return it != doc_.MemberEnd() && it->value.IsBool() && it->value.GetBool();
  }
  // The member `key`, created as an object / array when missing or of another type.
  Value& Obj(const char* key) { return Member(key, rapidjson::kObjectType); }
  Value& Arr(const char* key) { return Member(key, rapidjson::kArrayType); }
  void Set(Value& obj, const char* key, const std::string& v) { Set(obj, key, Value(v.c_str(), a())); }
  void Set(Value& obj, const char* key, std::int64_t v) { Set(obj, key, Value(v)); }
  void SetBool(Value& obj, const char* key, bool v) { Set(obj, key, Value(v)); }
  void Set(Value& obj, const char* key, Value v) {
    const auto it = obj.FindMember(key);
    if (it != obj.MemberEnd()) {
      it->value = std::move(v);
    } else {
      obj.AddMember(Value(key, a()), std::move(v), a());
    }
  }
  void Set(const char* key, const std::string& v) { Set(doc_, key, v); }
  void SetBool(const char* key, bool v) { SetBool(doc_, key, v); }
  void Remove(const char* key) { doc_.RemoveMember(key); }

 private:
  Value& Member(const char* key, rapidjson::Type type) {
    auto it = doc_.FindMember(key);
    if (it == doc_.MemberEnd()) {
      doc_.AddMember(Value(key, a()), Value(type), a());
      it = doc_.FindMember(key);
    } else if (it->value.GetType() != type) {
      it->value = Value(type);
    }
    return it->value;
  }
  rapidjson::Document& doc_;
};

// The binding's parameters / plan settings as JSON (both canonical text written by the broker).
rapidjson::Document ParseObject(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError() || !d.IsObject()) d.SetObject();
  return d;
}

int IntMember(const Value& obj, const char* key, int fallback) {
  const auto it = obj.FindMember(key);
  return it != obj.MemberEnd() && it->value.IsInt() ? it->value.GetInt() : fallback;
}

bool BoolMember(const Value& obj, const char* key) {
  const auto it = obj.FindMember(key);
  return it != obj.MemberEnd() && it->value.IsBool() && it->value.GetBool();
}

// The operator's view of a Cloud Controller failure: code, CF title and CC's detail.
void LogCcError(const StepContext& ctx, std::string_view step, std::string_view call, const Status& s) {
  Log()->warn("clone.cc_error job={} binding={} step={} call={} code={} title={} detail={}", ctx.job.id,
              ctx.job.binding.id, step, call, base::CodeName(s.code()), s.reason(), base::LogQuote(RedactLogLine(s.message(), 1000)));
}

// " (Cloud Foundry answered CF-UnprocessableEntity)": the CC error title of a refusal, for a
// description a developer can look up; "" when CC's answer had none. Its detail (which may quote
// the request) goes to the log only.
std::string CcTitle(const Status& s) {
  return s.reason().empty() ? std::string() : " (Cloud Foundry answered " + s.reason() + ")";
}

bool Retryable(const Status& s) {
  return s.code() == Code::kUnavailable || s.code() == Code::kDeadlineExceeded || s.code() == Code::kAborted;
}

// A Cloud Controller failure as a step outcome: retryable ones are retried by the state machine;
// the others fail the binding with `what` (user-safe) and a hint by code.
StepOutcome CcFailure(const StepContext& ctx, std::string_view step, std::string_view call, const Status& s,
                      const std::string& what) {
  LogCcError(ctx, step, call, s);
  if (Retryable(s)) return StepOutcome::Error(s);
  if (s.reason() == "ApiUrlMismatch") {  // cf::CheckApiUrl: the operator's CF_API_URL
    return StepOutcome::Fail(what + ": the broker's CF_API_URL is not the URL Cloud Foundry calls itself, so the broker "
                                    "refuses to clone; ask your operator (the broker log names the URL to configure)");
  }
  switch (s.code()) {
    case Code::kPermissionDenied:
      return StepOutcome::Fail(what +
                               ": Cloud Foundry did not allow it (a disabled feature flag or a missing role of the "
                               "broker's user); ask the operator, the broker log has the details");
    case Code::kUnauthenticated:
      return StepOutcome::Fail(what + ": the broker could not authenticate with Cloud Foundry; ask the operator");
    default:
      return StepOutcome::Fail(what + CcTitle(s) + "; the broker log has Cloud Foundry's details");
  }
}

// CC's refusal of a log rate under a quota: "log_rate_limit cannot be unlimited in organization
// 'o'." or "log_rate_limit exceeds space log rate quota" (app/models/runtime/process_model.rb,
// constraints/max_log_rate_limit_policy.rb; Sequel names the column).
bool IsLogRateRefusal(const Status& s) {
  return s.code() == Code::kFailedPrecondition && (s.message().find("log_rate_limit") != std::string::npos ||
                                                   s.message().find("og rate") != std::string::npos);
}

StepOutcome LogRateRefused(const Status& s) {
  return StepOutcome::Fail("Cloud Foundry refused the clone's log rate limit" + CcTitle(s) +
                           ": the space or org quota limits log rates, and the clone's (the app's, or the plan's "
                           "clone_log_rate_limit_max) does not fit it; ask your operator, the broker log has the details");
}

std::string SessionReportUrl(const StepContext& ctx) {
  return base::JoinUrl(ctx.settings.public_url, SessionPath(ctx.job.binding.id));
}

std::vector<std::string> AuthorizedKeys(const osb::Binding& b) {
  std::vector<std::string> keys;
  const auto params = ParseObject(b.parameters_json);
  const auto it = params.FindMember("authorized_keys");
  if (it == params.MemberEnd() || !it->value.IsArray()) return keys;
  for (const auto& k : it->value.GetArray()) {
    if (k.IsString()) keys.emplace_back(k.GetString(), k.GetStringLength());
  }
  return keys;
}

// ---- Clone steps -----------------------------------------------------------------------------

// A service binding the platform has finished creating: no last operation, or a create that
// succeeded. Anything else (initial, in progress, failed, a delete) is not settled.
bool Settled(const ServiceBinding& b) {
  if (b.last_operation_type.empty() && b.last_operation_state.empty()) return true;
  return b.last_operation_type != "delete" && b.last_operation_state == "succeeded";
}

StepOutcome ResolveSource(StepContext& ctx) {
  constexpr std::string_view kStep = step::kResolveSource;
  Out out(ctx.outputs);
  const std::string& app_guid = ctx.job.binding.app_guid;

  auto app = ctx.cc.GetApp(app_guid);
  if (!app.ok()) {
    if (app.status().code() == Code::kNotFound) {
      LogCcError(ctx, kStep, "get_app", app.status());
      return StepOutcome::Fail("the app " + app_guid +
                               " was not found, or the broker may not read it: check that the app exists and that "
                               "the broker's Cloud Foundry user may read its space");
    }
    return CcFailure(ctx, kStep, "get_app", app.status(), "reading the app " + app_guid + " failed");
  }
  if (app->lifecycle_type == "cnb") {
    return StepOutcome::Fail("the app " + app->name +
                             " uses the cloud native buildpacks (cnb) lifecycle, whose droplets Cloud Foundry cannot "
                             "copy; ssh-access supports buildpack and docker apps");
  }
  if (app->lifecycle_type != "buildpack" && app->lifecycle_type != "docker") {
    return StepOutcome::Fail("the app " + app->name + " has the lifecycle '" + app->lifecycle_type +
                             "', which ssh-access cannot clone");
  }

  auto droplet = ctx.cc.GetCurrentDroplet(app_guid);
  if (!droplet.ok()) {
    if (droplet.status().code() == Code::kNotFound) {
      LogCcError(ctx, kStep, "get_current_droplet", droplet.status());
      return StepOutcome::Fail("the app " + app->name +
                               " has no current droplet (it was never staged): stage it (cf restage " + app->name +
                               ") and bind again");
    }
    return CcFailure(ctx, kStep, "get_current_droplet", droplet.status(), "reading the app's droplet failed");
  }
  if (droplet->state != "STAGED") {
    return StepOutcome::Fail("the app " + app->name + "'s current droplet is " + droplet->state +
                             ", not STAGED: restage the app and bind again");
  }

  auto web = ctx.cc.GetWebProcess(app_guid);
  if (!web.ok()) return CcFailure(ctx, kStep, "get_web_process", web.status(), "reading the app's web process failed");

  auto bindings = ctx.cc.ListAppBindings(app_guid);
  if (!bindings.ok()) {
    return CcFailure(ctx, kStep, "list_app_bindings", bindings.status(), "listing the app's service bindings failed");
  }
  std::set<std::string> plan_guids;
  for (const auto& b : *bindings) {
    if (!b.service_plan_guid.empty()) plan_guids.insert(b.service_plan_guid);
  }
  CcMemo no_memo;
  auto own_plans = (ctx.memo != nullptr ? *ctx.memo : no_memo)
                       .OwnPlans(ctx.cc, ctx.settings.broker_name, plan_guids, ctx.clock.Now());
  if (!own_plans.ok()) {
    return CcFailure(ctx, kStep, "list_broker_plans", own_plans.status(), "listing this broker's plans failed");
  }

  Value& src = out.Obj("source");
  out.Set(src, "name", app->name);
  out.Set(src, "space_guid", app->space_guid.empty() ? ctx.job.binding.space_guid : app->space_guid);
  out.Set(src, "lifecycle", app->lifecycle_type);
  Value bps(rapidjson::kArrayType);
  for (const auto& bp : app->buildpacks) bps.PushBack(Value(bp.c_str(), out.a()), out.a());
  out.Set(src, "buildpacks", std::move(bps));
  out.Set(src, "stack", droplet->stack.empty() ? app->stack : droplet->stack);
  out.Set(src, "droplet_guid", droplet->guid);
  std::string command = web->command;
  if (command.empty() || command.rfind("[PRIVATE DATA HIDDEN", 0) == 0) {
    const auto it = droplet->process_types.find("web");
    command = it != droplet->process_types.end() ? it->second : std::string();
  }
  out.Set(src, "web_command", command);
  out.Set(src, "memory_mb", static_cast<std::int64_t>(web->memory_in_mb));
  out.Set(src, "disk_mb", static_cast<std::int64_t>(web->disk_in_mb));
  out.Set(src, "log_rate", web->log_rate_limit_in_bytes_per_second);

  Value& copy = out.Arr("bindings");
  copy.Clear();
  int excluded = 0;
  for (const auto& b : *bindings) {
    const bool ours = b.service_instance_guid == ctx.job.binding.instance_id ||
                      (!b.service_plan_guid.empty() && own_plans->count(b.service_plan_guid) > 0);
    if (ours || !Settled(b)) {
      ++excluded;
      continue;
    }
    Value e(rapidjson::kObjectType);
    out.Set(e, "instance_guid", b.service_instance_guid);
    out.Set(e, "instance_name", b.service_instance_name);
    out.Set(e, "name", b.name);
    copy.PushBack(std::move(e), out.a());
  }
  Log()->info("clone.source_resolved job={} binding={} app={} lifecycle={} bindings_to_copy={} excluded={}",
              ctx.job.id, ctx.job.binding.id, app_guid, app->lifecycle_type, copy.Size(), excluded);
  return StepOutcome::Done();
}

StepOutcome CreateClone(StepContext& ctx) {
  constexpr std::string_view kStep = step::kCreateClone;
  Out out(ctx.outputs);
  const osb::Binding& b = ctx.job.binding;

  // Adopt a clone an earlier attempt made (found by label, never by name). Every attempt makes
  // the session token's hash durable (below) before it asks for the app, in a statement that also
  // marks the job's outputs; a claim reads those at their latest version, so while neither they
  // carry the mark nor the binding a hash, no attempt has got that far and there is nothing to
  // look for: the common first run saves the call. (The binding alone would not do: a claim
  // reads it as its statement's snapshot saw it, which can be from just before the save of a
  // worker whose lease had lapsed.)
  if ((out.Bool(kSessionTokenSavedOutput) || !b.session_token_hash.empty()) && LabelValueError(b.id).empty()) {
    auto found = ctx.cc.FindAppsByLabel(BindingLabel(ctx.settings) + "=" + b.id);
    if (!found.ok()) return CcFailure(ctx, kStep, "find_apps", found.status(), "looking for an existing clone failed");
    if (!found->empty()) {
      out.Set(out.Obj("clone"), "guid", found->front().guid);
      out.Set(out.Obj("clone"), "name", found->front().name);
      Log()->info("clone.adopted job={} binding={} clone={}", ctx.job.id, b.id, found->front().guid);
      return StepOutcome::Done();
    }
  }

  // No reference into the outputs is held across a change of their root's members (a new member
  // may move the others): each use looks its object up again.
  const std::string source_name = out.Str(out.Obj("source"), "name");

  // The operator's limit on clones per space, counted among the labelled clones of this broker.
  // Checked here, before anything is made: binds racing each other may overshoot it by the
  // number in flight.
  if (ctx.settings.max_clones_per_space > 0) {
    auto ours = ctx.cc.FindAppsByLabel(ManagedByLabel(ctx.settings) + "=ssh-access");
    if (!ours.ok()) return CcFailure(ctx, kStep, "find_apps", ours.status(), "counting the space's clones failed");
    const std::string space = out.Str(out.Obj("source"), "space_guid");
    const auto in_space = std::count_if(ours->begin(), ours->end(), [&](const App& a) { return a.space_guid == space; });
    if (in_space >= ctx.settings.max_clones_per_space) {
      return StepOutcome::Fail("this space already has " + std::to_string(in_space) +
                               " ssh-access clone(s), the most your operator allows per space (" +
                               std::to_string(ctx.settings.max_clones_per_space) +
                               "); unbind one (cf unbind-service) and bind again");
    }
  }

  auto env = ctx.cc.GetEnvironmentVariables(b.app_guid);
  if (!env.ok()) return CcFailure(ctx, kStep, "get_env", env.status(), "reading the app's environment variables failed");

  // A fresh token for the clone's session report; its hash is durable before the app exists, so
  // a crash after CreateApp leaves an app whose token the broker still accepts.
  const std::string token = base::RandomHex(32);
  const Status saved = ctx.save_token_hash(base::Sha256Hex(token));
  if (!saved.ok()) return StepOutcome::Error(saved);
  out.SetBool(kSessionTokenSavedOutput, true);  // as the store marked it; kept by every checkpoint
  // Valid while the root gains no member: until "clone" is added, after the app is created.
  const Value& source = out.Obj("source");

  const auto tmate_config = session::RenderTmateConfig(
      {ctx.settings.tmate_server_host, ctx.settings.tmate_server_port, ctx.settings.tmate_ed25519_fingerprint,
       ctx.settings.tmate_rsa_fingerprint, AuthorizedKeys(b)});
  if (!tmate_config.ok()) return StepOutcome::Fail("the ssh session cannot be configured: " + tmate_config.status().message());

  NewApp app;
  app.space_guid = out.Str(source, "space_guid");
  app.lifecycle_type = out.Str(source, "lifecycle");
  app.stack = out.Str(source, "stack");
  if (const auto it = source.FindMember("buildpacks"); it != source.MemberEnd() && it->value.IsArray()) {
    for (const auto& bp : it->value.GetArray()) {
      if (bp.IsString()) app.buildpacks.emplace_back(bp.GetString());
    }
  }
  app.environment_variables = std::move(*env);
  auto& e = app.environment_variables;
  e["SSH_ACCESS_BROKER_URL"] = ctx.settings.public_url;
  e["SSH_ACCESS_BINDING_ID"] = b.id;
  e["SSH_ACCESS_SESSION_URL"] = SessionReportUrl(ctx);
  e["SSH_ACCESS_SESSION_TOKEN"] = token;
  e["SSH_ACCESS_ORIGINAL_COMMAND"] = out.Str(source, "web_command");
  e["SSH_ACCESS_TMATE_CONFIG"] = *tmate_config;
  e["SSH_ACCESS_TMATE_BUNDLE_URL"] = ctx.settings.tmate_bundle_url;
  e["SSH_ACCESS_TMATE_BUNDLE_SHA256"] = ctx.settings.tmate_bundle_sha256;
  e["SSH_ACCESS_SESSION_START_TIMEOUT"] = std::to_string(ctx.settings.session_start_timeout_seconds);
  const auto settings = ParseObject(b.plan_settings_json);
  const auto session = settings.FindMember("session");
  e["SSH_ACCESS_SESSION_MODE"] =
      session != settings.MemberEnd() && session->value.IsString() ? session->value.GetString() : "read-write";

  const std::string& p = ctx.settings.metadata_prefix;
  app.labels = {{p + "/binding-guid", b.id},
                {p + "/instance-guid", b.instance_id},
                {p + "/source-app-guid", b.app_guid},
                {p + "/managed-by", "ssh-access"}};
  app.annotations = {{p + "/source-app-name", source_name},
                     {p + "/created-at", base::FormatIso8601(ctx.clock.Now())},
                     {p + "/expires-at", base::FormatIso8601(ctx.clock.Now() + std::chrono::minutes(
                                                                                     CloneTtlMinutes(b, ctx.settings)))}};

  // Cloud Controller's metadata rules, checked before the app is asked for: a binding id or an
  // instance id that is no valid label value would otherwise be a 422 (the prefix itself was
  // checked at startup).
  if (const std::string bad = MetadataError(app.labels, app.annotations); !bad.empty()) {
    Log()->warn("clone.metadata_refused job={} binding={} why={}", ctx.job.id, b.id, base::LogQuote(bad));
    return StepOutcome::Fail("Cloud Foundry would refuse the clone's metadata (" + bad +
                             "): the binding's and the instance's ids must be valid label values (at most 63 "
                             "letters, digits, '-', '_' or '.'), as Cloud Foundry's own ids are");
  }

  // A name this process saw taken (the `<app>-ssh` of a much-cloned app) is tried last.
  const bool first_taken =
      ctx.memo != nullptr && ctx.memo->NameTaken(app.space_guid, CloneName(source_name, b.id, 0), ctx.clock.Now());
  const int attempts[2] = {first_taken ? 1 : 0, first_taken ? 0 : 1};
  bool dropped_buildpacks = false;
  for (int tried = 0; tried < 2;) {
    const int attempt = attempts[tried];
    app.name = CloneName(source_name, b.id, attempt);
    auto created = ctx.cc.CreateApp(app);
    if (attempt == 0 && ctx.memo != nullptr && (created.ok() || created.status().code() == Code::kAlreadyExists)) {
      ctx.memo->RememberTaken(app.space_guid, app.name, ctx.clock.Now());
    }
    if (created.ok()) {
      out.Set(out.Obj("clone"), "guid", created->guid);
      out.Set(out.Obj("clone"), "name", app.name);
      Log()->info("clone.created job={} binding={} clone={} name={}", ctx.job.id, b.id, created->guid, app.name);
      return StepOutcome::Done();
    }
    const Status& s = created.status();
    if (s.code() == Code::kAlreadyExists) {
      LogCcError(ctx, kStep, "create_app", s);
      ++tried;
      continue;
    }
    // Which field CC's 422 is about, from its detail: CC gives every validation error the one
    // title CF-UnprocessableEntity (lib/cloud_controller/diego/lifecycles/
    // buildpack_lifecycle_data_validator.rb words them "Buildpack ..." and "Stack ...";
    // lib/cloud_controller/stack_state_validator.rb words a restricted one "The stack 'S' is ...".
    const bool about_buildpack = s.message().find("Buildpack") != std::string::npos;
    const bool about_stack = !about_buildpack && (s.message().find("Stack") != std::string::npos ||
                                                  s.message().find("stack") != std::string::npos);
    if (s.code() == Code::kFailedPrecondition && about_buildpack && !app.buildpacks.empty() && !dropped_buildpacks) {
      // An unknown or not-ready buildpack: the droplet is already built, so create without them.
      LogCcError(ctx, kStep, "create_app", s);
      app.buildpacks.clear();
      dropped_buildpacks = true;
      continue;
    }
    if (s.code() == Code::kFailedPrecondition && about_stack) {
      LogCcError(ctx, kStep, "create_app", s);
      return StepOutcome::Fail("Cloud Foundry refused the clone app " + app.name + "'s stack '" + app.stack + "'" +
                               CcTitle(s) + ": restage " + source_name +
                               " on a current stack and bind again; the broker log has the details");
    }
    if (s.code() == Code::kFailedPrecondition) {
      LogCcError(ctx, kStep, "create_app", s);
      return StepOutcome::Fail("Cloud Foundry refused to create the clone app " + app.name + CcTitle(s) +
                               "; the broker log has its details: ask your operator");
    }
    return CcFailure(ctx, kStep, "create_app", s, "creating the clone app failed");
  }
  return StepOutcome::Fail("the names " + CloneName(source_name, b.id, 0) + " and " + CloneName(source_name, b.id, 1) +
                           " are both taken in the app's space: rename or delete one and bind again");
}

std::string CloneGuid(StepContext& ctx) {
  Out out(ctx.outputs);
  return out.Str(out.Obj("clone"), "guid");
}

StepOutcome CopyDroplet(StepContext& ctx) {
  Out out(ctx.outputs);
  if (!out.Str("droplet").empty()) return StepOutcome::Done();
  const std::string source = out.Str(out.Obj("source"), "droplet_guid");
  auto copy = ctx.cc.CopyDroplet(source, CloneGuid(ctx));
  if (!copy.ok()) {
    return CcFailure(ctx, step::kCopyDroplet, "copy_droplet", copy.status(), "copying the app's droplet was refused");
  }
  out.Set("droplet", copy->guid);
  if (copy->state == "STAGED") out.SetBool("droplet_staged", true);  // docker: copied at once
  return StepOutcome::Done();
}

StepOutcome AwaitDroplet(StepContext& ctx) {
  Out out(ctx.outputs);
  if (out.Bool("droplet_staged")) return StepOutcome::Done();
  auto d = ctx.cc.GetDroplet(out.Str("droplet"));
  if (!d.ok()) return CcFailure(ctx, step::kAwaitDroplet, "get_droplet", d.status(), "reading the copied droplet failed");
  if (d->state == "STAGED") return StepOutcome::Done();
  if (d->state == "FAILED" || d->state == "EXPIRED") {
    Log()->warn("clone.droplet_copy_failed job={} binding={} droplet={} error={}", ctx.job.id, ctx.job.binding.id,
                d->guid, base::LogQuote(d->error));
    return StepOutcome::Fail("Cloud Foundry failed to copy the app's droplet to the clone; bind again to retry");
  }
  return StepOutcome::Wait(ctx.settings.poll_interval);
}

StepOutcome SetDroplet(StepContext& ctx) {
  Out out(ctx.outputs);
  const Status s = ctx.cc.SetCurrentDroplet(CloneGuid(ctx), out.Str("droplet"));
  if (!s.ok()) return CcFailure(ctx, step::kSetDroplet, "set_current_droplet", s, "assigning the droplet to the clone failed");
  return StepOutcome::Done();
}

// Scales process `guid`; nullopt when CC did it, else the step's outcome: a log rate refusal
// named as such (a quota's), other failures as CcFailure with `what`.
std::optional<StepOutcome> ScaleOrRefuse(const StepContext& ctx, const std::string& guid, const Scale& scale,
                                         const std::string& what) {
  const Status s = ctx.cc.ScaleProcess(guid, scale);
  if (s.ok()) return std::nullopt;
  if (IsLogRateRefusal(s)) {
    LogCcError(ctx, step::kConfigureProcess, "scale_process", s);
    return LogRateRefused(s);
  }
  return CcFailure(ctx, step::kConfigureProcess, "scale_process", s, what);
}

StepOutcome ConfigureProcess(StepContext& ctx) {
  Out out(ctx.outputs);
  const Value& src = out.Obj("source");
  const std::string clone = CloneGuid(ctx);
  // The web process by its app (its own guid is CC's to choose); a re-run that finds it already
  // running the bootstrap does not patch it again.
  auto process = ctx.cc.GetWebProcess(clone);
  if (!process.ok()) {
    return CcFailure(ctx, step::kConfigureProcess, "get_web_process", process.status(),
                     "reading the clone's web process failed");
  }
  if (process->command != ctx.settings.bootstrap_command || process->health_check_type != "process") {
    ProcessUpdate update;
    update.command = ctx.settings.bootstrap_command;
    update.health_check_type = "process";
    process = ctx.cc.UpdateProcess(process->guid, update);
    if (!process.ok()) {
      return CcFailure(ctx, step::kConfigureProcess, "update_process", process.status(),
                       "configuring the clone's process failed");
    }
  }

  const auto settings = ParseObject(ctx.job.binding.plan_settings_json);
  const auto params = ParseObject(ctx.job.binding.parameters_json);
  int memory = static_cast<int>(out.Int(src, "memory_mb", 1024));
  if (memory <= 0) memory = 1024;
  const int plan_cap = IntMember(settings, "clone_memory_mb_max", 0);
  if (plan_cap > 0) memory = std::min(memory, plan_cap);
  if (ctx.settings.max_memory_mb > 0) memory = std::min(memory, ctx.settings.max_memory_mb);
  const int requested = IntMember(params, "memory_mb", 0);
  if (requested > 0) memory = std::min(memory, requested);
  Scale scale;
  scale.instances = 1;
  scale.memory_in_mb = memory;
  scale.disk_in_mb = static_cast<int>(out.Int(src, "disk_mb", 0));
  // The source's log rate, capped by the plan: CC refuses to start an unlimited (-1) process
  // under an org or space quota with a log rate limit (cloud_controller_ng
  // app/models/runtime/process_model.rb, constraints/max_log_rate_limit_policy.rb), and a shell
  // needs little.
  std::int64_t log_rate = std::max<std::int64_t>(out.Int(src, "log_rate", -1), -1);
  const std::int64_t log_rate_cap = IntMember(settings, "clone_log_rate_limit_max", 0);
  if (log_rate_cap > 0 && (log_rate < 0 || log_rate > log_rate_cap)) log_rate = log_rate_cap;
  scale.log_rate_limit_in_bytes_per_second = log_rate;
  // The PATCH answered with the process as it is: a clone that already has the wanted size (the
  // platform's defaults often are the source's, and a re-run finds its own earlier scale) is not
  // scaled again.
  const bool sized = process->instances == scale.instances && process->memory_in_mb == scale.memory_in_mb &&
                     (scale.disk_in_mb <= 0 || process->disk_in_mb == scale.disk_in_mb) &&
                     process->log_rate_limit_in_bytes_per_second == scale.log_rate_limit_in_bytes_per_second;
  if (!sized) {
    if (auto refused = ScaleOrRefuse(ctx, process->guid, scale, "sizing the clone's process failed")) return *refused;
  }
  // Starting an app starts every process type the droplet made, and CC checks each one's log rate
  // even at 0 instances: an unlimited one is refused under a log rate quota
  // (process_log_rate_limit_calculator.rb answers UNLIMITED before it looks at instances). So the
  // other types (a worker, a task type) get the cap too, at 0 instances: a clone runs a shell,
  // never the source's workers.
  if (log_rate_cap > 0) {
    auto all = ctx.cc.ListProcesses(clone);
    if (!all.ok()) {
      return CcFailure(ctx, step::kConfigureProcess, "list_processes", all.status(), "listing the clone's processes failed");
    }
    for (const Process& other : *all) {
      if (other.guid == process->guid) continue;
      const std::int64_t rate = other.log_rate_limit_in_bytes_per_second;
      if (other.instances == 0 && rate >= 0 && rate <= log_rate_cap) continue;
      Scale idle;
      idle.instances = 0;
      idle.log_rate_limit_in_bytes_per_second = (rate < 0 || rate > log_rate_cap) ? log_rate_cap : rate;
      if (auto refused = ScaleOrRefuse(ctx, other.guid, idle, "sizing the clone's " + other.type + " process failed")) {
        return *refused;
      }
    }
  }
  out.Set(out.Obj("clone"), "memory_mb", static_cast<std::int64_t>(memory));
  out.Set(out.Obj("clone"), "web_process_guid", process->guid);
  return StepOutcome::Done();
}

bool Strict(const StepContext& ctx) { return BoolMember(ParseObject(ctx.job.binding.parameters_json), "strict"); }

void Skip(Out& out, const Value& binding, const std::string& reason) {
  Value& skipped = out.Arr("skipped");
  Value e(rapidjson::kObjectType);
  out.Set(e, "name", out.Str(binding, "instance_name"));
  out.Set(e, "instance_guid", out.Str(binding, "instance_guid"));
  out.Set(e, "reason", reason);
  skipped.PushBack(std::move(e), out.a());
}

std::string InstanceLabel(const Out& out, const Value& binding) {
  const std::string name = out.Str(binding, "instance_name");
  return name.empty() ? out.Str(binding, "instance_guid") : name;
}

StepOutcome BindServices(StepContext& ctx) {
  constexpr std::string_view kStep = step::kBindServices;
  Out out(ctx.outputs);
  const std::string clone = CloneGuid(ctx);
  Value& todo = out.Arr("bindings");
  if (todo.Empty()) return StepOutcome::Done();

  // Bindings an earlier attempt created are adopted by their service instance, in the state the
  // platform shows: one still being created is awaited (by the binding itself, its job being
  // unknown). So nothing needs saving between two creations: a re-run finds them all. A step this
  // claim has just entered had no earlier attempt, so there is nothing to list.
  std::map<std::string, ServiceBinding> bound;
  if (ctx.resumed) {
    auto existing = ctx.cc.ListAppBindings(clone);
    if (!existing.ok()) {
      return CcFailure(ctx, kStep, "list_app_bindings", existing.status(), "listing the clone's bindings failed");
    }
    for (auto& e : *existing) bound.emplace(e.service_instance_guid, std::move(e));
  }

  const bool strict = Strict(ctx);
  for (auto& b : todo.GetArray()) {
    if (!b.IsObject() || b.HasMember("state")) continue;  // handled by an earlier attempt
    const std::string instance = out.Str(b, "instance_guid");
    if (const auto found = bound.find(instance); found != bound.end()) {
      const ServiceBinding& e = found->second;
      const bool done = Settled(e);
      out.Set(b, "state", std::string(done ? "created" : "pending"));
      if (!done) out.Set(b, "binding", e.guid);
      continue;
    }
    auto job = ctx.cc.CreateServiceBinding(clone, instance, out.Str(b, "name"));
    if (!job.ok()) {
      if (Retryable(job.status())) return CcFailure(ctx, kStep, "create_binding", job.status(), "");
      LogCcError(ctx, kStep, "create_binding", job.status());
      if (strict) {
        return StepOutcome::Fail("Cloud Foundry refused to bind the service instance " + InstanceLabel(out, b) +
                                 " to the clone, and the bind parameter strict is true; the broker log has the details");
      }
      out.Set(b, "state", std::string("skipped"));
      Skip(out, b, "Cloud Foundry refused to bind it to the clone");
    } else {
      out.Set(b, "state", std::string(job->has_value() ? "pending" : "created"));
      if (job->has_value()) out.Set(b, "job", **job);
    }
  }
  return StepOutcome::Done();
}

// A binding of the clone failed on the platform: the bind fails when strict, or the binding is
// listed as skipped (nullopt: go on).
std::optional<StepOutcome> BindingFailed(Out& out, Value& b, bool strict) {
  if (strict) {
    return StepOutcome::Fail("binding the service instance " + InstanceLabel(out, b) +
                             " to the clone failed, and the bind parameter strict is true; the broker log has the "
                             "details");
  }
  out.Set(b, "state", std::string("skipped"));
  Skip(out, b, "its service broker failed to bind it to the clone");
  return std::nullopt;
}

StepOutcome AwaitBindings(StepContext& ctx) {
  constexpr std::string_view kStep = step::kAwaitBindings;
  Out out(ctx.outputs);
  const bool strict = Strict(ctx);
  bool pending = false;
  // The clone's bindings as the platform shows them, listed once, for those adopted without a job.
  std::optional<std::map<std::string, ServiceBinding>> listed;
  for (auto& b : out.Arr("bindings").GetArray()) {
    if (!b.IsObject() || out.Str(b, "state") != "pending") continue;
    if (!b.HasMember("job")) {
      if (!listed) {
        auto existing = ctx.cc.ListAppBindings(CloneGuid(ctx));
        if (!existing.ok()) {
          return CcFailure(ctx, kStep, "list_app_bindings", existing.status(), "listing the clone's bindings failed");
        }
        listed.emplace();
        for (auto& e : *existing) listed->emplace(e.guid, std::move(e));
      }
      const auto found = listed->find(out.Str(b, "binding"));
      const std::string state = found == listed->end() ? std::string("gone") : found->second.last_operation_state;
      if (found != listed->end() && Settled(found->second)) {
        out.Set(b, "state", std::string("created"));
      } else if (state == "initial" || state == "in progress") {
        pending = true;
      } else {
        Log()->warn("clone.binding_failed job={} binding={} instance={} cc_binding={} state={}", ctx.job.id,
                    ctx.job.binding.id, out.Str(b, "instance_guid"), out.Str(b, "binding"), state);
        if (auto failed = BindingFailed(out, b, strict)) return *failed;
      }
      continue;
    }
    auto job = ctx.cc.GetJob(out.Str(b, "job"));
    if (!job.ok()) {
      if (job.status().code() == Code::kNotFound) {  // pruned: the binding itself tells
        Log()->warn("clone.binding_job_gone job={} binding={} cc_job={}", ctx.job.id, ctx.job.binding.id, out.Str(b, "job"));
        out.Set(b, "state", std::string("created"));
        continue;
      }
      return CcFailure(ctx, kStep, "get_job", job.status(), "following a service binding job failed");
    }
    if (job->state == "COMPLETE") {
      out.Set(b, "state", std::string("created"));
    } else if (job->state == "FAILED") {
      Log()->warn("clone.binding_failed job={} binding={} instance={} title={} detail={}", ctx.job.id,
                  ctx.job.binding.id, out.Str(b, "instance_guid"), job->error_title, base::LogQuote(job->error_detail));
      if (auto failed = BindingFailed(out, b, strict)) return *failed;
    } else {
      pending = true;
    }
  }
  return pending ? StepOutcome::Wait(ctx.settings.poll_interval) : StepOutcome::Done();
}

StepOutcome Start(StepContext& ctx) {
  Out out(ctx.outputs);
  const Status s = ctx.cc.StartApp(CloneGuid(ctx));
  if (s.ok()) return StepOutcome::Done();
  if (s.code() == Code::kFailedPrecondition) {
    LogCcError(ctx, step::kStart, "start_app", s);
    const std::string detail = s.message();
    const std::int64_t memory = out.Int(out.Obj("clone"), "memory_mb", 0);
    if (IsLogRateRefusal(s)) return LogRateRefused(s);
    if (detail.find("quota") != std::string::npos || detail.find("limit") != std::string::npos) {
      return StepOutcome::Fail("Cloud Foundry refused to start the clone: the space or org quota does not allow another "
                               "instance of " + std::to_string(memory) +
                               " MB; free some quota, or bind with a smaller memory_mb");
    }
    return StepOutcome::Fail("Cloud Foundry refused to start the clone" + CcTitle(s) + "; the broker log has the details");
  }
  return CcFailure(ctx, step::kStart, "start_app", s, "starting the clone failed");
}

StepOutcome AwaitSession(StepContext& ctx) {
  constexpr std::string_view kStep = step::kAwaitSession;
  // A look after a wait asks for the report first: a session ends the step (the clone is running
  // and nothing else needs asking: one Cloud Controller call fewer), a failure fails it. Right
  // after this claim started the app only the platform is asked: the worker's write of the wait
  // that follows looks at the report under the binding's lock (it ends the bind when the report
  // is there; a report after that finds the job waiting and ends it), so none is missed.
  if (ctx.resumed) {
    auto binding = ctx.read_binding();
    if (!binding.ok()) return StepOutcome::Error(binding.status());
    if (binding->has_value()) {
      if (SessionReported(**binding)) return StepOutcome::Done();
      if (const auto failure = session::SessionFailure((*binding)->credentials_json)) {
        return StepOutcome::Fail(
            session::DescribeTmateFailure(*failure, ctx.settings.tmate_server_host, ctx.settings.tmate_server_port));
      }
    }
  }

  const std::string clone = CloneGuid(ctx);
  // The web process's guid as configure_process read it (a job from before it was recorded asks).
  std::string web = CloneOutput(ctx.outputs, "web_process_guid");
  if (web.empty()) {
    auto process = ctx.cc.GetWebProcess(clone);
    if (!process.ok()) return CcFailure(ctx, kStep, "get_web_process", process.status(), "reading the clone's state failed");
    web = process->guid;
    Out out(ctx.outputs);
    out.Set(out.Obj("clone"), "web_process_guid", web);
  }
  auto stats = ctx.cc.GetProcessStats(web);
  if (!stats.ok()) return CcFailure(ctx, kStep, "get_stats", stats.status(), "reading the clone's state failed");
  for (const auto& st : *stats) {
    if (st.state == "CRASHED") {
      std::string lines;
      auto logs = ctx.cc.RecentLogs(clone, ctx.settings.crash_log_lines);
      if (logs.ok()) {
        for (const auto& l : *logs) lines += (lines.empty() ? "" : " | ") + RedactLogLine(l);
      } else {
        LogCcError(ctx, kStep, "recent_logs", logs.status());
      }
      return StepOutcome::Fail("the clone crashed while starting the ssh session" +
                               (lines.empty() ? std::string(" (no log lines were available)")
                                              : "; its last log lines: " + lines));
    }
    if (st.state == "DOWN" && !st.details.empty()) {
      Log()->warn("clone.placement job={} binding={} details={}", ctx.job.id, ctx.job.binding.id,
                  base::LogQuote(st.details));
    }
  }
  // Starting, or running and the bootstrap has not reported yet: look again later.
  return StepOutcome::Wait(ctx.settings.poll_interval);
}

// ---- Teardown steps --------------------------------------------------------------------------

std::vector<std::string> Clones(Out& out) {
  std::vector<std::string> guids;
  for (const auto& g : out.Arr("clones").GetArray()) {
    if (g.IsString()) guids.emplace_back(g.GetString());
  }
  return guids;
}

StepOutcome FindClone(StepContext& ctx) {
  Out out(ctx.outputs);
  std::set<std::string> guids;
  // A binding id that is no valid label value never labelled a clone (create_clone refuses it),
  // and CC would answer its selector with 400.
  if (LabelValueError(ctx.job.binding.id).empty()) {
    auto found = ctx.cc.FindAppsByLabel(BindingLabel(ctx.settings) + "=" + ctx.job.binding.id);
    if (!found.ok()) return CcFailure(ctx, step::kFindClone, "find_apps", found.status(), "looking for the clone failed");
    for (const auto& a : *found) guids.insert(a.guid);
  }
  // A clone the binding row knows but whose label search missed it (labels edited by hand).
  if (!ctx.job.binding.clone_app_guid.empty()) {
    auto app = ctx.cc.GetApp(ctx.job.binding.clone_app_guid);
    if (app.ok()) {
      guids.insert(app->guid);
    } else if (app.status().code() != Code::kNotFound) {
      return CcFailure(ctx, step::kFindClone, "get_app", app.status(), "looking for the clone failed");
    }
  }
  Value& list = out.Arr("clones");
  list.Clear();
  for (const auto& g : guids) list.PushBack(Value(g.c_str(), out.a()), out.a());
  Log()->info("clone.teardown_found job={} binding={} clones={}", ctx.job.id, ctx.job.binding.id, guids.size());
  return StepOutcome::Done();
}

StepOutcome StopClone(StepContext& ctx) {
  Out out(ctx.outputs);
  for (const auto& guid : Clones(out)) {
    const Status s = ctx.cc.StopApp(guid);
    if (!s.ok() && s.code() != Code::kNotFound) {
      return CcFailure(ctx, step::kStopClone, "stop_app", s, "stopping the clone failed");
    }
  }
  return StepOutcome::Done();
}

StepOutcome UnbindServices(StepContext& ctx) {
  constexpr std::string_view kStep = step::kUnbindServices;
  Out out(ctx.outputs);
  Value& jobs = out.Arr("unbind_jobs");
  if (jobs.Empty() && !out.Bool("unbinds_sent")) {
    for (const auto& guid : Clones(out)) {
      auto bindings = ctx.cc.ListAppBindings(guid);
      if (!bindings.ok()) {
        if (bindings.status().code() == Code::kNotFound) continue;
        return CcFailure(ctx, kStep, "list_app_bindings", bindings.status(), "listing the clone's bindings failed");
      }
      for (const auto& b : *bindings) {
        auto job = ctx.cc.DeleteServiceBinding(b.guid);
        if (!job.ok()) {
          if (job.status().code() == Code::kNotFound) continue;
          if (job.status().code() == Code::kFailedPrecondition) {
            // Its create still runs (CF-AsyncServiceBindingOperationInProgress): the app delete
            // takes it along, or fails and is retried once it settled.
            LogCcError(ctx, kStep, "delete_binding", job.status());
            continue;
          }
          return CcFailure(ctx, kStep, "delete_binding", job.status(), "deleting the clone's service bindings failed");
        }
        if (job->has_value()) jobs.PushBack(Value((*job)->c_str(), out.a()), out.a());
      }
    }
    out.SetBool("unbinds_sent", true);
  }
  // Wait for the managed bindings' delete jobs: on a CC without recursive app delete, deleting
  // the app while one runs fails.
  Value still(rapidjson::kArrayType);
  for (const auto& j : jobs.GetArray()) {
    if (!j.IsString()) continue;
    auto job = ctx.cc.GetJob(j.GetString());
    if (!job.ok() && job.status().code() != Code::kNotFound) {
      return CcFailure(ctx, kStep, "get_job", job.status(), "following the unbinding of the clone's services failed");
    }
    if (job.ok() && job->state == "FAILED") {
      Log()->warn("clone.unbind_failed job={} binding={} cc_job={} title={} detail={}", ctx.job.id, ctx.job.binding.id,
                  j.GetString(), job->error_title, base::LogQuote(job->error_detail));
    }
    if (job.ok() && (job->state == "PROCESSING" || job->state == "POLLING")) {
      still.PushBack(Value(j.GetString(), out.a()), out.a());
    }
  }
  jobs = std::move(still);
  return jobs.Empty() ? StepOutcome::Done() : StepOutcome::Wait(ctx.settings.poll_interval);
}

StepOutcome DeleteClone(StepContext& ctx) {
  constexpr std::string_view kStep = step::kDeleteClone;
  Out out(ctx.outputs);
  Value& jobs = out.Obj("delete_jobs");  // clone guid -> delete job guid
  for (const auto& guid : Clones(out)) {
    if (jobs.HasMember(guid.c_str())) continue;
    auto job = ctx.cc.DeleteApp(guid);
    if (!job.ok()) {
      if (job.status().code() == Code::kNotFound) {
        out.Set(jobs, guid.c_str(), std::string());
        continue;
      }
      return CcFailure(ctx, kStep, "delete_app", job.status(), "deleting the clone failed");
    }
    out.Set(jobs, guid.c_str(), *job);
  }
  return StepOutcome::Done();
}

StepOutcome AwaitDelete(StepContext& ctx) {
  constexpr std::string_view kStep = step::kAwaitDelete;
  Out out(ctx.outputs);
  Value& jobs = out.Obj("delete_jobs");
  // A clone whose delete failed on an earlier attempt is deleted again.
  for (const auto& guid : Clones(out)) {
    if (jobs.HasMember(guid.c_str())) continue;
    auto job = ctx.cc.DeleteApp(guid);
    if (!job.ok() && job.status().code() != Code::kNotFound) {
      return CcFailure(ctx, kStep, "delete_app", job.status(), "deleting the clone failed");
    }
    out.Set(jobs, guid.c_str(), job.ok() ? *job : std::string());
  }
  bool pending = false;
  std::vector<std::string> failed;
  for (auto& m : jobs.GetObject()) {
    const std::string guid(m.name.GetString());
    const std::string job_guid = m.value.IsString() ? m.value.GetString() : "";
    if (job_guid.empty()) continue;
    auto job = ctx.cc.GetJob(job_guid);
    if (!job.ok()) {
      if (job.status().code() != Code::kNotFound) {
        return CcFailure(ctx, kStep, "get_job", job.status(), "following the deletion of the clone failed");
      }
      // The job was pruned: the app tells.
      auto app = ctx.cc.GetApp(guid);
      if (app.ok()) {
        failed.push_back(guid);
      } else if (app.status().code() != Code::kNotFound) {
        return CcFailure(ctx, kStep, "get_app", app.status(), "following the deletion of the clone failed");
      } else {
        m.value.SetString("");
      }
      continue;
    }
    if (job->state == "COMPLETE") {
      m.value.SetString("");
    } else if (job->state == "FAILED") {
      Log()->warn("clone.delete_failed job={} binding={} clone={} title={} detail={}", ctx.job.id, ctx.job.binding.id,
                  guid, job->error_title, base::LogQuote(job->error_detail));
      failed.push_back(guid);
    } else {
      pending = true;
    }
  }
  if (!failed.empty()) {
    // Deleted again on the retry (after the bindings' own deletes settle).
    for (const auto& g : failed) jobs.RemoveMember(g.c_str());
    return StepOutcome::Error(Status::Unavailable("Cloud Foundry failed to delete the clone; retrying"));
  }
  if (pending) return StepOutcome::Wait(ctx.settings.poll_interval);
  return StepOutcome::Done();
}

}  // namespace

bool SessionReported(const osb::Binding& b) {
  if (b.credentials_json.empty()) return false;
  const auto creds = ParseObject(b.credentials_json);
  const auto it = creds.FindMember("ssh_command");
  return it != creds.MemberEnd() && it->value.IsString() && it->value.GetStringLength() > 0;
}

std::string BindingLabel(const EngineSettings& s) { return s.metadata_prefix + "/binding-guid"; }
std::string ManagedByLabel(const EngineSettings& s) { return s.metadata_prefix + "/managed-by"; }

std::string SessionPath(std::string_view binding_id) {
  return "/ssh-access/v1/bindings/" + base::PercentEncode(binding_id) + "/session";
}

StepOutcome RunStep(std::string_view name, StepContext& ctx) {
  using Fn = StepOutcome (*)(StepContext&);
  static const std::vector<std::pair<std::string_view, Fn>> kSteps = {
      {step::kResolveSource, ResolveSource}, {step::kCreateClone, CreateClone},
      {step::kCopyDroplet, CopyDroplet},     {step::kAwaitDroplet, AwaitDroplet},
      {step::kSetDroplet, SetDroplet},       {step::kConfigureProcess, ConfigureProcess},
      {step::kBindServices, BindServices},   {step::kAwaitBindings, AwaitBindings},
      {step::kStart, Start},                 {step::kAwaitSession, AwaitSession},
      {step::kFindClone, FindClone},         {step::kStopClone, StopClone},
      {step::kUnbindServices, UnbindServices}, {step::kDeleteClone, DeleteClone},
      {step::kAwaitDelete, AwaitDelete},
  };
  for (const auto& [n, fn] : kSteps) {
    if (n == name) return fn(ctx);
  }
  return StepOutcome::Fail("internal error: unknown step " + std::string(name));
}

std::string AssembleCredentials(const std::string& session_credentials_json, const rapidjson::Value& outputs,
                                const std::string& session_url, base::TimePoint expires_at) {
  rapidjson::Document creds = ParseObject(session_credentials_json);
  auto& a = creds.GetAllocator();
  auto set = [&](const char* key, Value v) {
    creds.RemoveMember(key);
    creds.AddMember(Value(key, a), std::move(v), a);
  };
  auto str = [&](const Value& obj, const char* key) -> std::string {
    if (!obj.IsObject()) return {};
    const auto it = obj.FindMember(key);
    return it != obj.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
  };
  std::string clone_name, clone_guid;
  if (outputs.IsObject()) {
    const auto clone = outputs.FindMember("clone");
    if (clone != outputs.MemberEnd()) {
      clone_name = str(clone->value, "name");
      clone_guid = str(clone->value, "guid");
    }
  }
  set("clone_app_name", Value(clone_name.c_str(), a));
  set("clone_app_guid", Value(clone_guid.c_str(), a));
  set("expires_at", Value(base::FormatIso8601(expires_at).c_str(), a));
  set("session_url", Value(session_url.c_str(), a));
  creds.RemoveMember("skipped_services");
  creds.RemoveMember("session_failure");  // a later reconnect problem is the session_url's business
  if (outputs.IsObject()) {
    const auto skipped = outputs.FindMember("skipped");
    if (skipped != outputs.MemberEnd() && skipped->value.IsArray() && !skipped->value.Empty()) {
      Value list(rapidjson::kArrayType);
      for (const auto& s : skipped->value.GetArray()) {
        Value e(rapidjson::kObjectType);
        e.AddMember("name", Value(str(s, "name").c_str(), a), a);
        e.AddMember("reason", Value(str(s, "reason").c_str(), a), a);
        list.PushBack(std::move(e), a);
      }
      set("skipped_services", std::move(list));
    }
  }
  return osb::CanonicalJson(creds);
}

std::string CloneOutput(const rapidjson::Value& outputs, const char* key) {
  if (!outputs.IsObject()) return {};
  const auto o = outputs.FindMember("clone");
  if (o == outputs.MemberEnd() || !o->value.IsObject()) return {};
  const auto v = o->value.FindMember(key);
  return v != o->value.MemberEnd() && v->value.IsString() ? v->value.GetString() : "";
}

namespace {

// https://<binding>:<key>@host/ssh-access/v1/bindings/<binding>/session: `curl "$session_url"`
// authenticates with HTTP Basic, and the key never travels in a request line a proxy might log.
// The binding id is percent-encoded in the userinfo as in the path (curl decodes both); the key is hex.
std::string SessionUrl(const std::string& public_url, const std::string& binding_id, const std::string& key) {
  const std::string url = base::JoinUrl(public_url, SessionPath(binding_id));
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  return url.substr(0, scheme + 3) + base::PercentEncode(binding_id) + ":" + key + "@" + url.substr(scheme + 3);
}

}  // namespace

void CompleteBind(osb::Binding& row, const rapidjson::Value& outputs, const EngineSettings& settings,
                  base::TimePoint now) {
  const std::string key = base::RandomHex(32);
  const auto expires = now + std::chrono::minutes(CloneTtlMinutes(row, settings));
  row.credentials_json =
      AssembleCredentials(row.credentials_json, outputs, SessionUrl(settings.public_url, row.id, key), expires);
  row.session_key_hash = base::Sha256Hex(key);
  row.expires_at = expires;
  row.clone_app_guid = CloneOutput(outputs, "guid");
  row.clone_app_name = CloneOutput(outputs, "name");
  row.state = osb::OperationState::kSucceeded;
  row.description.clear();
}

int CloneTtlMinutes(const osb::Binding& binding, const EngineSettings& settings) {
  const auto plan = ParseObject(binding.plan_settings_json);
  const auto params = ParseObject(binding.parameters_json);
  int ttl = IntMember(params, "ttl_minutes", 0);
  if (ttl <= 0) ttl = settings.ttl_minutes;
  if (ttl <= 0) ttl = IntMember(plan, "ttl_minutes_default", 60);
  const int max = IntMember(plan, "ttl_minutes_max", 0);
  if (max > 0) ttl = std::min(ttl, max);
  return std::max(ttl, 1);
}

std::string RedactLogLine(std::string_view line, std::size_t max_chars) {
  auto token_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '+' || c == '/';
  };
  std::string out;
  std::size_t i = 0;
  while (i < line.size()) {
    if (!token_char(line[i])) {
      const char c = line[i++];
      out.push_back(std::isprint(static_cast<unsigned char>(c)) != 0 ? c : ' ');
      continue;
    }
    std::size_t j = i;
    while (j < line.size() && token_char(line[j])) ++j;
    std::string_view word = line.substr(i, j - i);
    const bool user_at_host = j < line.size() && line[j] == '@';
    bool has_digit = false, has_alpha = false;
    for (char c : word) {
      has_digit |= std::isdigit(static_cast<unsigned char>(c)) != 0;
      has_alpha |= std::isalpha(static_cast<unsigned char>(c)) != 0;
    }
    const bool looks_secret = word.size() >= 16 && has_digit && has_alpha;
    out += (user_at_host || looks_secret) ? std::string("[redacted]") : std::string(word);
    // key=value and key: value pairs whose key names a secret.
    std::string lower;
    for (char c : word) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    const bool secret_key = lower.find("password") != std::string::npos || lower.find("secret") != std::string::npos ||
                            lower.find("token") != std::string::npos || lower.find("key") != std::string::npos;
    i = j;
    if (secret_key && i < line.size() && (line[i] == '=' || line[i] == ':')) {
      out.push_back(line[i++]);
      while (i < line.size() && line[i] == ' ') out.push_back(line[i++]);
      while (i < line.size() && line[i] != ' ' && line[i] != ',' && line[i] != ';') ++i;
      out += "[redacted]";
    }
  }
  if (out.size() > max_chars) out = out.substr(0, max_chars) + "...";
  return out;
}

std::string CloneName(const std::string& source_name, const std::string& binding_id, int attempt) {
  const std::string suffix = attempt == 0 ? "-ssh" : "-ssh-" + binding_id.substr(0, 8);
  std::string base = source_name;
  if (base.size() + suffix.size() > kMaxAppName) base.resize(kMaxAppName - suffix.size());
  return base + suffix;
}

}  // namespace broker::clone
