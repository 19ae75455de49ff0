// Tests for tests/support/temp_dir.h: a TempDir is a fresh, empty, private folder under the parent
// it names, removed with its contents at scope end unless kept; a moved-from one removes nothing.
#include "tests/support/temp_dir.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

namespace broker::testing {
namespace {

namespace fs = std::filesystem;

TEST_SUITE("TempDir") {
  TEST_CASE("a TempDir is a fresh empty folder named after its prefix, with mode 0700") {
    const TempDir dir("temp-dir-test");
    REQUIRE(fs::is_directory(dir.path()));
    CHECK(fs::is_empty(dir.path()));
    CHECK(fs::equivalent(dir.path().parent_path(), fs::temp_directory_path()));
    CHECK(dir.path().filename().string().rfind("temp-dir-test-", 0) == 0);
    struct stat st {};
    REQUIRE(::stat(dir.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);
  }

  TEST_CASE("a TempDir lives under the parent it names") {
    const TempDir outer("temp-dir-test");
    const TempDir inner("inner", outer.path());
    CHECK(inner.path().parent_path() == outer.path());
    CHECK(fs::is_directory(inner.path()));
  }

  TEST_CASE("two TempDirs get different folders") {
    const TempDir a("temp-dir-test");
    const TempDir b("temp-dir-test");
    CHECK(a.path() != b.path());
  }

  TEST_CASE("the folder is removed with its contents at scope end") {
    fs::path path;
    {
      const TempDir dir("temp-dir-test");
      path = dir.path();
      fs::create_directories(path / "a" / "b");
      std::ofstream(path / "a" / "b" / "file") << "contents\n";
      std::ofstream(path / "top") << "contents\n";
      fs::create_symlink("/", path / "link-to-root");  // removed as a link, never followed
    }
    CHECK_FALSE(fs::exists(path));
    CHECK(fs::is_directory("/"));
  }

  TEST_CASE("a folder already gone by scope end is no error") {
    fs::path path;
    {
      const TempDir dir("temp-dir-test");
      path = dir.path();
      fs::remove(path);
    }
    CHECK_FALSE(fs::exists(path));
  }

  TEST_CASE("Keep leaves the folder in place") {
    const TempDir outer("temp-dir-test");
    fs::path path;
    {
      TempDir dir("kept", outer.path());
      path = dir.path();
      dir.Keep();
    }
    CHECK(fs::is_directory(path));
  }

  TEST_CASE("moving hands the folder over: only the last owner removes it") {
    fs::path path;
    {
      TempDir first("temp-dir-test");
      path = first.path();
      TempDir second(std::move(first));
      CHECK(first.path().empty());  // NOLINT(bugprone-use-after-move): the moved-from state is the contract
      CHECK(second.path() == path);
      {
        TempDir third("temp-dir-test");
        const fs::path replaced = third.path();
        third = std::move(second);
        CHECK_FALSE(fs::exists(replaced));  // the folder it owned before is gone
        CHECK(third.path() == path);
      }
      CHECK_FALSE(fs::exists(path));
    }
  }

  TEST_CASE("a folder that cannot be made throws, naming the template") {
    CHECK_THROWS_WITH_AS(TempDir("x", "/nonexistent-temp-dir-parent"),
                         doctest::Contains("/nonexistent-temp-dir-parent/x-XXXXXX"), std::runtime_error);
  }
}

}  // namespace
}  // namespace broker::testing
