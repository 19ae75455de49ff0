// The persistence port of the OSB domain: what osb::Broker needs from a database.
//
// The broker's rules run inside InTransaction(): it reads rows with row locks, decides, and
// writes, and either everything it wrote commits or nothing does. That is how "the binding row
// and its clone job are written in one transaction" and "a 4xx leaves state unchanged" hold
// across any number of broker processes sharing one database.
//
// Real implementation: store::PgStore (broker/store/pg_store.h). Implementations are thread-safe;
// a StoreTx is used by the one thread that InTransaction() called.
#ifndef BROKER_OSB_STORE_H_
#define BROKER_OSB_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "broker/base/result.h"
#include "broker/base/status.h"
#include "broker/osb/types.h"

namespace broker::osb {

// Operations inside one database transaction. Every method may fail with kUnavailable (the
// database went away) or kInternal (an unexpected database error); those abort the transaction.
class StoreTx {
 public:
  virtual ~StoreTx() = default;

  // The instance with `id`, tombstoned ones included, locked until the transaction ends
  // (SELECT ... FOR UPDATE). nullopt when no row has that id.
  virtual base::Result<std::optional<Instance>> LockInstance(std::string_view id) = 0;
  // Inserts a new row. kAborted when a row with the id appeared concurrently (the caller's
  // transaction is retried by InTransaction and will then see it).
  virtual base::Status InsertInstance(const Instance& instance) = 0;
  // Overwrites every mutable column of the row with `instance.id`. kNotFound when there is none.
  virtual base::Status UpdateInstance(const Instance& instance) = 0;

  // As LockInstance, for bindings (tombstones included).
  virtual base::Result<std::optional<Binding>> LockBinding(std::string_view id) = 0;
  // Inserts a new row, or replaces a tombstoned row with the same id. kAborted on a concurrent
  // insert of the same id.
  virtual base::Status InsertBinding(const Binding& binding) = 0;
  // Overwrites every mutable column of the row with `binding.id` (credentials re-encrypted).
  virtual base::Status UpdateBinding(const Binding& binding) = 0;
  // Every binding of the instance that is not a tombstone, locked, oldest first.
  virtual base::Result<std::vector<Binding>> LockLiveBindings(std::string_view instance_id) = 0;

  // Inserts a job and returns its id. The job becomes visible to workers when the transaction
  // commits, and never if it rolls back.
  virtual base::Result<std::int64_t> EnqueueJob(const NewJob& job) = 0;
  // Marks every unfinished job of `kind` for the binding as cancelled; a worker holding one
  // notices at its next fenced write. Returns how many were cancelled.
  virtual base::Result<int> CancelJobs(std::string_view binding_id, JobKind kind) = 0;
  // The job with `id`, locked until the transaction ends; nullopt when there is none. Lock its
  // binding's row first: every transaction takes a binding before its jobs.
  virtual base::Result<std::optional<JobRow>> LockJob(std::int64_t id) = 0;
  // Ends job `id`, which this transaction locked (LockJob) and found Waiting(), as completed;
  // kFailedPrecondition when this transaction did not lock it.
  virtual base::Status CompleteJob(std::int64_t id) = 0;
  // Appends an audit event.
  virtual base::Status RecordEvent(const Event& event) = 0;

  // ---- Combined forms: the same effects as the calls they name, in fewer round trips where
  // ---- the store can (the defaults make the calls one by one).
  //
  // One difference a store that makes one statement of a lock pair may show: the second row is
  // looked up as the statement began, so a row another transaction inserted and committed while
  // this one waited for the first lock is not seen (rows that existed are read locked, at their
  // latest version). A binding inserted so reads as absent, and the caller's insert of it then
  // fails with kAborted, which InTransaction retries; a job enqueued so reads as no job.

  struct InstanceAndBinding {
    std::optional<Instance> instance;
    std::optional<Binding> binding;  // nullopt also when the instance does not exist
  };
  // LockInstance(instance_id), then LockBinding(binding_id): instance first, the order every
  // transaction locks them in. The binding is neither read nor locked when the instance does
  // not exist.
  virtual base::Result<InstanceAndBinding> LockInstanceAndBinding(std::string_view instance_id,
                                                                  std::string_view binding_id) {
    InstanceAndBinding out;
    BROKER_ASSIGN_OR_RETURN(out.instance, LockInstance(instance_id));
    if (!out.instance.has_value()) return out;
    BROKER_ASSIGN_OR_RETURN(out.binding, LockBinding(binding_id));
    return out;
  }
  struct BindingAndJob {
    std::optional<Binding> binding;
    std::optional<JobRow> job;  // nullopt also when there is no binding or it names no job
  };
  // LockBinding(binding_id), then LockJob(the binding's operation_id) when that is > 0: binding
  // first, the order every transaction locks them in.
  virtual base::Result<BindingAndJob> LockBindingAndJob(std::string_view binding_id) {
    BindingAndJob out;
    BROKER_ASSIGN_OR_RETURN(out.binding, LockBinding(binding_id));
    if (!out.binding.has_value() || out.binding->operation_id <= 0) return out;
    BROKER_ASSIGN_OR_RETURN(out.job, LockJob(out.binding->operation_id));
    return out;
  }
  // InsertBinding(binding) and EnqueueJob(job), the binding's operation_id being the new job's
  // id (whatever binding.operation_id says); returns that id. Failure codes as InsertBinding
  // (kAborted on a concurrent insert) and EnqueueJob. kInvalidArgument when job.binding_id is
  // not binding.id.
  virtual base::Result<std::int64_t> InsertBindingWithJob(Binding binding, const NewJob& job) {
    if (job.binding_id != binding.id) return base::Status::InvalidArgument("the job is not for this binding");
    binding.operation_id = 0;
    BROKER_RETURN_IF_ERROR(InsertBinding(binding));  // first: the job references it
    BROKER_ASSIGN_OR_RETURN(binding.operation_id, EnqueueJob(job));
    BROKER_RETURN_IF_ERROR(UpdateBinding(binding));
    return binding.operation_id;
  }
};

class Store {
 public:
  virtual ~Store() = default;

  // Runs `fn` in a transaction and commits when it returns OK; rolls back otherwise and returns
  // its Status. When `fn` or the commit fails with kAborted (a unique-key race or a serialization
  // failure), runs `fn` again in a fresh transaction, up to a few times. `fn` must therefore
  // have no effects outside the transaction except on its own captured outputs, which it must
  // reset at its start.
  virtual base::Status InTransaction(const std::function<base::Status(StoreTx&)>& fn) = 0;

  // Unlocked reads, one statement each. nullopt when no row has the id (tombstones are returned).
  virtual base::Result<std::optional<Instance>> GetInstance(std::string_view id) = 0;
  virtual base::Result<std::optional<Binding>> GetBinding(std::string_view id) = 0;
  // The binding's operation state alone (what GetBinding's row says, without the credentials).
  virtual base::Result<std::optional<BindingStatus>> GetBindingStatus(std::string_view id) = 0;

  // OK when the database answers a trivial query within a short timeout; kUnavailable otherwise.
  virtual base::Status Ping() = 0;
};

}  // namespace broker::osb

#endif  // BROKER_OSB_STORE_H_
