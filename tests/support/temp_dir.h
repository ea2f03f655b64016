#pragma once

#include <filesystem>
#include <string>

namespace alembic_sidecar::testing {

/** A fresh directory under the system temp dir, removed with everything in it on scope exit. */
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "alembic-sidecar-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace alembic_sidecar::testing
