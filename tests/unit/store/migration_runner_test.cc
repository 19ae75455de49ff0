#include "broker/store/migration_runner.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "broker/base/ids.h"

namespace broker::store {
namespace {

TEST_SUITE("store::MigrationRunner") {
  TEST_CASE("migration file names parse as NNNN_verb_noun.sql") {
    struct Case {
      const char* file;
      bool ok;
      std::int64_t version;
      const char* name;
    };
    const Case cases[] = {
        {"0001_create_core_tables.sql", true, 1, "create_core_tables"},
        {"0042_add_index.sql", true, 42, "add_index"},
        {"12345_add_jobs_priority.sql", true, 12345, "add_jobs_priority"},
        {"0003_add_v2_column.sql", true, 3, "add_v2_column"},
        {"001_create_x.sql", false, 0, ""},    // fewer than four digits
        {"0000_create_x.sql", false, 0, ""},   // version 0
        {"0001_create.sql", false, 0, ""},     // one word only
        {"0001-create-x.sql", false, 0, ""},   // dashes
        {"0001_Create_x.sql", false, 0, ""},   // uppercase
        {"0001_create__x.sql", false, 0, ""},  // empty word
        {"0001_create_x_.sql", false, 0, ""},
        {"0001__create_x.sql", false, 0, ""},
        {"0001_create_x.SQL", false, 0, ""},
        {"0001_create_x.sql.bak", false, 0, ""},
        {"abcd_create_x.sql", false, 0, ""},
        {".sql", false, 0, ""},
        {"99999999999999999999_create_x.sql", false, 0, ""},  // overflows int64
    };
    for (const Case& c : cases) {
      CAPTURE(c.file);
      auto parsed = ParseMigrationFileName(c.file);
      CHECK(parsed.ok() == c.ok);
      if (c.ok && parsed.ok()) {
        CHECK(parsed->version == c.version);
        CHECK(parsed->name == c.name);
      }
      if (!c.ok && !parsed.ok()) {
        CHECK(parsed.status().code() == base::Code::kInvalidArgument);
        CHECK(parsed.status().message().find(c.file) != std::string::npos);
      }
    }
  }

  TEST_CASE("listing a directory sorts by version and ignores non-SQL files") {
    const auto dir = std::filesystem::temp_directory_path() / ("migrations-" + base::RandomHex(6));
    std::filesystem::create_directories(dir);
    auto touch = [&](const char* name) { std::ofstream(dir / name) << "SELECT 1;"; };
    touch("0010_add_b.sql");
    touch("0002_add_a.sql");
    touch("README.md");

    SUBCASE("when every name is well formed") {
      auto files = ListMigrationFiles(dir);
      REQUIRE(files.ok());
      REQUIRE(files->size() == 2);
      CHECK((*files)[0].version == 2);
      CHECK((*files)[1].version == 10);
      CHECK((*files)[1].path == dir / "0010_add_b.sql");
    }
    SUBCASE("when a file name is malformed") {
      touch("3_oops.sql");
      auto files = ListMigrationFiles(dir);
      CHECK(files.status().code() == base::Code::kInvalidArgument);
      CHECK(files.status().message().find("3_oops.sql") != std::string::npos);
    }
    SUBCASE("when two files share a version") {
      touch("0002_add_c.sql");
      auto files = ListMigrationFiles(dir);
      CHECK(files.status().code() == base::Code::kInvalidArgument);
      CHECK(files.status().message().find("0002_add_") != std::string::npos);
    }
    SUBCASE("when the directory does not exist") {
      auto files = ListMigrationFiles(dir / "missing");
      CHECK(files.status().code() == base::Code::kFailedPrecondition);
    }
    std::filesystem::remove_all(dir);
  }

  TEST_CASE("the repository's migrations are all well named") {
    auto files = ListMigrationFiles(std::filesystem::path(BROKER_SOURCE_DIR) / "migrations");
    REQUIRE_MESSAGE(files.ok(), files.status().ToString());
    REQUIRE_FALSE(files->empty());
    CHECK(files->front().version == 1);
  }
}

}  // namespace
}  // namespace broker::store
