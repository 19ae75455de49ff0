// Broker: the OSB rules of ssh-access, one method per endpoint (osb-spec.md §4), independent
// of HTTP. Handlers decode a request into the value types below, call one method, and encode
// the result; every expected failure comes back as a Status whose code (and OSB `reason`) the
// single mapping in broker/http/error_mapping.h turns into a status code and error body.
//
// Provision is synchronous. Bind and unbind only record intent: the binding row and its job are
// written in one transaction and the platform polls last_operation while a worker does the work.
// Every rule runs in one Store transaction with the rows it reads locked, so concurrent requests
// from any number of broker processes see each other's effects and a 4xx changes nothing.
//
// Thread-safe: holds only immutable state and thread-safe collaborators.
#ifndef BROKER_OSB_BROKER_H_
#define BROKER_OSB_BROKER_H_

#include <chrono>
#include <optional>
#include <string>

#include "broker/base/clock.h"
#include "broker/base/result.h"
#include "broker/osb/catalog.h"
#include "broker/osb/store.h"
#include "broker/osb/types.h"

namespace broker::osb {

// How long a bind's clone job and an unbind's teardown job may run before they fail.
inline constexpr std::chrono::seconds kDefaultCloneDeadline{30 * 60};  // a plan without maximum_polling_duration
inline constexpr std::chrono::seconds kTeardownDeadline{60 * 60};
// A bind's deadline on `plan` (nullptr: an unknown plan): its maximum_polling_duration, or the default.
std::chrono::seconds BindDeadline(const Plan* plan);

// Who asked: from the OSB headers; used for audit events and logs, never for decisions.
struct RequestContext {
  std::string request_id;  // X-Broker-API-Request-Identity, or generated
  std::string actor;       // originating identity's user_id; empty when absent
};

struct ProvisionRequest {
  std::string instance_id, service_id, plan_id, organization_guid, space_guid;
  std::string context_json = "{}";     // canonical JSON
  std::string parameters_json = "{}";  // canonical JSON
  std::optional<std::string> maintenance_version;  // nullopt when maintenance_info (or its version) is absent
};

struct UpdateRequest {
  std::string instance_id, service_id;
  std::optional<std::string> plan_id;
  std::optional<std::string> parameters_json;
  std::optional<std::string> context_json;
  std::optional<std::string> maintenance_version;
};

struct DeprovisionRequest {
  std::string instance_id, service_id, plan_id;
  bool accepts_incomplete = false;
};

struct DeprovisionResult {
  bool async = false;
  std::string operation;  // set when async
};

struct InstanceView {
  std::string service_id, plan_id, parameters_json, maintenance_version;
};

struct LastOperation {
  OperationState state = OperationState::kInProgress;
  std::string description;  // user-safe; may be empty
};

struct BindRequest {
  std::string instance_id, binding_id, service_id, plan_id;
  std::string app_guid;    // bind_resource.app_guid, else top-level app_guid; empty when neither
  std::string space_guid;  // bind_resource.space_guid, else context.space_guid; may be empty
  std::string context_json = "{}";
  std::string parameters_json = "{}";
  bool accepts_incomplete = false;
};

// What GET binding (and a 200 re-PUT) returns.
struct BindingView {
  std::string credentials_json;
  std::string parameters_json;
  std::optional<base::TimePoint> expires_at;
};

struct BindResult {
  bool complete = false;  // true: 200 with `binding`; false: 202 with `operation`
  std::string operation;
  BindingView binding;
};

struct UnbindRequest {
  std::string instance_id, binding_id, service_id, plan_id;
  bool accepts_incomplete = false;
};

class Broker {
 public:
  // `catalog`, `store` and `clock` must outlive the Broker.
  Broker(const Catalog& catalog, Store& store, const base::Clock& clock);

  // GET /v2/catalog
  const Catalog& catalog() const { return catalog_; }

  // PUT /v2/service_instances/{instance_id}
  // Returns true when this request created the instance (201), false for an identical repeat
  // (200). kInvalidArgument: missing/unknown ids or bad parameters (400); kAlreadyExists: the id
  // exists with different attributes (409); MaintenanceInfoConflict (422); ConcurrencyError (422)
  // while the instance is being deprovisioned.
  base::Result<bool> Provision(const RequestContext& ctx, const ProvisionRequest& req);

  // PATCH /v2/service_instances/{instance_id}
  // kInvalidArgument: missing service_id, a plan change (plans are not updateable), bad
  // parameters; kNotFound: unknown instance; MaintenanceInfoConflict; ConcurrencyError.
  base::Status Update(const RequestContext& ctx, const UpdateRequest& req);

  // DELETE /v2/service_instances/{instance_id}
  // Synchronous (200) when no binding is live; otherwise AsyncRequired without
  // accepts_incomplete, else every live binding is marked for teardown and the result is async
  // (202). kNotFound: unknown or already deleted instance (410); kInvalidArgument: missing ids.
  base::Result<DeprovisionResult> Deprovision(const RequestContext& ctx, const DeprovisionRequest& req);

  // GET /v2/service_instances/{instance_id}. kNotFound when unknown or deleted (404).
  base::Result<InstanceView> GetInstance(const RequestContext& ctx, const std::string& instance_id);

  // GET /v2/service_instances/{instance_id}/last_operation
  // kNotFound when unknown; a deleted instance answers succeeded (its async deprovision ended).
  base::Result<LastOperation> LastInstanceOperation(const RequestContext& ctx, const std::string& instance_id);

  // PUT /v2/service_instances/{instance_id}/service_bindings/{binding_id}
  // A new binding: the binding row and its clone job in one transaction, result not complete
  // (202). An identical repeat: 202 with the same operation while in progress or failed, 200
  // with the binding once succeeded. kInvalidArgument (400): missing/unknown ids, plan not
  // bindable, parameters against the plan's schema; AsyncRequired / RequiresApp (422);
  // kNotFound: unknown instance (404); kAlreadyExists: the id exists with a different request
  // (409); ConcurrencyError (422): the instance is being deprovisioned or the binding deleted.
  base::Result<BindResult> Bind(const RequestContext& ctx, const BindRequest& req);

  // GET /v2/service_instances/{instance_id}/service_bindings/{binding_id}
  // kNotFound while the bind is in progress or failed, and when unknown or deleted (404).
  base::Result<BindingView> GetBinding(const RequestContext& ctx, const std::string& instance_id,
                                       const std::string& binding_id);

  // GET /v2/service_instances/{instance_id}/service_bindings/{binding_id}/last_operation
  // The binding's current operation; a tombstone answers succeeded. kNotFound when unknown.
  base::Result<LastOperation> LastBindingOperation(const RequestContext& ctx, const std::string& instance_id,
                                                   const std::string& binding_id);

  // DELETE /v2/service_instances/{instance_id}/service_bindings/{binding_id}
  // Returns the operation (202). kNotFound first for unknown or deleted bindings (410), then
  // AsyncRequired; an unbind already running returns its operation; a bind still running is
  // cancelled and replaced by a teardown.
  base::Result<std::string> Unbind(const RequestContext& ctx, const UnbindRequest& req);

 private:
  // Finds service and plan; kInvalidArgument naming what is missing or unknown.
  base::Result<const Plan*> ResolvePlan(const std::string& service_id, const std::string& plan_id) const;
  // Cancels a running clone, enqueues the teardown and marks the binding; inside `tx`.
  base::Status StartTeardown(StoreTx& tx, const RequestContext& ctx, Binding& binding);
  base::TimePoint JobDeadline(const Binding& binding) const;

  const Catalog& catalog_;
  Store& store_;
  const base::Clock& clock_;
};

}  // namespace broker::osb

#endif  // BROKER_OSB_BROKER_H_
