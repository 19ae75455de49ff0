// Internal to broker/store (not a port, not for other modules): what pg_store.cc (the
// osb::Store side of PgStore) and pg_job_store.cc (its clone::JobStore side) share — the
// conversions between domain values and SQL, the binding row codec, the osb::StoreTx
// implementation and the begin / run / commit / retry loop.
//
// Thread-safety: the free functions are thread-safe (pure, or they take their own pooled
// connection). A PgStoreTx belongs to the one thread and transaction it was made for.
#ifndef BROKER_STORE_PG_TX_H_
#define BROKER_STORE_PG_TX_H_

#include <spdlog/spdlog.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/result.h"
#include "broker/base/status.h"
#include "broker/osb/store.h"
#include "broker/osb/types.h"
#include "broker/store/cipher.h"
#include "broker/store/pg_pool.h"

namespace broker::store::internal {

// The `store` logger.
std::shared_ptr<spdlog::logger> Log();

// Times travel as milliseconds since the Unix epoch, exact in both directions.
// SQL for "parameter $n (bigint milliseconds) as a timestamptz"; NULL stays NULL.
std::string TsParam(int n);
// SQL for "timestamptz `column` as bigint milliseconds since the epoch".
std::string TsColumn(std::string_view column);
std::int64_t ToMillis(base::TimePoint t);
base::TimePoint FromMillis(std::int64_t ms);

// A whole decimal integer, or nullopt.
std::optional<std::int64_t> ParseInt(std::string_view text);

// Logs an undecodable cell (table, row id, column: never its value) and returns kInternal
// "database error".
base::Status Undecodable(std::string_view table, std::string_view id, std::string_view column);

// `SELECT <binding columns> FROM service_bindings WHERE id = $1` and the decoder of its rows
// (credentials decrypted with `keys`; kInternal when no key opens them). BindingColumnList() is
// the column list alone (unqualified names, for a statement that selects them from
// service_bindings); a row whose binding columns start at `first_column` decodes the same way.
const std::string& SelectBindingSql();
const std::string& BindingColumnList();
base::Result<osb::Binding> DecodeBinding(const KeyRing& keys, const PgRows& rows, int row,
                                         int first_column = 0);

// osb::StoreTx on one connection inside an open transaction (see pg_store.h for the mapping).
// RecordEvent, and UpdateInstance / UpdateBinding of a row this transaction locked or inserted,
// are deferred (PgConnection::Defer): they answer OK at once and reach the database with the
// transaction's next statement or its COMMIT, whose Status carries their failure.
class PgStoreTx final : public osb::StoreTx {
 public:
  // Both must outlive the PgStoreTx.
  PgStoreTx(PgConnection& conn, const KeyRing& keys) : conn_(conn), keys_(keys) {}

  base::Result<std::optional<osb::Instance>> LockInstance(std::string_view id) override;
  base::Status InsertInstance(const osb::Instance& instance) override;
  base::Status UpdateInstance(const osb::Instance& instance) override;
  base::Result<std::optional<osb::Binding>> LockBinding(std::string_view id) override;
  base::Status InsertBinding(const osb::Binding& binding) override;
  base::Status UpdateBinding(const osb::Binding& binding) override;
  base::Result<std::vector<osb::Binding>> LockLiveBindings(std::string_view instance_id) override;
  base::Result<std::int64_t> EnqueueJob(const osb::NewJob& job) override;
  base::Result<int> CancelJobs(std::string_view binding_id, osb::JobKind kind) override;
  base::Result<std::optional<osb::JobRow>> LockJob(std::int64_t id) override;
  base::Status CompleteJob(std::int64_t id) override;
  base::Status RecordEvent(const osb::Event& event) override;
  // One statement each.
  base::Result<InstanceAndBinding> LockInstanceAndBinding(std::string_view instance_id,
                                                          std::string_view binding_id) override;
  base::Result<BindingAndJob> LockBindingAndJob(std::string_view binding_id) override;
  base::Result<std::int64_t> InsertBindingWithJob(osb::Binding binding, const osb::NewJob& job) override;

  // The binding row this transaction already holds locked, as `rows` (row 0, its columns from
  // `first_column`) read it under that lock: LockBinding(its id) decodes it instead of asking the
  // database again, until this transaction writes that binding (then it reads the row again).
  void HoldLockedBinding(std::string id, PgRows rows, int first_column);

 private:
  struct Held {
    std::string id;
    PgRows rows;
    int first_column;
  };
  // Rows this transaction holds locked (read FOR UPDATE, or inserted): an update of one of them
  // cannot miss, so it is deferred to the next round trip instead of costing one of its own.
  bool Locked(const std::vector<std::string>& ids, std::string_view id) const;

  PgConnection& conn_;
  const KeyRing& keys_;
  std::optional<Held> held_;
  std::vector<std::string> locked_instances_;
  std::vector<std::string> locked_bindings_;
  std::vector<std::int64_t> locked_jobs_;
};

// Runs `body` between BEGIN and COMMIT on a pooled connection. Commits when it returns OK (and
// no statement of the transaction failed: a swallowed failure is kInternal "database error");
// rolls back otherwise. BEGIN is deferred (it travels with the body's first statement) and so may
// be the body's own writes (PgConnection::Defer): they travel with the COMMIT, and the first of
// them to fail is the commit's Status. When `body` or the COMMIT fails with kAborted, or the
// first round trip finds the pooled connection dead (kUnavailable, nothing ran), runs it again on
// a fresh transaction: `max_attempts` in total. Returns body's Status, the commit's, or the last
// kAborted. `what` names the loop in logs.
base::Status RunTransaction(PgPool& pool, int max_attempts, std::string_view what,
                            const std::function<base::Status(PgConnection&)>& body);

}  // namespace broker::store::internal

#endif  // BROKER_STORE_PG_TX_H_
