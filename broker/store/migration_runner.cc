#include "broker/store/migration_runner.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>
#include <utility>

#include "broker/base/log.h"

namespace broker::store {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const std::shared_ptr<spdlog::logger> logger = base::Logger("store");
  return logger;
}

bool IsWordChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

std::string FileLabel(const MigrationFile& f) {
  return f.path.empty() ? f.name : f.path.filename().string();
}

}  // namespace

base::Result<MigrationFile> ParseMigrationFileName(std::string_view file_name) {
  const auto bad = [&] {
    return base::Status::InvalidArgument("migration file name " + std::string(file_name) +
                                         " is not NNNN_verb_noun.sql");
  };
  constexpr std::string_view kSuffix = ".sql";
  if (file_name.size() <= kSuffix.size() || !file_name.ends_with(kSuffix)) return bad();
  const std::string_view stem = file_name.substr(0, file_name.size() - kSuffix.size());
  const auto underscore = stem.find('_');
  if (underscore == std::string_view::npos || underscore < 4) return bad();
  const std::string_view digits = stem.substr(0, underscore);
  MigrationFile out;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out.version);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || out.version < 1) return bad();
  const std::string_view name = stem.substr(underscore + 1);
  // Two or more non-empty words: "verb_noun", "create_core_tables".
  if (name.empty() || name.front() == '_' || name.back() == '_' ||
      name.find("__") != std::string_view::npos || name.find('_') == std::string_view::npos ||
      !std::all_of(name.begin(), name.end(), [](char c) { return c == '_' || IsWordChar(c); })) {
    return bad();
  }
  out.name = std::string(name);
  return out;
}

base::Result<std::vector<MigrationFile>> ListMigrationFiles(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    return base::Status::FailedPrecondition("migrations directory " + dir.string() +
                                            " cannot be read: " + ec.message());
  }
  std::vector<MigrationFile> files;
  for (const auto& entry : it) {
    const std::string file_name = entry.path().filename().string();
    if (!file_name.ends_with(".sql")) continue;
    auto parsed = ParseMigrationFileName(file_name);
    if (!parsed.ok()) return parsed.status();
    parsed->path = entry.path();
    files.push_back(std::move(parsed).value());
  }
  std::sort(files.begin(), files.end(),
            [](const MigrationFile& a, const MigrationFile& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < files.size(); ++i) {
    if (files[i].version == files[i - 1].version) {
      return base::Status::InvalidArgument("migration files " + FileLabel(files[i - 1]) + " and " +
                                           FileLabel(files[i]) + " have the same version");
    }
  }
  return files;
}

MigrationRunner::MigrationRunner(PgPool& pool, std::filesystem::path dir)
    : pool_(pool), dir_(std::move(dir)) {}

base::Result<MigrationReport> MigrationRunner::Run() {
  BROKER_ASSIGN_OR_RETURN(std::vector<MigrationFile> files, ListMigrationFiles(dir_));
  BROKER_ASSIGN_OR_RETURN(PgPool::Lease lease, pool_.Acquire());
  PgConnection& conn = lease.conn();

  BROKER_ASSIGN_OR_RETURN(PgRows schema, conn.Exec("current schema", "SELECT current_schema()"));
  if (schema.IsNull(0, 0)) {
    return base::Status::FailedPrecondition(
        "database: no schema in the connection's search_path exists; cannot apply migrations");
  }
  const std::string schema_name(schema.Get(0, 0));

  // A session lock (not a transaction lock): it must span the several transactions below. It is
  // keyed by schema so brokers using different schemas of one database do not wait for each other.
  const std::vector<PgParam> key = {PgParam::Int(kLockClassId), PgParam::Text(schema_name)};
  const auto waited_from = std::chrono::steady_clock::now();
  auto locked =
      conn.Exec("migration lock", "SELECT pg_advisory_lock($1::int, hashtext($2::text))", key);
  if (!locked.ok()) return locked.status();
  Log()->debug("store.migration_lock_acquired schema={} waited_ms={}", schema_name,
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - waited_from)
                   .count());

  auto report = RunLocked(conn, files);

  auto unlocked =
      conn.Exec("migration unlock", "SELECT pg_advisory_unlock($1::int, hashtext($2::text))", key);
  if (!unlocked.ok()) {
    // Closing the session is the other way to release a session lock.
    conn.MarkBroken();
  }
  return report;
}

base::Result<MigrationReport> MigrationRunner::RunLocked(PgConnection& conn,
                                                         const std::vector<MigrationFile>& files) {
  auto created = conn.Exec("create schema_migrations",
                           "CREATE TABLE IF NOT EXISTS schema_migrations ("
                           " version bigint PRIMARY KEY,"
                           " name text NOT NULL,"
                           " applied_at timestamptz NOT NULL DEFAULT now())");
  if (!created.ok()) return created.status();
  BROKER_ASSIGN_OR_RETURN(
      PgRows rows, conn.Exec("read schema_migrations",
                             "SELECT version, name FROM schema_migrations ORDER BY version"));

  std::map<std::int64_t, const MigrationFile*> by_version;
  for (const MigrationFile& f : files) by_version[f.version] = &f;
  const std::int64_t newest_file = files.empty() ? 0 : files.back().version;

  MigrationReport report;
  std::map<std::int64_t, bool> recorded;
  std::int64_t newest_recorded = 0;
  for (int r = 0; r < rows.size(); ++r) {
    std::int64_t version = 0;
    const std::string_view text = rows.Get(r, 0);
    std::from_chars(text.data(), text.data() + text.size(), version);
    const std::string_view name = rows.Get(r, 1);
    recorded[version] = true;
    newest_recorded = std::max(newest_recorded, version);
    const auto it = by_version.find(version);
    if (it == by_version.end()) {
      if (version > newest_file) {
        report.unknown_newer.push_back(version);
        continue;
      }
      return base::Status::FailedPrecondition("database records migration " +
                                              std::to_string(version) + " (" + std::string(name) +
                                              ") but " + dir_.string() + " has no file for it");
    }
    if (it->second->name != name) {
      return base::Status::FailedPrecondition("database records migration " +
                                              std::to_string(version) + " as " + std::string(name) +
                                              " but the file is " + FileLabel(*it->second));
    }
  }
  if (!report.unknown_newer.empty()) {
    // An old broker beside a new one during an upgrade: the new schema is compatible by the
    // expand/contract rule, so keep running.
    Log()->warn("store.migrations_newer_in_database newest_known={} newest_in_database={}",
                newest_file, newest_recorded);
  }

  for (const MigrationFile& f : files) {
    if (recorded.count(f.version) != 0) continue;
    if (f.version < newest_recorded) {
      return base::Status::FailedPrecondition(
          "migration " + FileLabel(f) + " is older than the newest applied migration " +
          std::to_string(newest_recorded) + "; add new migrations after it");
    }
    BROKER_RETURN_IF_ERROR(Apply(conn, f));
    report.applied.push_back(f.version);
  }
  return report;
}

base::Status MigrationRunner::Apply(PgConnection& conn, const MigrationFile& f) {
  std::ifstream in(f.path, std::ios::binary);
  std::stringstream sql;
  sql << in.rdbuf();
  if (!in) {
    return base::Status::FailedPrecondition("migration file " + f.path.string() +
                                            " cannot be read");
  }
  const auto started = std::chrono::steady_clock::now();
  const std::string label = FileLabel(f);
  auto fail = [&](const base::Status& s) {
    if (conn.InTransaction() && !conn.Exec("rollback", "ROLLBACK").ok()) conn.MarkBroken();
    Log()->error("store.migration_failed version={} name={} code={}", f.version, f.name,
                 base::CodeName(s.code()));
    return s.WithContext("migration " + label);
  };

  if (auto s = conn.Exec("begin", "BEGIN"); !s.ok()) return fail(s.status());
  if (auto s = conn.ExecScript("migration " + label, sql.str()); !s.ok()) return fail(s);
  if (auto s = conn.Exec("record migration",
                         "INSERT INTO schema_migrations (version, name) VALUES ($1::bigint, $2)",
                         {PgParam::Int(f.version), PgParam::Text(f.name)});
      !s.ok()) {
    return fail(s.status());
  }
  if (auto s = conn.Exec("commit", "COMMIT"); !s.ok()) return fail(s.status());
  Log()->info("store.migration_applied version={} name={} elapsed_ms={}", f.version, f.name,
              std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count());
  return base::Status::Ok();
}

}  // namespace broker::store
