#include "tests/support/test_database.h"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "broker/base/ids.h"
#include "broker/base/log.h"
#include "broker/store/migration_runner.h"
#include "broker/store/pg_pool.h"

namespace broker::testing {
namespace {

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnDeleter>;
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// Connects or returns the libpq error text (which never holds the password).
ConnPtr Connect(const std::string& url, std::string* error) {
  const char* keys[] = {"connect_timeout", "fallback_application_name", "dbname", nullptr};
  const char* values[] = {"5", "broker-tests", url.c_str(), nullptr};
  ConnPtr conn(PQconnectdbParams(keys, values, 1));
  if (conn == nullptr || PQstatus(conn.get()) != CONNECTION_OK) {
    *error = conn ? PQerrorMessage(conn.get()) : "out of memory";
    return nullptr;
  }
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);  // NOTICEs are noise here
  return conn;
}

bool Succeeded(const PGresult* res) {
  const ExecStatusType st = PQresultStatus(res);
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
}

}  // namespace

struct TestDatabase::Connection {
  ConnPtr conn;
};

TestDatabase::TestDatabase() {
  const char* env = std::getenv("BROKER_TEST_DATABASE_URL");
  if (env == nullptr || *env == '\0') {
    FAIL(
        "BROKER_TEST_DATABASE_URL is not set: integration tests need a throwaway PostgreSQL "
        "cluster (a superuser URL such as postgresql://tester@127.0.0.1:54329/broker_test); "
        "scripts/test starts one");
  }
  admin_url_ = env;
  schema_ = "test_" + base::RandomHex(6);

  std::string error;
  ConnPtr admin = Connect(admin_url_, &error);
  if (admin == nullptr) {
    FAIL("BROKER_TEST_DATABASE_URL (" << base::RedactUri(admin_url_)
                                      << ") does not answer: " << error);
  }
  ResultPtr created(PQexec(admin.get(), ("CREATE SCHEMA " + schema_).c_str()));
  if (!Succeeded(created.get())) {
    FAIL("cannot create test schema " << schema_ << ": " << PQresultErrorMessage(created.get()));
  }

  url_ = admin_url_ + (admin_url_.find('?') == std::string::npos ? "?" : "&") +
         "options=-csearch_path%3D" + schema_;
  ConnPtr conn = Connect(url_, &error);
  if (conn == nullptr) FAIL("cannot connect to test schema " << schema_ << ": " << error);
  conn_ = std::make_unique<Connection>(Connection{std::move(conn)});
}

TestDatabase::~TestDatabase() {
  conn_.reset();
  std::string error;
  ConnPtr admin = Connect(admin_url_, &error);
  if (admin == nullptr) {
    std::fprintf(stderr, "TestDatabase: cannot drop schema %s: %s\n", schema_.c_str(),
                 error.c_str());
    return;
  }
  // A connection a test leaked would block the DROP forever; give up after a while instead.
  ResultPtr timeout(PQexec(admin.get(), "SET lock_timeout = '15s'"));
  ResultPtr dropped(PQexec(admin.get(), ("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE").c_str()));
  if (!Succeeded(dropped.get())) {
    std::fprintf(stderr, "TestDatabase: cannot drop schema %s: %s\n", schema_.c_str(),
                 PQresultErrorMessage(dropped.get()));
  }
}

const std::string& TestDatabase::url() const { return url_; }

const std::string& TestDatabase::schema() const { return schema_; }

void TestDatabase::ApplyMigrations() const {
  store::PgPool::Options options;
  options.url = url_;
  options.max_connections = 1;
  store::PgPool pool(options);
  store::MigrationRunner runner(pool, std::filesystem::path(BROKER_SOURCE_DIR) / "migrations");
  auto report = runner.Run();
  if (!report.ok())
    FAIL("applying migrations to " << schema_ << " failed: " << report.status().ToString());
}

std::vector<std::vector<std::string>> TestDatabase::Query(const std::string& sql) const {
  std::vector<std::vector<std::string>> rows;
  std::string error;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ResultPtr res(PQexec(conn_->conn.get(), sql.c_str()));
    if (!Succeeded(res.get())) {
      error = res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn_->conn.get());
    } else {
      for (int r = 0; r < PQntuples(res.get()); ++r) {
        std::vector<std::string> row;
        for (int c = 0; c < PQnfields(res.get()); ++c) {
          row.emplace_back(PQgetvalue(res.get(), r, c), PQgetlength(res.get(), r, c));
        }
        rows.push_back(std::move(row));
      }
    }
  }
  if (!error.empty()) FAIL("TestDatabase::Query failed: " << error << "in: " << sql);
  return rows;
}

std::string TestDatabase::Snapshot() const {
  std::string out;
  const auto tables = Query(
      "SELECT quote_ident(table_name) FROM information_schema.tables "
      "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
      "ORDER BY table_name COLLATE \"C\"");
  for (const auto& table : tables) {
    out += "== " + table[0] + "\n";
    // A row's text form lists every column, so sorting by it orders by all columns.
    for (const auto& row :
         Query("SELECT t::text FROM " + table[0] + " AS t ORDER BY t::text COLLATE \"C\"")) {
      out += row[0] + "\n";
    }
  }
  return out;
}

}  // namespace broker::testing
