#include "broker/store/pg_pool.h"

#include <poll.h>

#include <cerrno>
#include <charconv>
#include <optional>
#include <utility>

#include "broker/base/log.h"

namespace broker::store {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const std::shared_ptr<spdlog::logger> logger = base::Logger("store");
  return logger;
}

// libpq messages end with a newline; keep log lines on one line.
std::string Trimmed(const char* text) {
  std::string s = text == nullptr ? "" : text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

base::Status StatusForSqlState(std::string_view sqlstate) {
  if (sqlstate == "23505" || sqlstate == "40001" || sqlstate == "40P01") {
    return base::Status::Aborted("database conflict, retry the transaction");
  }
  // Class 08: connection exception. 57P01-57P03: the server is shutting down or starting up.
  if (sqlstate.substr(0, 2) == "08" || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03") {
    return base::Status::Unavailable("database unavailable");
  }
  return base::Status::Internal("database error");
}

int PgRows::affected() const {
  const char* text = PQcmdTuples(result_.get());
  int n = 0;
  if (text == nullptr || *text == '\0') return 0;
  const std::string_view s(text);
  std::from_chars(s.data(), s.data() + s.size(), n);
  return n;
}

bool PgConnection::broken() const {
  return marked_broken_ || conn_ == nullptr || PQstatus(conn_.get()) != CONNECTION_OK;
}

bool PgConnection::InTransaction() const {
  return conn_ != nullptr && PQtransactionStatus(conn_.get()) != PQTRANS_IDLE;
}

bool PgConnection::InFailedTransaction() const {
  return conn_ != nullptr && PQtransactionStatus(conn_.get()) == PQTRANS_INERROR;
}

base::Result<PgRows> PgConnection::Check(std::string_view what, PgResultPtr result) {
  if (result != nullptr) {
    const ExecStatusType st = PQresultStatus(result.get());
    // PGRES_EMPTY_QUERY: a script holding only comments, which is fine.
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
      return PgRows(std::move(result));
    }
  }
  const bool connection_lost = PQstatus(conn_.get()) != CONNECTION_OK;
  const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state == nullptr ? "" : state;
  const std::string detail =
      result ? Trimmed(PQresultErrorMessage(result.get())) : Trimmed(PQerrorMessage(conn_.get()));

  base::Status status;
  if (connection_lost || result == nullptr) {
    status = base::Status::Unavailable("database unavailable");
  } else if (sqlstate.empty()) {
    // A client-side failure (e.g. a malformed statement libpq refused to send).
    status = base::Status::Internal("database error");
  } else {
    status = StatusForSqlState(sqlstate);
  }
  if (status.code() == base::Code::kUnavailable) marked_broken_ = true;

  // A lost race is routine (the transaction is retried); everything else is worth a warning.
  const auto level =
      status.code() == base::Code::kAborted ? spdlog::level::debug : spdlog::level::warn;
  Log()->log(level, "store.statement_failed what={} sqlstate={} code={} detail={}", what,
             sqlstate.empty() ? "none" : sqlstate, base::CodeName(status.code()),
             base::LogQuote(detail));
  return status;
}

namespace {

// A statement's parameters as the three arrays libpq takes; valid while `params` lives.
struct ParamArrays {
  explicit ParamArrays(const std::vector<PgParam>& params) {
    values.reserve(params.size());
    lengths.reserve(params.size());
    formats.reserve(params.size());
    for (const PgParam& p : params) {
      values.push_back(p.is_null() ? nullptr : p.value().c_str());
      lengths.push_back(p.is_null() ? 0 : static_cast<int>(p.value().size()));
      formats.push_back(p.is_binary() ? 1 : 0);
    }
  }
  int size() const { return static_cast<int>(values.size()); }

  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
};

}  // namespace

base::Result<PgRows> PgConnection::Exec(std::string_view what, const std::string& sql,
                                        const std::vector<PgParam>& params) {
  if (awaiting()) return base::Status::Internal("a statement was sent while another awaits its answer");
  if (!deferred_.empty()) {
    Defer(what, sql, params);
    return Pipeline(TakeDeferred());
  }
  if (broken()) return base::Status::Unavailable("database unavailable");
  const ParamArrays a(params);
  const int n = a.size();

  base::Result<PgRows> rows = base::Status::Internal("statement not sent");
  if (!prepare_statements_) {
    rows = Check(what, PgResultPtr(PQexecParams(conn_.get(), sql.c_str(), n, nullptr, a.values.data(),
                                                a.lengths.data(), a.formats.data(), 0)));
  } else {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = NextStatementName();
      auto prepared =
          Check(what, PgResultPtr(PQprepare(conn_.get(), name.c_str(), sql.c_str(), n, nullptr)));
      if (!prepared.ok()) return prepared.status();
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    rows = Check(what, PgResultPtr(PQexecPrepared(conn_.get(), it->second.c_str(), n, a.values.data(),
                                                  a.lengths.data(), a.formats.data(), 0)));
  }
  if (rows.ok()) ++statements_ok_;
  return rows;
}

void PgConnection::Defer(std::string_view what, const std::string& sql, std::vector<PgParam> params) {
  deferred_.push_back({std::string(what), sql, std::move(params)});
}

std::vector<PgConnection::Pending> PgConnection::TakeDeferred() {
  std::vector<Pending> items;
  items.swap(deferred_);
  return items;
}

std::string PgConnection::NextStatementName() { return "broker_s" + std::to_string(++statement_names_); }

base::Status PgConnection::Flush() {
  if (awaiting()) return base::Status::Internal("a statement was sent while another awaits its answer");
  if (deferred_.empty()) return base::Status::Ok();
  auto rows = Pipeline(TakeDeferred());
  return rows.ok() ? base::Status::Ok() : rows.status();
}

void PgConnection::Send() {
  if (awaiting()) {
    send_failed_ = base::Status::Internal("a statement was sent while another awaits its answer");
    return;
  }
  if (deferred_.empty()) {
    send_failed_ = base::Status::Internal("nothing to send");
    return;
  }
  auto sent = SendPipeline(TakeDeferred());
  if (!sent.ok()) {
    send_failed_ = sent.status();
    return;
  }
  sent_.emplace(std::move(sent).value());
}

base::Result<PgRows> PgConnection::Receive() {
  if (send_failed_.has_value()) {
    base::Status s = std::move(*send_failed_);
    send_failed_.reset();
    return s;
  }
  if (!sent_.has_value()) return base::Status::Internal("nothing was sent");
  Sent sent = std::move(*sent_);
  sent_.reset();
  return ReceivePipeline(std::move(sent));
}

base::Status PgConnection::Lost(std::string_view what) {
  marked_broken_ = true;
  Log()->warn("store.statement_failed what={} code=unavailable detail={}", what,
              base::LogQuote(Trimmed(PQerrorMessage(conn_.get()))));
  return base::Status::Unavailable("database unavailable");
}

// libpq pipeline mode: every statement (and the Parse of one not yet prepared on this connection)
// is queued, one Sync ends the batch, and the results come back in order, each followed by a
// null PGresult; after a failure the rest answer PGRES_PIPELINE_ABORTED until the Sync's
// PGRES_PIPELINE_SYNC.
base::Result<PgRows> PgConnection::Pipeline(std::vector<Pending> items) {
  BROKER_ASSIGN_OR_RETURN(Sent sent, SendPipeline(std::move(items)));
  return ReceivePipeline(std::move(sent));
}

base::Result<PgConnection::Sent> PgConnection::SendPipeline(std::vector<Pending> items) {
  if (broken()) return base::Status::Unavailable("database unavailable");
  PGconn* c = conn_.get();
  auto lost = [&](std::string_view what) { return Lost(what); };
  if (PQenterPipelineMode(c) == 0) return lost(items.front().what);

  std::vector<Sent::Expected> expected;
  expected.reserve(items.size() + 2);
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Pending& p = items[i];
    const ParamArrays a(p.params);
    int sent = 0;
    if (!prepare_statements_) {
      sent = PQsendQueryParams(c, p.sql.c_str(), a.size(), nullptr, a.values.data(), a.lengths.data(),
                               a.formats.data(), 0);
    } else {
      std::string name;
      if (const auto it = prepared_.find(p.sql); it != prepared_.end()) {
        name = it->second;
      } else {
        // Also when an earlier item of this batch prepares the same text: a second name is harmless.
        name = NextStatementName();
        if (PQsendPrepare(c, name.c_str(), p.sql.c_str(), a.size(), nullptr) == 0) return lost(p.what);
        expected.push_back({i, true, name});
      }
      sent = PQsendQueryPrepared(c, name.c_str(), a.size(), a.values.data(), a.lengths.data(),
                                 a.formats.data(), 0);
    }
    if (sent == 0) return lost(p.what);
    expected.push_back({i, false, {}});
  }
  if (PQpipelineSync(c) == 0) return lost(items.front().what);
  return Sent{std::move(items), std::move(expected)};
}

base::Result<PgRows> PgConnection::ReceivePipeline(Sent sent) {
  PGconn* c = conn_.get();
  auto lost = [&](std::string_view what) { return Lost(what); };
  const std::vector<Pending>& items = sent.items;
  const std::vector<Sent::Expected>& expected = sent.expected;
  base::Status failure;
  std::optional<PgRows> last;
  std::size_t next = 0;
  int nulls = 0;  // consecutive: one ends each statement's results; two would mean nothing is pending
  for (;;) {
    PgResultPtr result(PQgetResult(c));
    if (result == nullptr) {
      if (PQstatus(c) != CONNECTION_OK || ++nulls > 1) {
        return lost(next < expected.size() ? items[expected[next].item].what : items.back().what);
      }
      continue;
    }
    nulls = 0;
    const ExecStatusType st = PQresultStatus(result.get());
    if (st == PGRES_PIPELINE_SYNC) break;
    if (next >= expected.size()) return lost(items.back().what);  // more results than statements
    const Sent::Expected& e = expected[next++];
    const Pending& p = items[e.item];
    if (st == PGRES_PIPELINE_ABORTED) continue;  // not run: an earlier statement failed
    auto rows = Check(p.what, std::move(result));
    if (!rows.ok()) {
      if (failure.ok()) failure = rows.status();
      continue;
    }
    if (e.prepare) {
      prepared_.emplace(p.sql, e.name);
      continue;
    }
    ++statements_ok_;
    if (e.item + 1 == items.size()) last.emplace(std::move(rows).value());
  }
  if (PQexitPipelineMode(c) == 0) marked_broken_ = true;
  if (!failure.ok()) return failure;
  if (!last.has_value()) return lost(items.back().what);
  return std::move(*last);
}

base::Status PgConnection::ExecScript(std::string_view what, const std::string& sql) {
  BROKER_RETURN_IF_ERROR(Flush());
  if (broken()) return base::Status::Unavailable("database unavailable");
  // PQexec returns the last statement's result; an error stops the script at that statement.
  auto rows = Check(what, PgResultPtr(PQexec(conn_.get(), sql.c_str())));
  return rows.ok() ? base::Status::Ok() : rows.status();
}

base::Status PgConnection::ExecWithDeadline(std::string_view what, const std::string& sql,
                                            std::chrono::milliseconds timeout) {
  BROKER_RETURN_IF_ERROR(Flush());
  if (broken()) return base::Status::Unavailable("database unavailable");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto fail = [&](const char* why) {
    marked_broken_ = true;
    Log()->warn("store.statement_failed what={} code=unavailable detail={}", what,
                base::LogQuote(why));
    return base::Status::Unavailable("database unavailable");
  };
  if (PQsendQuery(conn_.get(), sql.c_str()) == 0) return fail(PQerrorMessage(conn_.get()));
  base::Status status;
  for (;;) {
    while (PQisBusy(conn_.get()) != 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return fail("timed out");
      pollfd pfd{PQsocket(conn_.get()), POLLIN, 0};
      const int rc = poll(&pfd, 1, static_cast<int>(left.count()));
      if (rc < 0 && errno != EINTR) return fail("poll failed");
      if (rc > 0 && PQconsumeInput(conn_.get()) == 0) return fail(PQerrorMessage(conn_.get()));
    }
    PgResultPtr result(PQgetResult(conn_.get()));
    if (result == nullptr) break;  // all results read
    if (status.ok()) {
      auto rows = Check(what, std::move(result));
      if (!rows.ok()) status = rows.status();
    }
  }
  return status;
}

PgPool::Lease::Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {}

PgPool::Lease& PgPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (conn_) pool_->Release(std::move(conn_));
    pool_ = other.pool_;
    conn_ = std::move(other.conn_);
  }
  return *this;
}

PgPool::Lease::~Lease() {
  if (conn_) pool_->Release(std::move(conn_));
}

namespace {

std::string DescribeTarget(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  PQfreemem(error);  // may hold a fragment of the URL; never logged
  if (options == nullptr) return "unparsable URL";
  std::string user, host, port, dbname;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    if (key == "user") user = o->val;
    if (key == "host" || (key == "hostaddr" && host.empty())) host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
  }
  PQconninfoFree(options);
  std::string out = user.empty() ? "" : user + "@";
  out += host.empty() ? "localhost" : host;
  if (!port.empty()) out += ":" + port;
  out += "/" + dbname;
  return out;
}

PgPool::Options Sanitized(PgPool::Options options) {
  if (options.max_connections < 1) options.max_connections = 1;
  return options;
}

}  // namespace

PgPool::PgPool(Options options)
    : options_(Sanitized(std::move(options))), target_(DescribeTarget(options_.url)) {}

PgPool::~PgPool() {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.clear();
}

int PgPool::open_connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

base::Result<std::unique_ptr<PgConnection>> PgPool::Connect() {
  const std::string connect_timeout = std::to_string(options_.connect_timeout_seconds);
  // Defaults come before "dbname": with expand_dbname, settings in the URL override earlier
  // keywords, so an operator's URL (sslmode, connect_timeout, ...) always wins. Keepalives make a
  // dead peer surface as an error instead of a hang.
  const char* keys[] = {
      "connect_timeout",     "fallback_application_name", "keepalives", "keepalives_idle",
      "keepalives_interval", "keepalives_count",          "dbname",     nullptr};
  const char* values[] = {connect_timeout.c_str(),
                          "ssh-access-broker",
                          "1",
                          "30",
                          "10",
                          "3",
                          options_.url.c_str(),
                          nullptr};
  PgConnPtr conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (conn == nullptr || PQstatus(conn.get()) != CONNECTION_OK) {
    Log()->warn("store.connect_failed target={} detail={}", target_,
                base::LogQuote(conn ? Trimmed(PQerrorMessage(conn.get())) : "out of memory"));
    return base::Status::Unavailable("database unavailable");
  }
  // Server NOTICEs ("relation ... already exists, skipping") would go to stderr; they belong in
  // the log, at debug level.
  PQsetNoticeProcessor(
      conn.get(),
      [](void*, const char* message) {
        Log()->debug("store.notice detail={}", base::LogQuote(Trimmed(message)));
      },
      nullptr);
  Log()->debug("store.connected target={}", target_);
  return std::make_unique<PgConnection>(std::move(conn), options_.prepare_statements);
}

base::Result<PgPool::Lease> PgPool::Acquire() {
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    while (!idle_.empty()) {
      std::unique_ptr<PgConnection> conn = std::move(idle_.back());  // most recently used first
      idle_.pop_back();
      if (!conn->broken()) return Lease(this, std::move(conn));
      --open_;
      lock.unlock();
      conn.reset();  // PQfinish outside the lock
      lock.lock();
    }
    if (open_ < options_.max_connections) {
      ++open_;  // reserve the slot, then connect without holding the lock
      lock.unlock();
      auto conn = Connect();
      if (!conn.ok()) {
        lock.lock();
        --open_;
        cv_.notify_one();
        return conn.status();
      }
      return Lease(this, std::move(conn).value());
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.max_connections) {
      Log()->warn("store.pool_exhausted max_connections={} waited_ms={}", options_.max_connections,
                  options_.acquire_timeout.count());
      return base::Status::Unavailable("database connection pool exhausted");
    }
  }
}

void PgPool::Release(std::unique_ptr<PgConnection> conn) {
  // A connection left inside a transaction (its user bailed out) cannot be handed to the next
  // caller as if fresh; neither can one that broke. Close both. A connection that broke usually
  // means the server restarted or failed over, which killed the idle ones too: close those as
  // well, so the next callers get fresh connections instead of each tripping over a dead one.
  const bool broken = conn->broken();
  const bool open = conn->InTransaction();
  const bool discard = broken || open || conn->HasDeferred() || conn->awaiting();
  if (discard && !broken) {
    Log()->warn("store.connection_discarded reason={}",
                open ? "open_transaction" : conn->awaiting() ? "unread_answers" : "deferred_statements");
  }
  std::deque<std::unique_ptr<PgConnection>> closing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (discard) {
      --open_;
      if (broken) {
        open_ -= static_cast<int>(idle_.size());
        closing.swap(idle_);
      }
    } else {
      idle_.push_back(std::move(conn));
    }
  }
  cv_.notify_all();
  // PQfinish outside the lock: it may block on the network.
  conn.reset();
  closing.clear();
}

}  // namespace broker::store
