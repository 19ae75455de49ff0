// store::MigrationRunner against a real PostgreSQL (a fresh schema per test).
#include "broker/store/migration_runner.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "broker/base/ids.h"
#include "broker/store/pg_pool.h"
#include "tests/support/test_database.h"

namespace broker::store {
namespace {

using testing::TestDatabase;

const std::filesystem::path kRepoMigrations =
    std::filesystem::path(BROKER_SOURCE_DIR) / "migrations";

// A scratch migrations directory, removed at scope exit.
class MigrationDir {
 public:
  MigrationDir()
      : path_(std::filesystem::temp_directory_path() / ("migrations-" + base::RandomHex(6))) {
    std::filesystem::create_directories(path_);
  }
  ~MigrationDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  void Write(const std::string& name, const std::string& sql) const {
    std::ofstream(path_ / name) << sql;
  }
  void CopyRepositoryMigrations() const {
    for (const auto& entry : std::filesystem::directory_iterator(kRepoMigrations)) {
      std::filesystem::copy_file(entry.path(), path_ / entry.path().filename());
    }
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

PgPool::Options PoolOptions(const TestDatabase& db) {
  PgPool::Options o;
  o.url = db.url();
  o.max_connections = 1;
  return o;
}

std::string Count(const TestDatabase& db, const std::string& table) {
  return db.Query("SELECT count(*) FROM " + table)[0][0];
}

TEST_SUITE("store::MigrationRunner") {
  TEST_CASE("applies the repository's migrations into the connection's schema and records them") {
    TestDatabase db;
    PgPool pool(PoolOptions(db));
    MigrationRunner runner(pool, kRepoMigrations);
    auto report = runner.Run();
    REQUIRE_MESSAGE(report.ok(), report.status().ToString());
    auto files = ListMigrationFiles(kRepoMigrations);
    REQUIRE(files.ok());
    CHECK(report->applied.size() == files->size());
    CHECK(report->unknown_newer.empty());

    const auto rows = db.Query(
        "SELECT version, name, applied_at IS NOT NULL FROM schema_migrations ORDER BY version");
    REQUIRE(rows.size() == files->size());
    CHECK(rows[0] == std::vector<std::string>{"1", "create_core_tables", "t"});
    // Nothing leaked into public: every table lives in the test's schema.
    const auto tables = db.Query(
        "SELECT table_schema FROM information_schema.tables WHERE table_name IN "
        "('service_instances', 'service_bindings', 'jobs', 'events', 'schema_migrations')");
    CHECK(tables.size() == 5);
    for (const auto& t : tables) CHECK(t[0] == db.schema());

    SUBCASE("when run again, it has nothing to do") {
      const std::string before = db.Snapshot();
      auto again = MigrationRunner(pool, kRepoMigrations).Run();
      REQUIRE(again.ok());
      CHECK(again->applied.empty());
      CHECK(db.Snapshot() == before);
    }
  }

  TEST_CASE("four runners started at once apply each migration exactly once") {
    TestDatabase db;
    MigrationDir dir;
    dir.CopyRepositoryMigrations();
    // Not idempotent on purpose: a second application would fail or add a second row.
    dir.Write("0101_create_apply_log.sql", "CREATE TABLE apply_log (n int);");
    dir.Write("0102_insert_apply_row.sql",
              "INSERT INTO apply_log VALUES (1); SELECT pg_sleep(0.2);");
    dir.Write("0103_insert_apply_row_again.sql", "INSERT INTO apply_log VALUES (2);");

    constexpr int kRunners = 4;
    std::vector<base::Result<MigrationReport>> results(kRunners, base::Status::Internal("not run"));
    std::vector<std::thread> threads;
    for (int i = 0; i < kRunners; ++i) {
      threads.emplace_back([&, i] {
        PgPool pool(PoolOptions(db));  // a separate connection per runner, as separate processes
        results[i] = MigrationRunner(pool, dir.path()).Run();
      });
    }
    for (auto& t : threads) t.join();

    std::size_t applied_total = 0;
    for (const auto& r : results) {
      REQUIRE_MESSAGE(r.ok(), r.status().ToString());
      applied_total += r->applied.size();
    }
    auto files = ListMigrationFiles(dir.path());
    REQUIRE(files.ok());
    CHECK(applied_total == files->size());
    CHECK(Count(db, "schema_migrations") == std::to_string(files->size()));
    CHECK(db.Query("SELECT n FROM apply_log ORDER BY n") ==
          std::vector<std::vector<std::string>>{{"1"}, {"2"}});
  }

  TEST_CASE("versions newer than every file (a newer broker ran) are tolerated and reported") {
    TestDatabase db;
    db.ApplyMigrations();
    db.Query("INSERT INTO schema_migrations (version, name) VALUES (9999, 'add_future_thing')");
    PgPool pool(PoolOptions(db));
    auto report = MigrationRunner(pool, kRepoMigrations).Run();
    REQUIRE_MESSAGE(report.ok(), report.status().ToString());
    CHECK(report->applied.empty());
    CHECK(report->unknown_newer == std::vector<std::int64_t>{9999});
  }

  TEST_CASE("a history that does not fit the files is refused with kFailedPrecondition") {
    TestDatabase db;
    MigrationDir dir;
    dir.Write("0001_create_a.sql", "CREATE TABLE a (x int);");
    dir.Write("0003_create_c.sql", "CREATE TABLE c (x int);");
    PgPool pool(PoolOptions(db));
    db.Query(
        "CREATE TABLE schema_migrations (version bigint PRIMARY KEY, name text NOT NULL, "
        "applied_at timestamptz NOT NULL DEFAULT now())");

    SUBCASE("when the database records a version the directory lacks, below its newest file") {
      db.Query(
          "INSERT INTO schema_migrations (version, name) VALUES (1, 'create_a'), (2, 'create_b')");
      auto report = MigrationRunner(pool, dir.path()).Run();
      CHECK(report.status().code() == base::Code::kFailedPrecondition);
      CHECK(report.status().message().find("migration 2") != std::string::npos);
    }
    SUBCASE("when a recorded version has another name than its file") {
      db.Query("INSERT INTO schema_migrations (version, name) VALUES (1, 'create_other')");
      auto report = MigrationRunner(pool, dir.path()).Run();
      CHECK(report.status().code() == base::Code::kFailedPrecondition);
      CHECK(report.status().message().find("0001_create_a.sql") != std::string::npos);
    }
    SUBCASE("when a pending file is older than the newest recorded version") {
      db.Query("INSERT INTO schema_migrations (version, name) VALUES (3, 'create_c')");
      auto report = MigrationRunner(pool, dir.path()).Run();
      CHECK(report.status().code() == base::Code::kFailedPrecondition);
      CHECK(report.status().message().find("0001_create_a.sql") != std::string::npos);
    }
    CHECK(db.Query("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
                   "AND table_name IN ('a', 'c')")
              .empty());
  }

  TEST_CASE("a failing migration is rolled back, named, and earlier ones stay applied") {
    TestDatabase db;
    MigrationDir dir;
    dir.Write("0001_create_a.sql", "CREATE TABLE a (x int);");
    dir.Write("0002_create_b.sql", "CREATE TABLE b (x int);\nSELECT no_such_column FROM a;");
    dir.Write("0003_create_c.sql", "CREATE TABLE c (x int);");
    PgPool pool(PoolOptions(db));
    auto report = MigrationRunner(pool, dir.path()).Run();
    REQUIRE_FALSE(report.ok());
    CHECK(report.status().code() == base::Code::kInternal);
    CHECK(report.status().message().find("0002_create_b.sql") != std::string::npos);
    CHECK(report.status().message().find("no_such_column") ==
          std::string::npos);  // raw text: logs only
    CHECK(db.Query("SELECT version FROM schema_migrations") ==
          std::vector<std::vector<std::string>>{{"1"}});
    CHECK(db.Query("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                   "current_schema() "
                   "AND table_name IN ('a', 'b', 'c')") ==
          std::vector<std::vector<std::string>>{{"a"}});

    SUBCASE("when the file is fixed, the next run continues from there") {
      dir.Write("0002_create_b.sql", "CREATE TABLE b (x int);");
      auto fixed = MigrationRunner(pool, dir.path()).Run();
      REQUIRE_MESSAGE(fixed.ok(), fixed.status().ToString());
      CHECK(fixed->applied == std::vector<std::int64_t>{2, 3});
    }
  }

  TEST_CASE("a malformed file name stops the run with kInvalidArgument naming the file") {
    TestDatabase db;
    MigrationDir dir;
    dir.Write("0001_create_a.sql", "CREATE TABLE a (x int);");
    dir.Write("2_create_b.sql", "CREATE TABLE b (x int);");
    PgPool pool(PoolOptions(db));
    auto report = MigrationRunner(pool, dir.path()).Run();
    CHECK(report.status().code() == base::Code::kInvalidArgument);
    CHECK(report.status().message().find("2_create_b.sql") != std::string::npos);
    CHECK(db.Query("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema()")
              .empty());
  }

  TEST_CASE("a search_path naming no existing schema is refused") {
    TestDatabase db;
    PgPool::Options o = PoolOptions(db);
    o.url = db.url() + "_missing";
    PgPool pool(o);
    auto report = MigrationRunner(pool, kRepoMigrations).Run();
    CHECK(report.status().code() == base::Code::kFailedPrecondition);
  }
}

}  // namespace
}  // namespace broker::store
