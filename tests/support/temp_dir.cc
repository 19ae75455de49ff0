#include "tests/support/temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace broker::testing {

namespace fs = std::filesystem;

TempDir::TempDir(const std::string& prefix, const fs::path& parent) {
  const std::string tmpl = ((parent.empty() ? fs::temp_directory_path() : parent) / (prefix + "-XXXXXX")).string();
  std::string made = tmpl;  // mkdtemp fills in the Xs, even when it fails
  if (::mkdtemp(made.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
  }
  path_ = made;
}

TempDir::~TempDir() { Remove(); }

TempDir::TempDir(TempDir&& other) noexcept
    : path_(std::exchange(other.path_, fs::path())), keep_(std::exchange(other.keep_, false)) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    Remove();
    path_ = std::exchange(other.path_, fs::path());
    keep_ = std::exchange(other.keep_, false);
  }
  return *this;
}

void TempDir::Remove() noexcept {
  if (path_.empty() || keep_) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
  path_.clear();
}

}  // namespace broker::testing
