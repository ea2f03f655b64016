#include "support/example_app.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "workspace/process.h"

namespace alembic_sidecar::testing {

namespace fs = std::filesystem;

std::string ExampleApp::fixturesDir() {
  return std::string(ALEMBIC_SIDECAR_SOURCE_DIR) + "/tests/fixtures";
}

ExampleApp::ExampleApp(const std::string& fixture, std::string versionsDir)
    : temp_("example-app"), versionsDir_(std::move(versionsDir)) {
  dir_ = (temp_.path() / "app").string();
  fs::copy(fixturesDir() + "/" + fixture, dir_, fs::copy_options::recursive);
}

void ExampleApp::applyChange(const std::string& name) {
  fs::copy(fixturesDir() + "/changes/" + name, dir_,
           fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

void ExampleApp::write(const std::string& relativePath, const std::string& text) {
  fs::path file = fs::path(dir_) / relativePath;
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string ExampleApp::read(const std::string& relativePath) const {
  std::ifstream in(fs::path(dir_) / relativePath, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void ExampleApp::replace(const std::string& relativePath, const std::string& from,
                         const std::string& to) {
  std::string text = read(relativePath);
  auto pos = text.find(from);
  ASSERT_NE(pos, std::string::npos) << "'" << from << "' not in " << relativePath;
  text.replace(pos, from.size(), to);
  write(relativePath, text);
}

void ExampleApp::alembic(const std::vector<std::string>& args, const std::string& databaseUrl,
                         const std::map<std::string, std::string>& env) const {
  workspace::ProcessSpec spec;
  spec.argv = {"alembic"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.cwd = dir_;
  spec.env = env;
  spec.env["DATABASE_URL"] = databaseUrl;
  auto result = workspace::runProcess(spec);
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->exitCode, 0) << result->err;
}

std::vector<std::string> ExampleApp::versionFiles() const {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(fs::path(dir_) / versionsDir_)) {
    if (entry.path().extension() == ".py") {
      files.push_back(entry.path().filename().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> ExampleApp::allFiles() const {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
    std::string rel = fs::relative(entry.path(), dir_).string();
    if (entry.is_regular_file() && rel.find("__pycache__") == std::string::npos) {
      files.push_back(rel);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace alembic_sidecar::testing
