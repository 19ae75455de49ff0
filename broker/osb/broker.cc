#include "broker/osb/broker.h"

#include <chrono>

#include "broker/base/log.h"
#include "broker/osb/errors.h"
#include "broker/osb/json_util.h"

namespace broker::osb {
namespace {

using base::Status;

// Steps the worker starts each job at; the clone engine owns the full step lists.
constexpr char kCloneFirstStep[] = "resolve_source";
constexpr char kTeardownFirstStep[] = "find_clone";
constexpr int kJobMaxAttempts = 10;

std::shared_ptr<spdlog::logger> Log() {
  static const auto log = base::Logger("osb");
  return log;
}

Status ValidateParameters(const std::shared_ptr<const ParameterSchema>& schema, const std::string& json) {
  if (!schema) return Status::Ok();
  auto doc = ParseJson(json, "parameters");
  if (!doc.ok()) return doc.status();
  return schema->Validate(doc.value());
}

// OSB: a version in the request that differs from the catalog's is a 422; an empty
// maintenance_info (no version) is not.
Status CheckMaintenance(const Plan& plan, const std::optional<std::string>& requested) {
  if (!requested.has_value() || *requested == plan.maintenance_version) return Status::Ok();
  return MaintenanceInfoConflict("maintenance_info.version " + *requested + " does not match the plan's version " +
                                 (plan.maintenance_version.empty() ? std::string("(none)") : plan.maintenance_version));
}

Event MakeEvent(const RequestContext& ctx, std::string kind, const std::string& instance_id,
                const std::string& binding_id = {}) {
  Event e;
  e.kind = std::move(kind);
  e.instance_id = instance_id;
  e.binding_id = binding_id;
  e.actor = ctx.actor;
  e.request_id = ctx.request_id;
  return e;
}

bool IsLive(const Instance& i) { return i.state != InstanceState::kDeleted; }

}  // namespace

Broker::Broker(const Catalog& catalog, Store& store, const base::Clock& clock)
    : catalog_(catalog), store_(store), clock_(clock) {}

base::Result<const Plan*> Broker::ResolvePlan(const std::string& service_id, const std::string& plan_id) const {
  if (service_id.empty()) return Status::InvalidArgument("service_id is required");
  if (plan_id.empty()) return Status::InvalidArgument("plan_id is required");
  const Service* service = catalog_.FindService(service_id);
  if (service == nullptr) return Status::InvalidArgument("service_id " + service_id + " is not in the catalog");
  const Plan* plan = catalog_.FindPlan(*service, plan_id);
  if (plan == nullptr) {
    return Status::InvalidArgument("plan_id " + plan_id + " is not a plan of service " + service->name);
  }
  return plan;
}

base::Result<bool> Broker::Provision(const RequestContext& ctx, const ProvisionRequest& req) {
  BROKER_ASSIGN_OR_RETURN(const Plan* plan, ResolvePlan(req.service_id, req.plan_id));
  if (req.organization_guid.empty()) return Status::InvalidArgument("organization_guid is required");
  if (req.space_guid.empty()) return Status::InvalidArgument("space_guid is required");
  BROKER_RETURN_IF_ERROR(CheckMaintenance(*plan, req.maintenance_version));
  BROKER_RETURN_IF_ERROR(ValidateParameters(plan->instance_create_schema, req.parameters_json));

  bool created = false;
  const Status s = store_.InTransaction([&](StoreTx& tx) -> Status {
    created = false;
    BROKER_ASSIGN_OR_RETURN(std::optional<Instance> existing, tx.LockInstance(req.instance_id));
    if (existing.has_value() && IsLive(*existing)) {
      if (existing->state == InstanceState::kDeprovisioning) {
        return ConcurrencyError("service instance " + req.instance_id + " is being deprovisioned");
      }
      // OSB leaves "identical" loose; we compare what defines the instance and ignore mutable
      // context such as names.
      const bool identical = existing->service_id == req.service_id && existing->plan_id == req.plan_id &&
                             existing->organization_guid == req.organization_guid &&
                             existing->space_guid == req.space_guid &&
                             existing->parameters_json == req.parameters_json;
      if (!identical) {
        return Status::AlreadyExists("service instance " + req.instance_id +
                                     " already exists with different attributes");
      }
      return Status::Ok();
    }
    Instance inst;
    inst.id = req.instance_id;
    inst.service_id = req.service_id;
    inst.plan_id = req.plan_id;
    inst.organization_guid = req.organization_guid;
    inst.space_guid = req.space_guid;
    inst.context_json = req.context_json;
    inst.parameters_json = req.parameters_json;
    inst.maintenance_version = plan->maintenance_version;
    inst.state = InstanceState::kActive;
    inst.created_at = clock_.Now();
    BROKER_RETURN_IF_ERROR(existing.has_value() ? tx.UpdateInstance(inst) : tx.InsertInstance(inst));
    BROKER_RETURN_IF_ERROR(tx.RecordEvent(MakeEvent(ctx, "instance.provisioned", req.instance_id)));
    created = true;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (created) {
    Log()->info("osb.instance_provisioned request_id={} instance_id={} plan={}", base::LogId(ctx.request_id),
                base::LogId(req.instance_id), plan->name);
  }
  return created;
}

Status Broker::Update(const RequestContext& ctx, const UpdateRequest& req) {
  if (req.service_id.empty()) return Status::InvalidArgument("service_id is required");
  const Service* service = catalog_.FindService(req.service_id);
  if (service == nullptr) return Status::InvalidArgument("service_id " + req.service_id + " is not in the catalog");
  if (req.plan_id.has_value() && req.plan_id->empty()) return Status::InvalidArgument("plan_id must not be empty");

  return store_.InTransaction([&](StoreTx& tx) -> Status {
    BROKER_ASSIGN_OR_RETURN(std::optional<Instance> inst, tx.LockInstance(req.instance_id));
    if (!inst.has_value() || !IsLive(*inst)) {
      return Status::NotFound("service instance " + req.instance_id + " does not exist");
    }
    if (inst->state == InstanceState::kDeprovisioning) {
      return ConcurrencyError("service instance " + req.instance_id + " is being deprovisioned");
    }
    if (inst->service_id != req.service_id) {
      return Status::InvalidArgument("service_id does not match the service instance's service");
    }
    const Plan* plan = catalog_.FindPlan(*service, inst->plan_id);
    if (plan == nullptr) return Status::Internal("the instance's plan is no longer in the catalog");
    if (req.plan_id.has_value() && *req.plan_id != inst->plan_id) {
      return Status::InvalidArgument("plans of " + service->name + " are not updateable; create a new instance instead");
    }
    BROKER_RETURN_IF_ERROR(CheckMaintenance(*plan, req.maintenance_version));
    if (req.parameters_json.has_value()) {
      BROKER_RETURN_IF_ERROR(ValidateParameters(plan->instance_update_schema, *req.parameters_json));
    }
    const std::string parameters = req.parameters_json.value_or(inst->parameters_json);
    const std::string context = req.context_json.value_or(inst->context_json);
    if (parameters == inst->parameters_json && context == inst->context_json &&
        inst->maintenance_version == plan->maintenance_version) {
      return Status::Ok();  // no effective change
    }
    inst->parameters_json = parameters;
    inst->context_json = context;
    inst->maintenance_version = plan->maintenance_version;
    BROKER_RETURN_IF_ERROR(tx.UpdateInstance(*inst));
    return tx.RecordEvent(MakeEvent(ctx, "instance.updated", req.instance_id));
  });
}

std::chrono::seconds BindDeadline(const Plan* plan) {
  if (plan != nullptr && plan->maximum_polling_duration > 0) return std::chrono::seconds(plan->maximum_polling_duration);
  return kDefaultCloneDeadline;
}

base::TimePoint Broker::JobDeadline(const Binding& binding) const {
  if (binding.operation == BindingOperation::kUnbind) return clock_.Now() + kTeardownDeadline;
  const Service* service = catalog_.FindService(binding.service_id);
  return clock_.Now() + BindDeadline(service ? catalog_.FindPlan(*service, binding.plan_id) : nullptr);
}

Status Broker::StartTeardown(StoreTx& tx, const RequestContext& ctx, Binding& binding) {
  // OSB: a delete accepted during a create must stop the create and start the delete.
  BROKER_ASSIGN_OR_RETURN(int cancelled, tx.CancelJobs(binding.id, JobKind::kClone));
  BROKER_RETURN_IF_ERROR(tx.CancelJobs(binding.id, JobKind::kTeardown).status());
  binding.operation = BindingOperation::kUnbind;
  binding.state = OperationState::kInProgress;
  binding.description.clear();
  NewJob job;
  job.binding_id = binding.id;
  job.kind = JobKind::kTeardown;
  job.first_step = kTeardownFirstStep;
  job.max_attempts = kJobMaxAttempts;
  job.deadline_at = JobDeadline(binding);
  BROKER_ASSIGN_OR_RETURN(binding.operation_id, tx.EnqueueJob(job));
  BROKER_RETURN_IF_ERROR(tx.UpdateBinding(binding));
  Event e = MakeEvent(ctx, "binding.unbind_requested", binding.instance_id, binding.id);
  e.detail_json = std::string("{\"cancelled_clone_jobs\":") + std::to_string(cancelled) + "}";
  return tx.RecordEvent(e);
}

base::Result<DeprovisionResult> Broker::Deprovision(const RequestContext& ctx, const DeprovisionRequest& req) {
  if (req.service_id.empty()) return Status::InvalidArgument("service_id is required");
  if (req.plan_id.empty()) return Status::InvalidArgument("plan_id is required");

  DeprovisionResult result;
  const Status s = store_.InTransaction([&](StoreTx& tx) -> Status {
    result = DeprovisionResult();
    BROKER_ASSIGN_OR_RETURN(std::optional<Instance> inst, tx.LockInstance(req.instance_id));
    if (!inst.has_value() || !IsLive(*inst)) {
      return Status::NotFound("service instance " + req.instance_id + " does not exist");
    }
    BROKER_ASSIGN_OR_RETURN(std::vector<Binding> live, tx.LockLiveBindings(req.instance_id));
    if (live.empty()) {
      inst->state = InstanceState::kDeleted;
      BROKER_RETURN_IF_ERROR(tx.UpdateInstance(*inst));
      return tx.RecordEvent(MakeEvent(ctx, "instance.deprovisioned", req.instance_id));
    }
    if (!req.accepts_incomplete) {
      return AsyncRequired("service instance " + req.instance_id + " still has " + std::to_string(live.size()) +
                           " binding(s) whose clones must be deleted first; this needs accepts_incomplete=true");
    }
    result.async = true;
    if (inst->state == InstanceState::kDeprovisioning) {
      // A repeated DELETE while it runs gets the same operation. Bindings whose teardown
      // failed get a fresh one, so repeating the DELETE is how an operator retries.
      for (Binding& b : live) {
        if (b.operation == BindingOperation::kUnbind && b.state == OperationState::kFailed) {
          BROKER_RETURN_IF_ERROR(StartTeardown(tx, ctx, b));
        }
      }
      result.operation = OperationToken("deprovision", inst->deprovision_operation);
      return Status::Ok();
    }
    for (Binding& b : live) {
      if (b.operation == BindingOperation::kUnbind && b.state == OperationState::kInProgress) continue;
      BROKER_RETURN_IF_ERROR(StartTeardown(tx, ctx, b));
    }
    inst->state = InstanceState::kDeprovisioning;
    inst->deprovision_operation = live.front().operation_id;
    BROKER_RETURN_IF_ERROR(tx.UpdateInstance(*inst));
    BROKER_RETURN_IF_ERROR(tx.RecordEvent(MakeEvent(ctx, "instance.deprovision_requested", req.instance_id)));
    result.operation = OperationToken("deprovision", inst->deprovision_operation);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  Log()->info("osb.instance_deprovision request_id={} instance_id={} async={}", base::LogId(ctx.request_id),
              base::LogId(req.instance_id), result.async);
  return result;
}

base::Result<InstanceView> Broker::GetInstance(const RequestContext&, const std::string& instance_id) {
  BROKER_ASSIGN_OR_RETURN(std::optional<Instance> inst, store_.GetInstance(instance_id));
  if (!inst.has_value() || !IsLive(*inst)) {
    return Status::NotFound("service instance " + instance_id + " does not exist");
  }
  return InstanceView{inst->service_id, inst->plan_id, inst->parameters_json, inst->maintenance_version};
}

base::Result<LastOperation> Broker::LastInstanceOperation(const RequestContext& ctx, const std::string& instance_id) {
  BROKER_ASSIGN_OR_RETURN(std::optional<Instance> peek, store_.GetInstance(instance_id));
  if (!peek.has_value()) return Status::NotFound("service instance " + instance_id + " does not exist");
  if (peek->state != InstanceState::kDeprovisioning) return LastOperation{OperationState::kSucceeded, ""};

  // An async deprovision ends when the last binding's teardown has finished; whichever poll or
  // worker notices first turns the instance into a tombstone.
  LastOperation op;
  const Status s = store_.InTransaction([&](StoreTx& tx) -> Status {
    op = LastOperation();
    BROKER_ASSIGN_OR_RETURN(std::optional<Instance> inst, tx.LockInstance(instance_id));
    if (!inst.has_value()) return Status::NotFound("service instance " + instance_id + " does not exist");
    if (inst->state != InstanceState::kDeprovisioning) {
      op.state = OperationState::kSucceeded;
      return Status::Ok();
    }
    BROKER_ASSIGN_OR_RETURN(std::vector<Binding> live, tx.LockLiveBindings(instance_id));
    if (live.empty()) {
      inst->state = InstanceState::kDeleted;
      BROKER_RETURN_IF_ERROR(tx.UpdateInstance(*inst));
      BROKER_RETURN_IF_ERROR(tx.RecordEvent(MakeEvent(ctx, "instance.deprovisioned", instance_id)));
      op.state = OperationState::kSucceeded;
      return Status::Ok();
    }
    for (const Binding& b : live) {
      if (b.operation == BindingOperation::kUnbind && b.state == OperationState::kFailed) {
        op.state = OperationState::kFailed;
        op.description = "could not delete binding " + b.id + ": " + b.description +
                         "; send the delete again to retry";
        return Status::Ok();
      }
    }
    op.state = OperationState::kInProgress;
    op.description = "deleting " + std::to_string(live.size()) + " binding(s)";
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return op;
}

base::Result<BindResult> Broker::Bind(const RequestContext& ctx, const BindRequest& req) {
  BROKER_ASSIGN_OR_RETURN(const Plan* plan, ResolvePlan(req.service_id, req.plan_id));
  if (!req.accepts_incomplete) {
    return AsyncRequired("binding clones the app, which takes minutes; this needs accepts_incomplete=true");
  }
  if (req.app_guid.empty()) {
    return RequiresApp("ssh-access binds to an app (it clones it); service keys are not supported");
  }
  if (!plan->bindable) return Status::InvalidArgument("plan " + plan->name + " is not bindable");
  BROKER_RETURN_IF_ERROR(ValidateParameters(plan->binding_create_schema, req.parameters_json));

  BindResult result;
  const Status s = store_.InTransaction([&](StoreTx& tx) -> Status {
    result = BindResult();
    BROKER_ASSIGN_OR_RETURN(StoreTx::InstanceAndBinding rows,
                            tx.LockInstanceAndBinding(req.instance_id, req.binding_id));
    const std::optional<Instance>& inst = rows.instance;
    if (!inst.has_value() || !IsLive(*inst)) {
      return Status::NotFound("service instance " + req.instance_id + " does not exist");
    }
    if (inst->state == InstanceState::kDeprovisioning) {
      return ConcurrencyError("service instance " + req.instance_id + " is being deprovisioned");
    }
    if (inst->service_id != req.service_id || inst->plan_id != req.plan_id) {
      return Status::InvalidArgument("service_id and plan_id must be those of service instance " + req.instance_id);
    }
    const std::optional<Binding>& existing = rows.binding;
    if (existing.has_value() && !existing->deleted) {
      const bool identical = existing->instance_id == req.instance_id && existing->service_id == req.service_id &&
                             existing->plan_id == req.plan_id && existing->app_guid == req.app_guid &&
                             existing->parameters_json == req.parameters_json;
      if (!identical) {
        return Status::AlreadyExists("service binding " + req.binding_id + " already exists with different attributes");
      }
      if (existing->operation == BindingOperation::kUnbind) {
        return ConcurrencyError("service binding " + req.binding_id + " is being deleted");
      }
      // OSB: an identical PUT gets 202 with the same operation while the bind runs, and 200
      // with the credentials once it has succeeded.
      result.operation = OperationToken("bind", existing->operation_id);
      if (existing->state == OperationState::kSucceeded) {
        result.complete = true;
        result.binding = BindingView{existing->credentials_json, existing->parameters_json, existing->expires_at};
      }
      return Status::Ok();
    }
    Binding b;
    b.id = req.binding_id;
    b.instance_id = req.instance_id;
    b.service_id = req.service_id;
    b.plan_id = req.plan_id;
    b.app_guid = req.app_guid;
    b.space_guid = req.space_guid;
    b.parameters_json = req.parameters_json;
    b.context_json = req.context_json;
    b.plan_settings_json = plan->settings.json;
    b.operation = BindingOperation::kBind;
    b.state = OperationState::kInProgress;
    b.created_at = clock_.Now();
    NewJob job;
    job.binding_id = b.id;
    job.kind = JobKind::kClone;
    job.first_step = kCloneFirstStep;
    job.max_attempts = kJobMaxAttempts;
    job.deadline_at = JobDeadline(b);
    BROKER_ASSIGN_OR_RETURN(b.operation_id, tx.InsertBindingWithJob(b, job));
    BROKER_RETURN_IF_ERROR(tx.RecordEvent(MakeEvent(ctx, "binding.bind_requested", req.instance_id, req.binding_id)));
    result.operation = OperationToken("bind", b.operation_id);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  Log()->info("osb.bind_accepted request_id={} instance_id={} binding_id={} app_guid={} operation={} complete={}",
              base::LogId(ctx.request_id), base::LogId(req.instance_id), base::LogId(req.binding_id),
              base::LogId(req.app_guid), result.operation, result.complete);
  return result;
}

base::Result<BindingView> Broker::GetBinding(const RequestContext&, const std::string& instance_id,
                                             const std::string& binding_id) {
  BROKER_ASSIGN_OR_RETURN(std::optional<Binding> b, store_.GetBinding(binding_id));
  // OSB: 404 while the bind is in progress, not 200 with empty credentials.
  if (!b.has_value() || b->deleted || b->instance_id != instance_id || b->operation != BindingOperation::kBind ||
      b->state != OperationState::kSucceeded) {
    return Status::NotFound("service binding " + binding_id + " does not exist or is not ready");
  }
  return BindingView{b->credentials_json, b->parameters_json, b->expires_at};
}

base::Result<LastOperation> Broker::LastBindingOperation(const RequestContext&, const std::string& instance_id,
                                                         const std::string& binding_id) {
  BROKER_ASSIGN_OR_RETURN(std::optional<BindingStatus> b, store_.GetBindingStatus(binding_id));
  if (!b.has_value() || b->instance_id != instance_id) {
    return Status::NotFound("service binding " + binding_id + " does not exist");
  }
  // A tombstone keeps answering "succeeded" for the finished unbind (OSB: not 410 while polled).
  if (b->deleted) return LastOperation{OperationState::kSucceeded, "the clone was deleted"};
  return LastOperation{b->state, b->description};
}

base::Result<std::string> Broker::Unbind(const RequestContext& ctx, const UnbindRequest& req) {
  if (req.service_id.empty()) return Status::InvalidArgument("service_id is required");
  if (req.plan_id.empty()) return Status::InvalidArgument("plan_id is required");

  std::string operation;
  const Status s = store_.InTransaction([&](StoreTx& tx) -> Status {
    operation.clear();
    BROKER_ASSIGN_OR_RETURN(std::optional<Binding> b, tx.LockBinding(req.binding_id));
    // OSB: existence (410) is checked before AsyncRequired.
    if (!b.has_value() || b->deleted || b->instance_id != req.instance_id) {
      return Status::NotFound("service binding " + req.binding_id + " does not exist");
    }
    if (!req.accepts_incomplete) {
      return AsyncRequired("unbinding deletes the clone app, which takes a while; this needs accepts_incomplete=true");
    }
    if (b->operation == BindingOperation::kUnbind && b->state == OperationState::kInProgress) {
      operation = OperationToken("unbind", b->operation_id);
      return Status::Ok();
    }
    BROKER_RETURN_IF_ERROR(StartTeardown(tx, ctx, *b));
    operation = OperationToken("unbind", b->operation_id);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  Log()->info("osb.unbind_accepted request_id={} instance_id={} binding_id={} operation={}",
              base::LogId(ctx.request_id), base::LogId(req.instance_id), base::LogId(req.binding_id), operation);
  return operation;
}

}  // namespace broker::osb
