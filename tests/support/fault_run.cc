#include "support/fault_run.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <thread>

#include "support/postgres_server.h"
#include "workspace/process.h"

namespace alembic_sidecar::testing {
namespace fs = std::filesystem;

void PrintTo(const Verdict& verdict, std::ostream* out) {
  *out << verdict.phase << "/" << verdict.reason << " [";
  for (size_t i = 0; i < verdict.escalations.size(); ++i) {
    *out << (i ? ", " : "") << verdict.escalations[i];
  }
  *out << "]";
}

nlohmann::json reportIn(const std::string& log) {
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("{\"action\"", 0) == 0) {
      return nlohmann::json::parse(line, nullptr, false);
    }
  }
  return nullptr;
}

Verdict verdictOf(const nlohmann::json& report) {
  Verdict verdict;
  if (!report.is_object()) {
    return verdict;
  }
  verdict.phase = report.value("phase", "");
  verdict.reason = report.value("reason", "");
  if (report.contains("findings") && report["findings"].is_array()) {
    for (const auto& f : report["findings"]) {
      if (f.value("severity", "") == "escalation") {
        verdict.escalations.push_back(f.value("code", ""));
      }
    }
  }
  std::sort(verdict.escalations.begin(), verdict.escalations.end());
  return verdict;
}

void prepareDropColumnProject(ExampleApp& app, const database::ConnectionInfo& live) {
  workspace::ProcessSpec spec;
  spec.argv = {"alembic", "upgrade", "head"};
  spec.cwd = app.dir();
  spec.env = {{"DATABASE_URL", live.url()}};
  auto upgraded = workspace::runProcess(spec);
  ASSERT_TRUE(upgraded.ok());
  ASSERT_EQ(upgraded->exitCode, 0) << upgraded->err;
  execSql(live.database,
          "INSERT INTO team (name, headquarters) VALUES ('core', 'Oslo'), ('web', 'Lima'), "
          "('data', NULL)");
  app.applyChange("team_drop_headquarters");
}

Verdict dropColumnVerdict() {
  return Verdict{"Escalated", "DestructiveChange", {"DestructiveChange"}};
}

std::vector<std::string> stagingDirs(const ExampleApp& app) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(app.dir() + "/.alembic-sidecar", ec)) {
    std::string name = e.path().filename().string();
    if (e.is_directory() && name.rfind("staging-", 0) == 0) {
      out.push_back(".alembic-sidecar/" + name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> stagedFiles(const ExampleApp& app) {
  std::vector<std::string> out;
  for (const auto& dir : stagingDirs(app)) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(app.dir() + "/" + dir, ec)) {
      if (e.path().extension() == ".py") {
        out.push_back(dir + "/" + e.path().filename().string());
      }
    }
  }
  return out;
}

std::vector<std::string> alembicHeads(const ExampleApp& app) {
  workspace::ProcessSpec spec;
  spec.argv = {"alembic", "heads"};
  spec.cwd = app.dir();
  spec.env = {{"DATABASE_URL", ""}};
  auto result = workspace::runProcess(spec);
  std::vector<std::string> heads;
  if (!result.ok() || result->exitCode != 0) {
    ADD_FAILURE() << "alembic heads failed: " << (result.ok() ? result->err : "");
    return heads;
  }
  std::istringstream lines(result->out);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty()) {
      heads.push_back(line.substr(0, line.find(' ')));
    }
  }
  return heads;
}

bool pollUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return condition();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace alembic_sidecar::testing
