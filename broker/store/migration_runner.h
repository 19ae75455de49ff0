// MigrationRunner: brings a database schema up to date with the forward-only SQL files in
// migrations/ (named NNNN_verb_noun.sql), at broker startup.
//
// Each pending file runs in its own transaction together with the row that records it in
// `schema_migrations (version, name, applied_at)` (created when missing), so a file is either
// applied and recorded or neither. The whole run holds a PostgreSQL session advisory lock on one
// dedicated connection, keyed by a fixed class id and the current schema, so when several broker
// processes start at once each migration is applied exactly once and the others wait, then find
// nothing to do. Tables are never schema-qualified: the connection's search_path decides where
// they live (tests give every test its own schema that way).
//
// Upgrades run old and new brokers side by side, so versions in the database that are newer than
// every file here (a newer broker ran) are logged as a warning and otherwise ignored. Anything
// else that does not fit a linear history is refused (see Run()).
//
// Migration files are trusted SQL from the broker's source tree. They must not contain their own
// BEGIN/COMMIT, nor statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY).
//
// Thread-safety: a MigrationRunner is used by one thread; any number of runners (in any number of
// processes) may run against the same database at once.
#ifndef BROKER_STORE_MIGRATION_RUNNER_H_
#define BROKER_STORE_MIGRATION_RUNNER_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/result.h"
#include "broker/store/pg_pool.h"

namespace broker::store {

struct MigrationFile {
  std::int64_t version = 0;    // 1 for 0001_create_core_tables.sql
  std::string name;            // "create_core_tables"
  std::filesystem::path path;  // empty when parsed from a bare file name
};

// Parses "NNNN_verb_noun.sql": at least four digits (a version >= 1), an underscore, then two or
// more lowercase words of [a-z0-9] joined by underscores. kInvalidArgument naming the file
// otherwise.
base::Result<MigrationFile> ParseMigrationFileName(std::string_view file_name);

// Every *.sql file in `dir`, sorted by version (other files, e.g. a README, are ignored).
// kInvalidArgument naming the file for a malformed name or a version used twice;
// kFailedPrecondition when `dir` is not a readable directory.
base::Result<std::vector<MigrationFile>> ListMigrationFiles(const std::filesystem::path& dir);

struct MigrationReport {
  std::vector<std::int64_t> applied;        // versions this run applied, in order
  std::vector<std::int64_t> unknown_newer;  // versions in the database newer than every file
};

class MigrationRunner {
 public:
  // Class id of the advisory lock (pg_advisory_lock(kLockClassId, hashtext(current_schema()))).
  static constexpr int kLockClassId = 0x55484143;

  // `pool` must outlive the runner; one of its connections is held for the whole of Run().
  MigrationRunner(PgPool& pool, std::filesystem::path dir);

  // Applies every pending migration in version order and reports what it did.
  // kInvalidArgument / kFailedPrecondition as ListMigrationFiles;
  // kFailedPrecondition when the search_path names no existing schema, when the database records
  //   a version this directory lacks that is older than its newest file (a file went missing),
  //   when a recorded version's name differs from its file's, or when a pending file is older
  //   than the newest recorded version (the history would fork);
  // kUnavailable when the database cannot be reached; kInternal when a migration's SQL fails
  //   (that migration is rolled back; earlier ones stay applied; the message names the file).
  base::Result<MigrationReport> Run();

 private:
  base::Result<MigrationReport> RunLocked(PgConnection& conn,
                                          const std::vector<MigrationFile>& files);
  base::Status Apply(PgConnection& conn, const MigrationFile& file);

  PgPool& pool_;
  const std::filesystem::path dir_;
};

}  // namespace broker::store

#endif  // BROKER_STORE_MIGRATION_RUNNER_H_
