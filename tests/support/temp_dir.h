// TempDir: a fresh private folder for one test's files, removed with everything in it when the
// TempDir goes out of scope.
//
// The folder is made by mkdtemp(3) as <parent>/<prefix>-XXXXXX, so it is new, unique and has mode
// 0700; <parent> is $TMPDIR, else /tmp (std::filesystem::temp_directory_path), unless the caller
// names one (e.g. "/tmp" where a Unix socket path below the folder must stay short).
// The constructor throws std::runtime_error (naming the template and errno) when the folder cannot
// be made; the destructor never throws and ignores what it cannot remove.
// Not thread-safe: one thread owns a TempDir; path() may be read from any thread while it lives.
#ifndef BROKER_TESTS_SUPPORT_TEMP_DIR_H_
#define BROKER_TESTS_SUPPORT_TEMP_DIR_H_

#include <filesystem>
#include <string>

namespace broker::testing {

class TempDir {
 public:
  // Makes <parent>/<prefix>-XXXXXX; an empty `parent` means $TMPDIR, else /tmp.
  explicit TempDir(const std::string& prefix = "broker-test", const std::filesystem::path& parent = {});
  // Removes the folder and its contents (std::filesystem::remove_all) unless Keep() was called.
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // The moved-from TempDir owns nothing: its path() is empty and it removes nothing.
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;

  // <parent>/<prefix>-XXXXXX (empty in a moved-from TempDir).
  const std::filesystem::path& path() const { return path_; }

  // Leaves the folder in place at destruction (e.g. logs a developer asked to keep).
  void Keep() { keep_ = true; }

 private:
  void Remove() noexcept;

  std::filesystem::path path_;
  bool keep_ = false;
};

}  // namespace broker::testing

#endif  // BROKER_TESTS_SUPPORT_TEMP_DIR_H_
