// PgPool: a fixed-size pool of libpq connections to one PostgreSQL database, handed out as
// exclusive RAII leases, and PgConnection: one connection with parameterized statements.
//
// Every statement goes through PQexecParams with its values as parameters (never spliced into
// the SQL text); a statement may optionally be prepared once per connection and reused. The one
// exception is PgConnection::ExecScript, which runs trusted multi-statement SQL files (the
// migrations) and takes no parameters.
//
// Pipelining: a statement whose rows nobody reads (BEGIN, an audit INSERT, an UPDATE of a row
// the transaction holds locked) may be Defer()red; it then travels with the connection's next
// Exec() or Flush() in one round trip (libpq pipeline mode), in order. Every blocking round trip
// costs the broker two thread wake-ups, which is most of a statement's CPU.
//
// Errors: a failed statement becomes a Status whose code follows SQLSTATE —
//   23505 unique_violation, 40001 serialization_failure, 40P01 deadlock_detected -> kAborted;
//   08xxx connection exceptions, 57P01..57P03 (server shutting down / starting), no result at
//   all, or a connection that is no longer CONNECTION_OK                          -> kUnavailable;
//   anything else                                                                  -> kInternal.
// Status messages are user-safe ("database error", "database unavailable"); the raw server text
// goes only to the `store` logger. The database URL is never logged, only target().
//
// A connection that broke (its status is no longer CONNECTION_OK after an error, or a lease was
// released in the middle of a transaction) is closed when its lease ends; the pool opens a fresh
// one on a later Acquire(). A broken connection also closes the idle ones (a server restart or
// failover killed them too).
//
// Thread-safety: PgPool is thread-safe. A PGconn is used by one thread at a time: the pool hands
// out exclusive leases, and a PgConnection / Lease must not be shared between threads.
#ifndef BROKER_STORE_PG_POOL_H_
#define BROKER_STORE_PG_POOL_H_

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/base/result.h"
#include "broker/base/status.h"

namespace broker::store {

struct PgConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;

struct PgResultDeleter {
  void operator()(PGresult* res) const { PQclear(res); }
};
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

// One statement parameter: text (the default), binary bytes (for bytea), or SQL NULL.
class PgParam {
 public:
  static PgParam Text(std::string value) { return PgParam(std::move(value), false); }
  static PgParam Binary(std::string bytes) { return PgParam(std::move(bytes), true); }
  static PgParam Int(std::int64_t value) { return Text(std::to_string(value)); }
  static PgParam Null() { return PgParam(); }
  // Text, or NULL when `value` is empty.
  static PgParam TextOrNull(std::optional<std::string> value) {
    return value ? Text(std::move(*value)) : Null();
  }

  bool is_null() const { return !value_.has_value(); }
  bool is_binary() const { return binary_; }
  const std::string& value() const { return *value_; }  // requires !is_null()

 private:
  PgParam() = default;
  PgParam(std::string value, bool binary) : value_(std::move(value)), binary_(binary) {}

  std::optional<std::string> value_;
  bool binary_ = false;
};

// The rows of a successful statement, in text format. Movable, not copyable.
class PgRows {
 public:
  explicit PgRows(PgResultPtr result) : result_(std::move(result)) {}

  int size() const { return PQntuples(result_.get()); }
  int columns() const { return PQnfields(result_.get()); }
  bool IsNull(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }
  // The cell as text; "" for NULL. Valid while this PgRows lives.
  std::string_view Get(int row, int col) const {
    return {PQgetvalue(result_.get(), row, col),
            static_cast<std::size_t>(PQgetlength(result_.get(), row, col))};
  }
  // Rows an INSERT / UPDATE / DELETE touched (PQcmdTuples); 0 for other statements.
  int affected() const;

 private:
  PgResultPtr result_;
};

// One open connection. Owned by the pool; reached through a PgPool::Lease.
class PgConnection {
 public:
  explicit PgConnection(PgConnPtr conn, bool prepare_statements)
      : conn_(std::move(conn)), prepare_statements_(prepare_statements) {}
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement with `params` bound to $1..$n and returns its rows (text format).
  // Failure codes as in the file comment; `what` names the statement in logs ("lock binding").
  base::Result<PgRows> Exec(std::string_view what, const std::string& sql,
                            const std::vector<PgParam>& params = {});

  // Queues a statement to be sent, in order, ahead of the next Exec() or Flush() on this
  // connection, in the same round trip. Its rows are dropped; its failure is what that Exec() or
  // Flush() returns (the first failure among the statements sent together; the ones after it are
  // not run — inside a transaction, which it aborts; outside one, the statements sent together
  // run as one implicit transaction).
  void Defer(std::string_view what, const std::string& sql, std::vector<PgParam> params = {});
  // Sends what Defer() queued (OK at once when nothing is). Failure codes as Exec.
  base::Status Flush();
  // Drops what Defer() queued, unsent.
  void DiscardDeferred() { deferred_.clear(); }
  bool HasDeferred() const { return !deferred_.empty(); }

  // Flush() in two halves, so the caller can do other work while the server runs the statements:
  // Send() puts what Defer() queued on the wire (an error is kept for Receive()); Receive() waits
  // for the answers and returns the last statement's rows, or the first failure, as Flush() and
  // Exec() would. Between the two the connection answers nothing else: Exec() and Flush() fail
  // with kInternal, and so does the next Receive() after a second Send(). A connection released
  // before its Receive() is closed.
  void Send();
  base::Result<PgRows> Receive();
  bool awaiting() const { return sent_.has_value() || send_failed_.has_value(); }
  // Statements that succeeded on this connection so far (deferred ones included): lets a caller
  // tell "nothing ran" from "failed after something ran".
  std::uint64_t statements_ok() const { return statements_ok_; }

  // Runs trusted SQL text that may hold several statements and no parameters (the simple query
  // protocol). Only for migration files from the broker's own source tree. Failure codes as Exec.
  base::Status ExecScript(std::string_view what, const std::string& sql);

  // Sends `sql` (no parameters) and waits at most `timeout` for the answer, without blocking on
  // a dead network. kUnavailable on timeout (the connection is then marked broken) or failure.
  base::Status ExecWithDeadline(std::string_view what, const std::string& sql,
                                std::chrono::milliseconds timeout);

  // True once the connection can no longer be trusted; the pool closes it when the lease ends.
  bool broken() const;
  // Forces the connection to be discarded when its lease ends.
  void MarkBroken() { marked_broken_ = true; }
  // True when a transaction is open (or failed and not yet rolled back) on this connection.
  bool InTransaction() const;
  // True when a statement of the open transaction failed: it can only be rolled back.
  bool InFailedTransaction() const;

 private:
  struct Pending {
    std::string what;
    std::string sql;
    std::vector<PgParam> params;
  };

  // Turns a PGresult (possibly null) into rows or a mapped Status; logs raw errors.
  base::Result<PgRows> Check(std::string_view what, PgResultPtr result);
  // A pipeline on the wire: its statements and the results they will answer with, in order.
  struct Sent {
    struct Expected {
      std::size_t item;
      bool prepare;       // the Parse of a new named statement, not the statement itself
      std::string name;   // for prepare
    };
    std::vector<Pending> items;
    std::vector<Expected> expected;
  };

  // Sends `items` in one pipeline (one sync) and returns the last one's rows or the first failure.
  base::Result<PgRows> Pipeline(std::vector<Pending> items);
  // Pipeline()'s halves: queue and flush every statement and the sync; read every result.
  base::Result<Sent> SendPipeline(std::vector<Pending> items);
  base::Result<PgRows> ReceivePipeline(Sent sent);
  // Marks the connection broken and logs why: the Status of a lost connection.
  base::Status Lost(std::string_view what);
  // What Defer() queued, leaving the queue empty.
  std::vector<Pending> TakeDeferred();
  // A prepared statement name never used on this connection (broker_s<n>).
  std::string NextStatementName();

  PgConnPtr conn_;
  bool prepare_statements_;
  bool marked_broken_ = false;
  std::unordered_map<std::string, std::string> prepared_;  // sql -> statement name
  std::uint64_t statement_names_ = 0;                     // names handed out (broker_s<n>)
  std::vector<Pending> deferred_;
  std::optional<Sent> sent_;                // between Send() and Receive()
  std::optional<base::Status> send_failed_;  // Send()'s error, for Receive()
  std::uint64_t statements_ok_ = 0;
};

class PgPool {
 public:
  struct Options {
    std::string url;  // libpq URI or key=value string (DATABASE_URL)
    int max_connections = 8;
    std::chrono::milliseconds acquire_timeout{5000};
    int connect_timeout_seconds = 5;  // used unless `url` sets connect_timeout itself
    bool prepare_statements = true;   // cache prepared statements per connection
  };

  // An exclusive hold on one connection, returned to the pool (or closed, when broken) on
  // destruction. Movable, not copyable; must not outlive the pool.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    PgConnection& conn() { return *conn_; }
    PgConnection* operator->() { return conn_.get(); }

   private:
    friend class PgPool;
    Lease(PgPool* pool, std::unique_ptr<PgConnection> conn) : pool_(pool), conn_(std::move(conn)) {}

    PgPool* pool_;
    std::unique_ptr<PgConnection> conn_;
  };

  // Connects lazily: no connection is opened until the first Acquire(). A max_connections below
  // 1 is taken as 1.
  explicit PgPool(Options options);
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;
  // Requires every lease to have been returned.
  ~PgPool();

  // An idle connection, or a new one while fewer than max_connections are open; otherwise waits
  // up to acquire_timeout for one to be returned.
  // kUnavailable "database connection pool exhausted" on timeout, "database unavailable" when a
  // new connection could not be opened.
  base::Result<Lease> Acquire();

  // "user@host:port/dbname" from the URL, for logs: built from the parsed connection options,
  // so no password (in userinfo or as a query parameter) can appear in it. "unparsable URL" when
  // libpq cannot parse `url`.
  const std::string& target() const { return target_; }

  // Connections currently open (leased + idle). For tests and metrics.
  int open_connections() const;

 private:
  void Release(std::unique_ptr<PgConnection> conn);
  base::Result<std::unique_ptr<PgConnection>> Connect();

  // Immutable after construction.
  const Options options_;
  const std::string target_;

  // Guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<PgConnection>> idle_;
  int open_ = 0;  // idle + leased + being opened
};

// The Status for a PostgreSQL SQLSTATE (see the file comment); exposed for tests.
base::Status StatusForSqlState(std::string_view sqlstate);

}  // namespace broker::store

#endif  // BROKER_STORE_PG_POOL_H_
