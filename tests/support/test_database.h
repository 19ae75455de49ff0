// TestDatabase: a fresh PostgreSQL schema per test, in the throwaway cluster the test run points
// at, so integration tests use a real database and never see each other's rows.
//
// Not thread-safe for construction/destruction; url() and schema() may be read from any thread.
// Query(), Snapshot() and ApplyMigrations() report failures with doctest assertions, so call
// them from the test's own thread.
#ifndef BROKER_TESTS_SUPPORT_TEST_DATABASE_H_
#define BROKER_TESTS_SUPPORT_TEST_DATABASE_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace broker::testing {

// A fresh, empty PostgreSQL schema in the throwaway cluster named by the environment variable
// BROKER_TEST_DATABASE_URL (a superuser URL, e.g. postgresql://tester@127.0.0.1:54329/broker_test),
// dropped (CASCADE) on destruction. Fails the current doctest test with a clear message when the
// variable is unset or the cluster does not answer.
class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // A URL whose connections use this schema as search_path (give it to the broker as DATABASE_URL).
  const std::string& url() const;
  const std::string& schema() const;
  // Applies migrations/ from the source tree (BROKER_SOURCE_DIR compile definition) with
  // store::MigrationRunner.
  void ApplyMigrations() const;
  // Runs one SQL statement in this schema; rows of text cells ("" for NULL). FAILs the test on
  // error.
  std::vector<std::vector<std::string>> Query(const std::string& sql) const;
  // Every row of every table in this schema (tables sorted by name, rows ordered by all columns),
  // as text: equal snapshots mean "the database is unchanged".
  std::string Snapshot() const;

 private:
  struct Connection;  // a libpq connection using this schema

  std::string admin_url_;  // BROKER_TEST_DATABASE_URL
  std::string schema_;
  std::string url_;
  mutable std::mutex mu_;  // guards conn_
  std::unique_ptr<Connection> conn_;
};

}  // namespace broker::testing

#endif  // BROKER_TESTS_SUPPORT_TEST_DATABASE_H_
