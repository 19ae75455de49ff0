// The step functions of the clone and teardown jobs (DESIGN.md §5, cloud-controller.md §2.2 and
// §2.4): one function per step name of state_machine.h, each idempotent and check-then-act, so a
// step re-run after a crash, a lost lease or a retry adopts what the earlier attempt made
// (the clone is found by its label, created bindings by their service instance, jobs by the
// guids checkpointed in the job's outputs).
//
// A step reads the job (its binding and the outputs earlier steps checkpointed), calls the Cloud
// Controller, records what it learnt in `outputs`, and returns a StepOutcome; the worker applies
// the state machine's decision and checkpoints the outputs. Outputs never hold a secret: the
// source app's environment variables are read again by the step that creates the clone, and
// only the hash of the clone's session token is stored (on the binding).
//
// User-facing descriptions (StepOutcome::Fail) say what went wrong and what the developer can do;
// Cloud Controller's own text goes to the `clone` log only.
//
// Thread-compatible: a StepContext belongs to the one worker thread running the job.
#ifndef BROKER_CLONE_STEPS_H_
#define BROKER_CLONE_STEPS_H_

#include <rapidjson/document.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/status.h"
#include "broker/clone/cc_memo.h"
#include "broker/clone/cloud_controller.h"
#include "broker/clone/job_store.h"
#include "broker/clone/metadata.h"
#include "broker/clone/state_machine.h"

namespace broker::clone {

// The shell command the clone's web process runs instead of the app: fetch the bootstrap from the
// broker (curl, else wget) and run it. The bootstrap itself is served by the broker (issue: the
// ssh session); it reads the SSH_ACCESS_* variables the clone is created with.
inline constexpr char kDefaultBootstrapCommand[] =
    "u=\"$SSH_ACCESS_BROKER_URL/ssh-access/v1/bootstrap\"; f=\"${TMPDIR:-/tmp}/ssh-access-bootstrap\"; "
    "{ curl -fsSL --retry 5 -o \"$f\" \"$u\" || wget -q -O \"$f\" \"$u\"; } && exec bash \"$f\"";
// CC refuses a process command over 4096 characters (app/messages/process_update_message.rb).
static_assert(sizeof(kDefaultBootstrapCommand) - 1 <= 4096, "CC refuses process commands over 4096 characters");

// Operator settings the steps need (from config::Config).
struct EngineSettings {
  std::string public_url;                    // BROKER_PUBLIC_URL: what clones call back to
  std::string metadata_prefix = kDefaultMetadataPrefix;  // CLONE_METADATA_PREFIX: of the clone's label and annotation keys
  std::string broker_name = "ssh-access";    // CF_BROKER_NAME: this broker as registered in CC
  std::string bootstrap_command = kDefaultBootstrapCommand;
  int max_memory_mb = 0;                     // CLONE_MAX_MEMORY_MB; 0 = the plan's cap only
  int ttl_minutes = 0;                       // CLONE_TTL; 0 = the plan's default
  int max_clones_per_space = 0;              // CLONE_MAX_PER_SPACE; 0 = no limit
  std::string tmate_server_host;             // handed to the clone's environment
  int tmate_server_port = 22;
  std::string tmate_ed25519_fingerprint;
  std::string tmate_rsa_fingerprint;
  std::string tmate_bundle_url;              // where the clone downloads tmate from
  std::string tmate_bundle_sha256;           // its hex SHA-256, checked by the bootstrap
  std::chrono::milliseconds poll_interval{2000};  // between looks at a copying droplet, a job, stats
  int crash_log_lines = 10;                  // log lines quoted when the clone crashes
  int session_start_timeout_seconds = 120;   // SESSION_START_TIMEOUT: the clone's bootstrap reports no session after it
};

// "/ssh-access/v1/bindings/<binding id>/session", the id percent-encoded (OSB binding ids are the
// platform's strings and may hold '/', '?' or '#'): the path the clone reports its session to and
// a credentials holder reads it from (http/server.h). Join it to public_url with base::JoinUrl.
std::string SessionPath(std::string_view binding_id);

// Label keys on every clone.
std::string BindingLabel(const EngineSettings& s);     // "<prefix>/binding-guid"
std::string ManagedByLabel(const EngineSettings& s);   // "<prefix>/managed-by" = "ssh-access"

// Everything a step may use. save_token_hash persists, under the job's lease, what must be durable
// before a Cloud Controller call (the session token's hash, before the clone app exists).
struct StepContext {
  const ClaimedJob& job;
  rapidjson::Document& outputs;  // an object; the worker checkpoints it after the step
  CloudController& cc;
  const EngineSettings& settings;
  const base::Clock& clock;
  // JobStore::SaveSessionTokenHash under the job's lease (which also sets the job's stored
  // outputs' kSessionTokenSavedOutput; the step sets it in `outputs` too).
  std::function<base::Status(const std::string& token_hash)> save_token_hash;
  // Reads the binding as it is now (the session report arrives on another thread). In the first
  // step of a claim it answers with the row the claim read together with the job, without a
  // second round trip.
  std::function<base::Result<std::optional<osb::Binding>>()> read_binding;
  // The process's memo of rarely changing Cloud Controller facts (our plans, taken clone names);
  // nullptr: ask Cloud Controller every time.
  CcMemo* memo = nullptr;
  // False when an earlier step of this same claim moved the job to this step: then no attempt of
  // it ran before (only this worker held the job since), and a step may skip looking for what
  // an earlier attempt made. True for the first step of a claim, which may be a re-run.
  bool resumed = true;
};

// Runs step `name` of the job's kind. An unknown name is a kFail outcome.
StepOutcome RunStep(std::string_view name, StepContext& ctx);

// The credentials of a succeeded bind: `session_credentials_json` (what the clone reported:
// ssh_command, host, ...) plus clone_app_name, clone_app_guid, expires_at, session_url and
// skipped_services from the job's outputs. Returns JSON text.
std::string AssembleCredentials(const std::string& session_credentials_json, const rapidjson::Value& outputs,
                                const std::string& session_url, base::TimePoint expires_at);

// outputs.clone.<key> as a string ("guid", "name"); empty when absent.
std::string CloneOutput(const rapidjson::Value& outputs, const char* key);

// True when the clone's bootstrap has reported a tmate session for `b` (its credentials hold an
// ssh_command).
bool SessionReported(const osb::Binding& b);

// Makes `row` the succeeded bind its clone job's `outputs` describe: the credentials (the session
// the clone reported, already in row.credentials_json, assembled with the clone's facts and a
// session_url carrying a fresh key whose hash goes to session_key_hash), expires_at (the clone's
// lifetime from `now`), the clone's guid and name, state succeeded. The worker calls it when the
// job's last step finds the report, or its wait for the report does; the session desk when the
// report finds the job waiting.
void CompleteBind(osb::Binding& row, const rapidjson::Value& outputs, const EngineSettings& settings,
                  base::TimePoint now);

// The clone's lifetime in minutes: the bind parameter ttl_minutes, else the operator's CLONE_TTL,
// else the plan's default; never above the plan's maximum.
int CloneTtlMinutes(const osb::Binding& binding, const EngineSettings& settings);

// A log line made fit to show a developer: anything that looks like a token or a credential
// (long runs of token characters, user@host pairs, key=value secrets) is replaced, and the line is
// cut to `max_chars`.
std::string RedactLogLine(std::string_view line, std::size_t max_chars = 200);

// The clone's name for a source app: "<app>-ssh" (attempt 0) or "<app>-ssh-<first 8 of binding id>"
// (attempt 1), the app part shortened so the result fits CC's 255 characters.
std::string CloneName(const std::string& source_name, const std::string& binding_id, int attempt);

}  // namespace broker::clone

#endif  // BROKER_CLONE_STEPS_H_
