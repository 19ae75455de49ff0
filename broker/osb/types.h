// OSB domain value types: service instances, bindings, operations and the jobs a binding
// operation enqueues. Wire names appear only in broker/http's codec; these are the domain's.
//
// JSON-valued fields (`*_json`) hold canonical JSON text (objects with keys sorted, no
// insignificant whitespace) so that equality of text means equality of value.
// All types are plain values; thread-compatible.
#ifndef BROKER_OSB_TYPES_H_
#define BROKER_OSB_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/base/clock.h"

namespace broker::osb {

enum class OperationState { kInProgress, kSucceeded, kFailed };
// "in progress" / "succeeded" / "failed": the OSB wire words (also stored in the database).
std::string_view OperationStateName(OperationState s);
std::optional<OperationState> ParseOperationState(std::string_view s);

enum class InstanceState { kActive, kDeprovisioning, kDeleted };
std::string_view InstanceStateName(InstanceState s);
std::optional<InstanceState> ParseInstanceState(std::string_view s);

struct Instance {
  std::string id;
  std::string service_id;
  std::string plan_id;
  std::string organization_guid;
  std::string space_guid;
  std::string context_json = "{}";
  std::string parameters_json = "{}";
  std::string maintenance_version;  // empty when the request carried none
  InstanceState state = InstanceState::kActive;
  std::int64_t deprovision_operation = 0;  // id of the deprovision, set once one was accepted
  base::TimePoint created_at{};
};

enum class BindingOperation { kBind, kUnbind };
std::string_view BindingOperationName(BindingOperation op);
std::optional<BindingOperation> ParseBindingOperation(std::string_view s);

struct Binding {
  std::string id;
  std::string instance_id;
  std::string service_id;
  std::string plan_id;
  std::string app_guid;
  std::string space_guid;           // bind_resource.space_guid or context.space_guid; may be empty
  std::string parameters_json = "{}";
  std::string context_json = "{}";
  std::string plan_settings_json = "{}";  // the plan's settings as they were when the bind came in
  BindingOperation operation = BindingOperation::kBind;
  OperationState state = OperationState::kInProgress;
  std::string description;          // user-safe text for last_operation; may be empty
  std::int64_t operation_id = 0;    // the job that carries the current operation
  std::string clone_app_guid;
  std::string clone_app_name;
  std::string credentials_json;     // plaintext here; the store encrypts it at rest. Empty until succeeded.
  std::optional<base::TimePoint> expires_at;
  // Hex SHA-256 of the clone's session-report bearer token (set by the clone job before it creates
  // the app, whose environment carries the token); "" until then.
  std::string session_token_hash;
  // Hex SHA-256 of the key in the credentials' session_url (set when the bind succeeds); "" before.
  std::string session_key_hash;
  bool deleted = false;             // tombstone: the unbind finished; kept so polls still answer
  base::TimePoint created_at{};
};

// What last_operation needs of a binding: its operation's state, nothing secret (no credentials,
// so nothing to decrypt).
struct BindingStatus {
  std::string instance_id;
  BindingOperation operation = BindingOperation::kBind;
  OperationState state = OperationState::kInProgress;
  std::string description;
  bool deleted = false;
};

enum class JobKind { kClone, kTeardown };
std::string_view JobKindName(JobKind k);
std::optional<JobKind> ParseJobKind(std::string_view s);

// What the broker asks the worker to do; the store assigns the id.
struct NewJob {
  std::string binding_id;
  JobKind kind = JobKind::kClone;
  std::string first_step;
  int max_attempts = 10;
  base::TimePoint deadline_at{};
};

// A job row as a transaction that locked it sees it.
struct JobRow {
  std::int64_t id = 0;
  JobKind kind = JobKind::kClone;
  std::string status;        // available, running, retryable, completed, failed, cancelled
  std::string step;
  std::string outputs_json;  // a JSON object (never a secret)

  // Runnable later and held by no worker: waiting for its run_at.
  bool Waiting() const { return status == "available" || status == "retryable"; }
};

// An audit record: who did what to which resource. Never holds a secret.
struct Event {
  std::string kind;         // "instance.provisioned", "binding.bind_requested", ...
  std::string instance_id;
  std::string binding_id;   // may be empty
  std::string actor;        // originating identity's user id, or "" when absent
  std::string request_id;
  std::string detail_json = "{}";
};

// The operation string we hand to the platform for a binding or instance operation
// ("bind-42", "unbind-43", "deprovision-7"), and its inverse.
std::string OperationToken(std::string_view verb, std::int64_t id);
struct ParsedOperation {
  std::string verb;
  std::int64_t id = 0;
};
std::optional<ParsedOperation> ParseOperationToken(std::string_view token);

}  // namespace broker::osb

#endif  // BROKER_OSB_TYPES_H_
