// tile_check [--require-build-outputs] [tile.yml] [manifest.yml]: checks tile.yml by the rules in
// tests/support/tile_check.h and cross-checks it with manifest.yml (defaults: tile/tile.yml and
// manifest.yml of the current directory). Prints each violation; exit 0 clean, 1 violations,
// 2 unreadable input.
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/tile_check.h"

int main(int argc, char** argv) {
  std::vector<std::string> files;
  broker::testing::TileCheckOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--require-build-outputs") {
      options.require_build_outputs = true;
    } else if (a == "-h" || a == "--help") {
      std::puts("usage: tile_check [--require-build-outputs] [tile.yml] [manifest.yml]");
      return 0;
    } else {
      files.push_back(a);
    }
  }
  const std::string tile_path = files.size() > 0 ? files[0] : "tile/tile.yml";
  const std::string manifest_path = files.size() > 1 ? files[1] : "manifest.yml";
  YAML::Node tile, manifest;
  try {
    tile = YAML::LoadFile(tile_path);
    manifest = YAML::LoadFile(manifest_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tile_check: %s\n", e.what());
    return 2;
  }
  const std::string dir = std::filesystem::path(tile_path).parent_path().string();
  const auto violations = broker::testing::CheckTile(tile, manifest, dir.empty() ? "." : dir, options);
  for (const auto& v : violations) std::printf("%s\n", broker::testing::FormatViolation(v).c_str());
  if (!violations.empty()) {
    std::printf("tile_check: %zu violation(s) in %s / %s\n", violations.size(), tile_path.c_str(), manifest_path.c_str());
    return 1;
  }
  std::printf("tile_check: %s and %s ok\n", tile_path.c_str(), manifest_path.c_str());
  return 0;
}
