#include "broker/store/pg_store.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <utility>
#include <vector>

#include "broker/base/encoding.h"
#include "broker/base/log.h"
#include "broker/store/pg_tx.h"

namespace broker::store {
namespace internal {

using base::Result;
using base::Status;

std::shared_ptr<spdlog::logger> Log() {
  static const std::shared_ptr<spdlog::logger> logger = base::Logger("store");
  return logger;
}

// ---- Conversions -------------------------------------------------------------------------

std::string TsParam(int n) {
  return "(timestamptz 'epoch' + ($" + std::to_string(n) + "::bigint * interval '1 millisecond'))";
}

std::string TsColumn(std::string_view column) {
  return "floor(extract(epoch from " + std::string(column) + ") * 1000)::bigint";
}

std::int64_t ToMillis(base::TimePoint t) {
  return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

base::TimePoint FromMillis(std::int64_t ms) {
  return base::TimePoint(std::chrono::milliseconds(ms));
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

Status Undecodable(std::string_view table, std::string_view id, std::string_view column) {
  Log()->error("store.row_undecodable table={} id={} column={}", table, base::LogId(id), column);
  return Status::Internal("database error");
}

namespace {

std::vector<PgParam> WithoutLast(std::vector<PgParam> params) {
  params.pop_back();
  return params;
}

// ---- Instances ---------------------------------------------------------------------------

const std::string& InstanceColumns() {
  static const std::string sql =
      "id, service_id, plan_id, organization_guid, space_guid, context, parameters, "
      "maintenance_version, state, deprovision_operation, " +
      TsColumn("created_at");
  return sql;
}

// The number of columns InstanceColumns() selects.
constexpr int kInstanceColumnCount = 11;

Result<osb::Instance> DecodeInstance(const PgRows& rows, int r) {
  osb::Instance in;
  in.id = rows.Get(r, 0);
  in.service_id = rows.Get(r, 1);
  in.plan_id = rows.Get(r, 2);
  in.organization_guid = rows.Get(r, 3);
  in.space_guid = rows.Get(r, 4);
  in.context_json = rows.Get(r, 5);
  in.parameters_json = rows.Get(r, 6);
  in.maintenance_version = rows.Get(r, 7);
  const auto state = osb::ParseInstanceState(rows.Get(r, 8));
  if (!state) return Undecodable("service_instances", in.id, "state");
  in.state = *state;
  const auto op = ParseInt(rows.Get(r, 9));
  const auto created = ParseInt(rows.Get(r, kInstanceColumnCount - 1));
  if (!op || !created)
    return Undecodable("service_instances", in.id, "deprovision_operation/created_at");
  in.deprovision_operation = *op;
  in.created_at = FromMillis(*created);
  return in;
}

// $1 id, $2 service_id, $3 plan_id, $4 organization_guid, $5 space_guid, $6 context,
// $7 parameters, $8 maintenance_version, $9 state, $10 deprovision_operation, $11 created_at.
std::vector<PgParam> InstanceParams(const osb::Instance& in) {
  return {
      PgParam::Text(in.id),
      PgParam::Text(in.service_id),
      PgParam::Text(in.plan_id),
      PgParam::Text(in.organization_guid),
      PgParam::Text(in.space_guid),
      PgParam::Text(in.context_json.empty() ? "{}" : in.context_json),
      PgParam::Text(in.parameters_json.empty() ? "{}" : in.parameters_json),
      PgParam::Text(in.maintenance_version),
      PgParam::Text(std::string(osb::InstanceStateName(in.state))),
      PgParam::Int(in.deprovision_operation),
      in.created_at == base::TimePoint{} ? PgParam::Null() : PgParam::Int(ToMillis(in.created_at))};
}

const std::string& SelectInstanceSql() {
  static const std::string sql =
      "SELECT " + InstanceColumns() + " FROM service_instances WHERE id = $1";
  return sql;
}
const std::string& LockInstanceSql() {
  static const std::string sql = SelectInstanceSql() + " FOR UPDATE";
  return sql;
}

// A tombstoned row is overwritten in place; a live one makes the statement touch zero rows.
const std::string& InsertInstanceSql() {
  static const std::string sql =
      "INSERT INTO service_instances AS si (id, service_id, plan_id, organization_guid, "
      "space_guid, "
      "context, parameters, maintenance_version, state, deprovision_operation, created_at, "
      "updated_at, deleted_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text, $10::bigint, COALESCE(" +
      TsParam(11) +
      ", now()), now(), CASE WHEN $9::text = 'deleted' THEN now() END) "
      "ON CONFLICT (id) DO UPDATE SET service_id = EXCLUDED.service_id, plan_id = "
      "EXCLUDED.plan_id, "
      "organization_guid = EXCLUDED.organization_guid, space_guid = EXCLUDED.space_guid, "
      "context = EXCLUDED.context, parameters = EXCLUDED.parameters, "
      "maintenance_version = EXCLUDED.maintenance_version, state = EXCLUDED.state, "
      "deprovision_operation = EXCLUDED.deprovision_operation, created_at = EXCLUDED.created_at, "
      "updated_at = now(), deleted_at = EXCLUDED.deleted_at "
      "WHERE si.deleted_at IS NOT NULL";
  return sql;
}

// created_at is immutable: the statement takes InstanceParams without its last entry.
const std::string& UpdateInstanceSql() {
  static const std::string sql =
      "UPDATE service_instances SET service_id = $2, plan_id = $3, organization_guid = $4, "
      "space_guid = $5, context = $6, parameters = $7, maintenance_version = $8, state = $9::text, "
      "deprovision_operation = $10::bigint, updated_at = now(), "
      "deleted_at = CASE WHEN $9::text = 'deleted' THEN COALESCE(deleted_at, now()) END "
      "WHERE id = $1";
  return sql;
}

// ---- Bindings ----------------------------------------------------------------------------

const std::string& BindingColumns() {
  static const std::string sql =
      "id, instance_id, service_id, plan_id, app_guid, space_guid, parameters, context, "
      "plan_settings, operation, state, description, operation_id, clone_app_guid, clone_app_name, "
      "encode(credentials_ciphertext, 'hex'), credentials_key_id, " +
      TsColumn("expires_at") + ", deleted_at IS NOT NULL, " + TsColumn("created_at") +
      ", session_token_hash, session_key_hash";
  return sql;
}

// $1 id, $2 instance_id, $3 service_id, $4 plan_id, $5 app_guid, $6 space_guid, $7 parameters,
// $8 context, $9 plan_settings, $10 operation, $11 state, $12 description, $13 operation_id,
// $14 clone_app_guid, $15 clone_app_name, $16 credentials_ciphertext, $17 credentials_key_id,
// $18 expires_at, $19 deleted, $20 session_token_hash, $21 session_key_hash, $22 created_at
// (last, so that UpdateBinding can drop it).
Result<std::vector<PgParam>> BindingParams(const KeyRing& keys, const osb::Binding& b) {
  PgParam ciphertext = PgParam::Null();
  std::string key_id;
  if (!b.credentials_json.empty()) {
    BROKER_ASSIGN_OR_RETURN(Sealed sealed, keys.Encrypt(b.credentials_json, b.id));
    ciphertext = PgParam::Binary(std::move(sealed.blob));
    key_id = std::move(sealed.key_id);
  }
  return std::vector<PgParam>{
      PgParam::Text(b.id),
      PgParam::Text(b.instance_id),
      PgParam::Text(b.service_id),
      PgParam::Text(b.plan_id),
      PgParam::Text(b.app_guid),
      PgParam::Text(b.space_guid),
      PgParam::Text(b.parameters_json.empty() ? "{}" : b.parameters_json),
      PgParam::Text(b.context_json.empty() ? "{}" : b.context_json),
      PgParam::Text(b.plan_settings_json.empty() ? "{}" : b.plan_settings_json),
      PgParam::Text(std::string(osb::BindingOperationName(b.operation))),
      PgParam::Text(std::string(osb::OperationStateName(b.state))),
      PgParam::Text(b.description),
      PgParam::Int(b.operation_id),
      PgParam::Text(b.clone_app_guid),
      PgParam::Text(b.clone_app_name),
      std::move(ciphertext),
      PgParam::Text(std::move(key_id)),
      b.expires_at ? PgParam::Int(ToMillis(*b.expires_at)) : PgParam::Null(),
      PgParam::Text(b.deleted ? "true" : "false"),
      PgParam::Text(b.session_token_hash),
      PgParam::Text(b.session_key_hash),
      b.created_at == base::TimePoint{} ? PgParam::Null() : PgParam::Int(ToMillis(b.created_at))};
}

// The row's columns from `first`: the binding columns of a statement that returns more.
struct ColumnsFrom {
  const PgRows& rows;
  int first;
  std::string_view Get(int r, int c) const { return rows.Get(r, first + c); }
  bool IsNull(int r, int c) const { return rows.IsNull(r, first + c); }
};

}  // namespace

Result<osb::Binding> DecodeBinding(const KeyRing& keys, const PgRows& all, int r, int first_column) {
  const ColumnsFrom rows{all, first_column};
  osb::Binding b;
  b.id = rows.Get(r, 0);
  b.instance_id = rows.Get(r, 1);
  b.service_id = rows.Get(r, 2);
  b.plan_id = rows.Get(r, 3);
  b.app_guid = rows.Get(r, 4);
  b.space_guid = rows.Get(r, 5);
  b.parameters_json = rows.Get(r, 6);
  b.context_json = rows.Get(r, 7);
  b.plan_settings_json = rows.Get(r, 8);
  const auto op = osb::ParseBindingOperation(rows.Get(r, 9));
  if (!op) return Undecodable("service_bindings", b.id, "operation");
  b.operation = *op;
  const auto state = osb::ParseOperationState(rows.Get(r, 10));
  if (!state) return Undecodable("service_bindings", b.id, "state");
  b.state = *state;
  b.description = rows.Get(r, 11);
  const auto operation_id = ParseInt(rows.Get(r, 12));
  if (!operation_id) return Undecodable("service_bindings", b.id, "operation_id");
  b.operation_id = *operation_id;
  b.clone_app_guid = rows.Get(r, 13);
  b.clone_app_name = rows.Get(r, 14);
  if (!rows.IsNull(r, 15)) {
    const auto blob = base::HexDecode(rows.Get(r, 15));
    if (!blob) return Undecodable("service_bindings", b.id, "credentials_ciphertext");
    const std::string_view key_id = rows.Get(r, 16);
    auto plain = keys.Decrypt(key_id, *blob, b.id);
    if (!plain.ok()) {
      Log()->error("store.credentials_undecryptable binding_id={} key_id={} code={}", base::LogId(b.id),
                   base::LogId(key_id), base::CodeName(plain.status().code()));
      return Status::Internal("binding " + b.id + ": credentials could not be decrypted");
    }
    b.credentials_json = std::move(plain).value();
  }
  if (!rows.IsNull(r, 17)) {
    const auto expires = ParseInt(rows.Get(r, 17));
    if (!expires) return Undecodable("service_bindings", b.id, "expires_at");
    b.expires_at = FromMillis(*expires);
  }
  b.deleted = rows.Get(r, 18) == "t";
  const auto created = ParseInt(rows.Get(r, 19));
  if (!created) return Undecodable("service_bindings", b.id, "created_at");
  b.created_at = FromMillis(*created);
  b.session_token_hash = rows.Get(r, 20);
  b.session_key_hash = rows.Get(r, 21);
  return b;
}

const std::string& SelectBindingSql() {
  static const std::string sql =
      "SELECT " + BindingColumns() + " FROM service_bindings WHERE id = $1";
  return sql;
}

const std::string& BindingColumnList() { return BindingColumns(); }

namespace {
const std::string& LockBindingSql() {
  static const std::string sql = SelectBindingSql() + " FOR UPDATE";
  return sql;
}
const std::string& LockLiveBindingsSql() {
  static const std::string sql = "SELECT " + BindingColumns() +
                                 " FROM service_bindings WHERE instance_id = $1 AND "
                                 "deleted_at IS NULL ORDER BY created_at, id FOR UPDATE";
  return sql;
}

// Jobs reference service_bindings(id), so a tombstone is overwritten in place, never deleted and
// re-inserted. A live row makes the statement touch zero rows.
const std::string& InsertBindingSql() {
  static const std::string sql =
      "INSERT INTO service_bindings AS sb (id, instance_id, service_id, plan_id, app_guid, "
      "space_guid, parameters, context, plan_settings, operation, state, description, "
      "operation_id, "
      "clone_app_guid, clone_app_name, credentials_ciphertext, credentials_key_id, expires_at, "
      "session_token_hash, session_key_hash, created_at, updated_at, deleted_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::bigint, $14, $15, "
      "$16::bytea, "
      "$17, " +
      TsParam(18) + ", $20, $21, COALESCE(" + TsParam(22) +
      ", now()), now(), "
      "CASE WHEN $19::boolean THEN now() END) "
      "ON CONFLICT (id) DO UPDATE SET instance_id = EXCLUDED.instance_id, "
      "service_id = EXCLUDED.service_id, plan_id = EXCLUDED.plan_id, app_guid = EXCLUDED.app_guid, "
      "space_guid = EXCLUDED.space_guid, parameters = EXCLUDED.parameters, "
      "context = EXCLUDED.context, plan_settings = EXCLUDED.plan_settings, "
      "operation = EXCLUDED.operation, state = EXCLUDED.state, description = EXCLUDED.description, "
      "operation_id = EXCLUDED.operation_id, clone_app_guid = EXCLUDED.clone_app_guid, "
      "clone_app_name = EXCLUDED.clone_app_name, "
      "credentials_ciphertext = EXCLUDED.credentials_ciphertext, "
      "credentials_key_id = EXCLUDED.credentials_key_id, "
      "session_token_hash = EXCLUDED.session_token_hash, "
      "session_key_hash = EXCLUDED.session_key_hash, "
      "expires_at = EXCLUDED.expires_at, created_at = EXCLUDED.created_at, updated_at = now(), "
      "deleted_at = EXCLUDED.deleted_at "
      "WHERE sb.deleted_at IS NOT NULL";
  return sql;
}

// The instance locked, then (a lateral subquery, run for the instance's row) the binding: the
// order every transaction locks them in. $1 instance id, $2 binding id. No row when there is no
// instance; NULL binding columns (from kInstanceColumnCount on) when there is no binding.
const std::string& LockInstanceAndBindingSql() {
  static const std::string sql = "SELECT i.*, b.* FROM (" + LockInstanceSql() +
                                 ") i LEFT JOIN LATERAL (SELECT " + BindingColumns() +
                                 " FROM service_bindings WHERE id = $2 FOR UPDATE) b ON true";
  return sql;
}

// InsertBindingSql and EnqueueJobSql in one statement: the job's id is drawn from its sequence
// first and becomes the binding's operation_id; the job is inserted only when the binding was
// (after a concurrent insert, no row). BindingParams with a NULL $13, then $23 kind, $24 step,
// $25 max_attempts, $26 deadline_at. The job's foreign key is checked at the end of the
// statement, when the binding is there.
const std::string& InsertBindingWithJobSql() {
  static const std::string sql = [] {
    std::string insert_binding = InsertBindingSql();
    const std::string operation_id = "$13::bigint";
    insert_binding.replace(insert_binding.find(operation_id), operation_id.size(),
                           "COALESCE($13::bigint, (SELECT id FROM n))");
    return "WITH n AS (SELECT nextval(pg_get_serial_sequence('jobs', 'id')) AS id), b AS (" + insert_binding +
           " RETURNING sb.id, sb.operation_id), j AS (INSERT INTO jobs (id, binding_id, kind, status, step, "
           "max_attempts, deadline_at) SELECT b.operation_id, b.id, $23, 'available', $24, $25::int, " +
           TsParam(26) + " FROM b RETURNING id) SELECT id FROM j";
  }();
  return sql;
}

// created_at is immutable: the statement takes BindingParams without its last entry.
const std::string& UpdateBindingSql() {
  static const std::string sql =
      "UPDATE service_bindings SET instance_id = $2, service_id = $3, plan_id = $4, app_guid = $5, "
      "space_guid = $6, parameters = $7, context = $8, plan_settings = $9, operation = $10, "
      "state = $11, description = $12, operation_id = $13::bigint, clone_app_guid = $14, "
      "clone_app_name = $15, credentials_ciphertext = $16::bytea, credentials_key_id = $17, "
      "expires_at = " +
      TsParam(18) +
      ", session_token_hash = $20, session_key_hash = $21, updated_at = now(), "
      "deleted_at = CASE WHEN $19::boolean THEN COALESCE(deleted_at, now()) END "
      "WHERE id = $1";
  return sql;
}

// ---- Jobs and events -----------------------------------------------------------------------

const std::string& EnqueueJobSql() {
  static const std::string sql =
      "INSERT INTO jobs (binding_id, kind, status, step, max_attempts, deadline_at) "
      "VALUES ($1, $2, 'available', $3, $4::int, " +
      TsParam(5) + ") RETURNING id";
  return sql;
}

const std::string& CancelJobsSql() {
  static const std::string sql =
      "UPDATE jobs SET status = 'cancelled', finalized_at = now(), updated_at = now() "
      "WHERE binding_id = $1 AND kind = $2 AND status IN ('available', 'running', 'retryable')";
  return sql;
}

const std::string& LockJobSql() {
  static const std::string sql = "SELECT kind, status, step, outputs::text FROM jobs WHERE id = $1 FOR UPDATE";
  return sql;
}

// The binding locked, then (a lateral subquery, run for the binding's row) the job it names: the
// order every transaction locks them in. $1 binding id. The job's five columns (LockJobSql's,
// then its id) follow the binding's; NULL when the binding names no job.
const std::string& LockBindingAndJobSql() {
  static const std::string sql = "SELECT b.*, j.* FROM (" + LockBindingSql() +
                                 ") b LEFT JOIN LATERAL (SELECT kind, status, step, outputs::text, id FROM jobs "
                                 "WHERE id = b.operation_id AND b.operation_id > 0 FOR UPDATE) j ON true";
  return sql;
}

// LockJobSql's row `r` from `first_column` on, as a JobRow with `id`; kInternal when undecodable.
Result<osb::JobRow> DecodeJobRow(const PgRows& rows, int r, int first_column, std::int64_t id) {
  osb::JobRow job;
  job.id = id;
  const auto kind = osb::ParseJobKind(rows.Get(r, first_column));
  if (!kind) return Undecodable("jobs", std::to_string(id), "kind");
  job.kind = *kind;
  job.status = rows.Get(r, first_column + 1);
  job.step = rows.Get(r, first_column + 2);
  job.outputs_json = rows.Get(r, first_column + 3);
  return job;
}

// As a worker's completing write (WriteJobSql), for a job no worker holds.
const std::string& CompleteJobSql() {
  static const std::string sql =
      "UPDATE jobs SET status = 'completed', locked_by = NULL, locked_until = NULL, finalized_at = now(), "
      "updated_at = now() WHERE id = $1";
  return sql;
}

const std::string& RecordEventSql() {
  static const std::string sql =
      "INSERT INTO events (kind, instance_id, binding_id, actor, request_id, detail) "
      "VALUES ($1, $2, $3, $4, $5, $6::jsonb)";
  return sql;
}

}  // namespace

// ---- The transaction -----------------------------------------------------------------------

Result<std::optional<osb::Instance>> PgStoreTx::LockInstance(std::string_view id) {
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn_.Exec("lock instance", LockInstanceSql(),
                                                  {PgParam::Text(std::string(id))}));
  if (rows.size() == 0) return std::optional<osb::Instance>();
  BROKER_ASSIGN_OR_RETURN(osb::Instance in, DecodeInstance(rows, 0));
  locked_instances_.emplace_back(id);
  return std::optional<osb::Instance>(std::move(in));
}

Status PgStoreTx::InsertInstance(const osb::Instance& instance) {
  BROKER_ASSIGN_OR_RETURN(
      PgRows rows, conn_.Exec("insert instance", InsertInstanceSql(), InstanceParams(instance)));
  if (rows.affected() == 0) {
    Log()->debug("store.insert_raced table=service_instances instance_id={}", base::LogId(instance.id));
    return Status::Aborted("instance " + instance.id + " was created concurrently");
  }
  locked_instances_.push_back(instance.id);
  return Status::Ok();
}

bool PgStoreTx::Locked(const std::vector<std::string>& ids, std::string_view id) const {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

Status PgStoreTx::UpdateInstance(const osb::Instance& instance) {
  if (Locked(locked_instances_, instance.id)) {
    conn_.Defer("update instance", UpdateInstanceSql(), WithoutLast(InstanceParams(instance)));
    return Status::Ok();
  }
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn_.Exec("update instance", UpdateInstanceSql(),
                                                  WithoutLast(InstanceParams(instance))));
  if (rows.affected() == 0) return Status::NotFound("instance " + instance.id + " does not exist");
  return Status::Ok();
}

void PgStoreTx::HoldLockedBinding(std::string id, PgRows rows, int first_column) {
  locked_bindings_.push_back(id);
  held_.emplace(Held{std::move(id), std::move(rows), first_column});
}

Result<std::optional<osb::Binding>> PgStoreTx::LockBinding(std::string_view id) {
  if (held_ && held_->id == id) {
    BROKER_ASSIGN_OR_RETURN(osb::Binding b, DecodeBinding(keys_, held_->rows, 0, held_->first_column));
    return std::optional<osb::Binding>(std::move(b));
  }
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn_.Exec("lock binding", LockBindingSql(),
                                                  {PgParam::Text(std::string(id))}));
  if (rows.size() == 0) return std::optional<osb::Binding>();
  BROKER_ASSIGN_OR_RETURN(osb::Binding b, DecodeBinding(keys_, rows, 0));
  locked_bindings_.emplace_back(id);
  return std::optional<osb::Binding>(std::move(b));
}

Status PgStoreTx::InsertBinding(const osb::Binding& binding) {
  if (held_ && held_->id == binding.id) held_.reset();
  BROKER_ASSIGN_OR_RETURN(std::vector<PgParam> params, BindingParams(keys_, binding));
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn_.Exec("insert binding", InsertBindingSql(), params));
  if (rows.affected() == 0) {
    Log()->debug("store.insert_raced table=service_bindings binding_id={}", base::LogId(binding.id));
    return Status::Aborted("binding " + binding.id + " was created concurrently");
  }
  locked_bindings_.push_back(binding.id);
  return Status::Ok();
}

Status PgStoreTx::UpdateBinding(const osb::Binding& binding) {
  if (held_ && held_->id == binding.id) held_.reset();
  BROKER_ASSIGN_OR_RETURN(std::vector<PgParam> params, BindingParams(keys_, binding));
  if (Locked(locked_bindings_, binding.id)) {
    conn_.Defer("update binding", UpdateBindingSql(), WithoutLast(std::move(params)));
    return Status::Ok();
  }
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn_.Exec("update binding", UpdateBindingSql(),
                                                  WithoutLast(std::move(params))));
  if (rows.affected() == 0) return Status::NotFound("binding " + binding.id + " does not exist");
  return Status::Ok();
}

Result<std::vector<osb::Binding>> PgStoreTx::LockLiveBindings(std::string_view instance_id) {
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn_.Exec("lock live bindings", LockLiveBindingsSql(),
                                                  {PgParam::Text(std::string(instance_id))}));
  std::vector<osb::Binding> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (int r = 0; r < rows.size(); ++r) {
    BROKER_ASSIGN_OR_RETURN(osb::Binding b, DecodeBinding(keys_, rows, r));
    locked_bindings_.push_back(b.id);
    out.push_back(std::move(b));
  }
  return out;
}

Result<osb::StoreTx::InstanceAndBinding> PgStoreTx::LockInstanceAndBinding(std::string_view instance_id,
                                                                          std::string_view binding_id) {
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn_.Exec("lock instance and binding", LockInstanceAndBindingSql(),
                                                  {PgParam::Text(std::string(instance_id)),
                                                   PgParam::Text(std::string(binding_id))}));
  InstanceAndBinding out;
  if (rows.size() == 0) return out;
  BROKER_ASSIGN_OR_RETURN(out.instance, DecodeInstance(rows, 0));
  locked_instances_.emplace_back(instance_id);
  if (rows.IsNull(0, kInstanceColumnCount)) return out;
  BROKER_ASSIGN_OR_RETURN(out.binding, DecodeBinding(keys_, rows, 0, kInstanceColumnCount));
  locked_bindings_.emplace_back(binding_id);
  return out;
}

Result<std::int64_t> PgStoreTx::InsertBindingWithJob(osb::Binding binding, const osb::NewJob& job) {
  if (job.binding_id != binding.id) return Status::InvalidArgument("the job is not for this binding");
  if (held_ && held_->id == binding.id) held_.reset();
  BROKER_ASSIGN_OR_RETURN(std::vector<PgParam> params, BindingParams(keys_, binding));
  params[12] = PgParam::Null();  // $13 operation_id: the new job's
  params.push_back(PgParam::Text(std::string(osb::JobKindName(job.kind))));
  params.push_back(PgParam::Text(job.first_step));
  params.push_back(PgParam::Int(job.max_attempts));
  params.push_back(PgParam::Int(ToMillis(job.deadline_at)));
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn_.Exec("insert binding with job", InsertBindingWithJobSql(), params));
  if (rows.size() == 0) {
    Log()->debug("store.insert_raced table=service_bindings binding_id={}", base::LogId(binding.id));
    return Status::Aborted("binding " + binding.id + " was created concurrently");
  }
  const auto id = ParseInt(rows.Get(0, 0));
  if (!id) return Undecodable("jobs", binding.id, "id");
  locked_bindings_.push_back(binding.id);
  return *id;
}

Result<std::int64_t> PgStoreTx::EnqueueJob(const osb::NewJob& job) {
  BROKER_ASSIGN_OR_RETURN(
      PgRows rows,
      conn_.Exec("enqueue job", EnqueueJobSql(),
                 {PgParam::Text(job.binding_id),
                  PgParam::Text(std::string(osb::JobKindName(job.kind))),
                  PgParam::Text(job.first_step), PgParam::Int(job.max_attempts),
                  PgParam::Int(ToMillis(job.deadline_at))}));
  const auto id = rows.size() == 1 ? ParseInt(rows.Get(0, 0)) : std::nullopt;
  if (!id) return Undecodable("jobs", job.binding_id, "id");
  return *id;
}

Result<int> PgStoreTx::CancelJobs(std::string_view binding_id, osb::JobKind kind) {
  BROKER_ASSIGN_OR_RETURN(PgRows rows,
                          conn_.Exec("cancel jobs", CancelJobsSql(),
                                     {PgParam::Text(std::string(binding_id)),
                                      PgParam::Text(std::string(osb::JobKindName(kind)))}));
  return rows.affected();
}

Result<std::optional<osb::JobRow>> PgStoreTx::LockJob(std::int64_t id) {
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn_.Exec("lock job", LockJobSql(), {PgParam::Int(id)}));
  if (rows.size() == 0) return std::optional<osb::JobRow>();
  BROKER_ASSIGN_OR_RETURN(osb::JobRow job, DecodeJobRow(rows, 0, 0, id));
  locked_jobs_.push_back(id);
  return std::optional<osb::JobRow>(std::move(job));
}

Result<osb::StoreTx::BindingAndJob> PgStoreTx::LockBindingAndJob(std::string_view binding_id) {
  BROKER_ASSIGN_OR_RETURN(PgRows rows, conn_.Exec("lock binding and job", LockBindingAndJobSql(),
                                                  {PgParam::Text(std::string(binding_id))}));
  BindingAndJob out;
  if (rows.size() == 0) return out;
  constexpr int kJobColumns = 5;  // LockBindingAndJobSql's last ones
  const int job_column = rows.columns() - kJobColumns;
  BROKER_ASSIGN_OR_RETURN(out.binding, DecodeBinding(keys_, rows, 0));
  locked_bindings_.emplace_back(binding_id);
  if (rows.IsNull(0, job_column)) return out;
  const auto id = ParseInt(rows.Get(0, job_column + 4));
  if (!id) return Undecodable("jobs", binding_id, "id");
  BROKER_ASSIGN_OR_RETURN(out.job, DecodeJobRow(rows, 0, job_column, *id));
  locked_jobs_.push_back(*id);
  return out;
}

Status PgStoreTx::CompleteJob(std::int64_t id) {
  // The contract: LockJob found it first. A locked row cannot miss, so the write travels with the
  // next statement.
  if (std::find(locked_jobs_.begin(), locked_jobs_.end(), id) == locked_jobs_.end()) {
    return Status::FailedPrecondition("job " + std::to_string(id) + " was not locked by this transaction");
  }
  conn_.Defer("complete job", CompleteJobSql(), {PgParam::Int(id)});
  return Status::Ok();
}

Status PgStoreTx::RecordEvent(const osb::Event& event) {
  conn_.Defer("record event", RecordEventSql(),
              {PgParam::Text(event.kind), PgParam::Text(event.instance_id),
               PgParam::Text(event.binding_id), PgParam::Text(event.actor),
               PgParam::Text(event.request_id),
               PgParam::Text(event.detail_json.empty() ? "{}" : event.detail_json)});
  return Status::Ok();
}

Status RunTransaction(PgPool& pool, int max_attempts, std::string_view what,
                      const std::function<Status(PgConnection&)>& body) {
  Status last = Status::Aborted("transaction not attempted");
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    BROKER_ASSIGN_OR_RETURN(PgPool::Lease lease, pool.Acquire());
    PgConnection& conn = lease.conn();
    // BEGIN travels with the body's first statement: one round trip fewer.
    conn.Defer("begin", "BEGIN");
    const std::uint64_t ran_before = conn.statements_ok();

    Status status = body(conn);
    if (status.code() == base::Code::kUnavailable && conn.statements_ok() == ran_before &&
        attempt < max_attempts) {
      // Nothing ran, not even BEGIN. A pooled connection may have died while idle (a database
      // failover); the broken one is closed with its lease and the next attempt opens a fresh one.
      conn.DiscardDeferred();
      last = status;
      continue;
    }
    if (status.ok() && conn.InFailedTransaction()) {
      // A statement failed but the body carried on; COMMIT would silently roll back.
      Log()->error("store.transaction_error_ignored what={} attempt={}", what, attempt);
      status = Status::Internal("database error");
    }
    if (status.ok()) {
      // The deferred writes go with it; the first of them to fail is the transaction's Status.
      auto committed = conn.Exec("commit", "COMMIT");
      if (committed.ok()) return Status::Ok();
      status = committed.status();
    }
    conn.DiscardDeferred();
    if (conn.InTransaction() && !conn.Exec("rollback", "ROLLBACK").ok()) conn.MarkBroken();
    if (status.code() != base::Code::kAborted) return status;
    last = status;
    Log()->debug("store.transaction_retry what={} attempt={} max_attempts={}", what, attempt,
                 max_attempts);
  }
  Log()->warn("store.transaction_gave_up what={} attempts={} code={}", what, max_attempts,
              base::CodeName(last.code()));
  return last;
}

}  // namespace internal

using base::Result;
using base::Status;

PgStore::PgStore(PgPool& pool, KeyRing keys) : pool_(pool), keys_(std::move(keys)) {}

Status PgStore::InTransaction(const std::function<Status(osb::StoreTx&)>& fn) {
  return internal::RunTransaction(pool_, kMaxAttempts, "in_transaction",
                                  [&](PgConnection& conn) {
                                    internal::PgStoreTx tx(conn, keys_);
                                    return fn(tx);
                                  });
}

Result<std::optional<osb::Instance>> PgStore::GetInstance(std::string_view id) {
  BROKER_ASSIGN_OR_RETURN(PgPool::Lease lease, pool_.Acquire());
  BROKER_ASSIGN_OR_RETURN(PgRows rows, lease->Exec("get instance", internal::SelectInstanceSql(),
                                                   {PgParam::Text(std::string(id))}));
  if (rows.size() == 0) return std::optional<osb::Instance>();
  BROKER_ASSIGN_OR_RETURN(osb::Instance in, internal::DecodeInstance(rows, 0));
  return std::optional<osb::Instance>(std::move(in));
}

Result<std::optional<osb::Binding>> PgStore::GetBinding(std::string_view id) {
  BROKER_ASSIGN_OR_RETURN(PgPool::Lease lease, pool_.Acquire());
  BROKER_ASSIGN_OR_RETURN(PgRows rows, lease->Exec("get binding", internal::SelectBindingSql(),
                                                   {PgParam::Text(std::string(id))}));
  if (rows.size() == 0) return std::optional<osb::Binding>();
  BROKER_ASSIGN_OR_RETURN(osb::Binding b, internal::DecodeBinding(keys_, rows, 0));
  return std::optional<osb::Binding>(std::move(b));
}

Result<std::optional<osb::BindingStatus>> PgStore::GetBindingStatus(std::string_view id) {
  static const std::string sql =
      "SELECT instance_id, operation, state, description, deleted_at IS NOT NULL FROM service_bindings WHERE id = $1";
  BROKER_ASSIGN_OR_RETURN(PgPool::Lease lease, pool_.Acquire());
  BROKER_ASSIGN_OR_RETURN(PgRows rows, lease->Exec("get binding status", sql, {PgParam::Text(std::string(id))}));
  if (rows.size() == 0) return std::optional<osb::BindingStatus>();
  osb::BindingStatus b;
  b.instance_id = rows.Get(0, 0);
  const auto op = osb::ParseBindingOperation(rows.Get(0, 1));
  if (!op) return internal::Undecodable("service_bindings", id, "operation");
  b.operation = *op;
  const auto state = osb::ParseOperationState(rows.Get(0, 2));
  if (!state) return internal::Undecodable("service_bindings", id, "state");
  b.state = *state;
  b.description = rows.Get(0, 3);
  b.deleted = rows.Get(0, 4) == "t";
  return std::optional<osb::BindingStatus>(std::move(b));
}

Status PgStore::Ping() {
  BROKER_ASSIGN_OR_RETURN(PgPool::Lease lease, pool_.Acquire());
  return lease->ExecWithDeadline("ping", "SELECT 1", kPingTimeout);
}

}  // namespace broker::store
