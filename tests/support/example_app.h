#pragma once

#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace alembic_sidecar::testing {

/** A private copy of tests/fixtures/example_app that a test may change freely. */
class ExampleApp {
 public:
  ExampleApp();

  const std::string& dir() const { return dir_; }
  /** Copies tests/fixtures/changes/<name>/ over the app. */
  void applyChange(const std::string& name);
  void write(const std::string& relativePath, const std::string& text);
  std::string read(const std::string& relativePath) const;
  /** Replaces the first occurrence of `from` in the file; fails the test if absent. */
  void replace(const std::string& relativePath, const std::string& from, const std::string& to);
  /** Revision files in migrations/versions, sorted. */
  std::vector<std::string> versionFiles() const;

  static std::string fixturesDir();

 private:
  TempDir temp_;
  std::string dir_;
};

}  // namespace alembic_sidecar::testing
