// Enforces DESIGN.md §2's dependency rule on the source tree: adapters (http, store, cf, config) ->
// application (clone) -> domain (osb, session) -> base, and no adapter includes another adapter.
// main.cc, the composition root, may include anything.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

namespace {

namespace fs = std::filesystem;

// The broker modules each module may include (itself is always allowed).
const std::map<std::string, std::set<std::string>>& AllowedIncludes() {
  static const std::map<std::string, std::set<std::string>> kAllowed = {
      {"base", {}},
      {"osb", {"base"}},
      {"session", {"base"}},
      {"clone", {"base", "osb", "session"}},
      {"http", {"base", "osb", "session", "clone"}},
      {"store", {"base", "osb", "clone"}},
      {"cf", {"base", "clone"}},
      // validates the tmate settings with session::RenderTmateConfig, the metadata prefix with clone/metadata.h
      {"config", {"base", "osb", "session", "clone"}},
  };
  return kAllowed;
}

}  // namespace

TEST_SUITE("layout::DependencyRule") {
  TEST_CASE("every broker module includes only the modules the dependency rule allows") {
    const fs::path root = fs::path(BROKER_SOURCE_DIR) / "broker";
    const std::regex include_re(R"re(^\s*#\s*include\s+"broker/([a-z_]+)/)re");
    int files = 0;
    for (const auto& entry : fs::directory_iterator(root)) {
      if (!entry.is_directory()) continue;
      const std::string module = entry.path().filename().string();
      const auto allowed = AllowedIncludes().find(module);
      INFO("module broker/" << module);
      REQUIRE_MESSAGE(allowed != AllowedIncludes().end(), "broker/" << module << " is not in the dependency table");
      for (const auto& file : fs::directory_iterator(entry.path())) {
        std::ifstream in(file.path());
        std::string line;
        int line_no = 0;
        ++files;
        while (std::getline(in, line)) {
          ++line_no;
          std::smatch m;
          if (!std::regex_search(line, m, include_re)) continue;
          const std::string target = m[1];
          const bool ok = target == module || allowed->second.count(target) > 0;
          CHECK_MESSAGE(ok, file.path().string() << ":" << line_no << " includes broker/" << target
                                                 << ", which broker/" << module << " may not depend on");
        }
      }
    }
    CHECK(files > 10);
  }
}
