#pragma once

#include <map>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace alembic_sidecar::testing {

/** A private copy of a fixture app (default tests/fixtures/example_app) to change freely. */
class ExampleApp {
 public:
  explicit ExampleApp(const std::string& fixture = "example_app",
                      std::string versionsDir = "migrations/versions");

  const std::string& dir() const { return dir_; }
  /** Copies tests/fixtures/changes/<name>/ over the app. */
  void applyChange(const std::string& name);
  void write(const std::string& relativePath, const std::string& text);
  std::string read(const std::string& relativePath) const;
  /** Replaces the first occurrence of `from` in the file; fails the test if absent. */
  void replace(const std::string& relativePath, const std::string& from, const std::string& to);
  /** Revision files in the versions directory, sorted. */
  std::vector<std::string> versionFiles() const;
  /** Every file under the app (relative paths), sorted: to prove nothing else appeared. */
  std::vector<std::string> allFiles() const;
  /**
   * Runs Debian's alembic CLI in the app as a developer would (DATABASE_URL = `databaseUrl`),
   * e.g. to deploy the history or plant a revision; fails the test unless it exits 0. `env`
   * adds the project's own variables.
   */
  void alembic(const std::vector<std::string>& args, const std::string& databaseUrl,
               const std::map<std::string, std::string>& env = {}) const;

  static std::string fixturesDir();

 private:
  TempDir temp_;
  std::string dir_;
  std::string versionsDir_;
};

}  // namespace alembic_sidecar::testing
