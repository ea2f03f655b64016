#include "alembic/linters.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "alembic/python_source.h"
#include "core/json_util.h"
#include "core/reasons.h"
#include "workspace/process.h"

namespace alembic_sidecar::alembic {

const char kSquawkDefaultExcludes[] =
    "prefer-robust-stmts,require-lock-timeout,require-statement-timeout,transaction-nesting,"
    "prefer-bigint-over-int,prefer-bigint-over-smallint,prefer-identity,prefer-text-field";

namespace {

std::string envPath() {
  const char* path = std::getenv("PATH");
  return path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
}

/** The statement around a 0-based line, on one line, at most 160 characters. */
std::string statementAt(const std::string& sql, int line) {
  std::vector<std::string> lines;
  std::istringstream in(sql);
  for (std::string current; std::getline(in, current);) {
    lines.push_back(trim(current));
  }
  if (line < 0 || static_cast<size_t>(line) >= lines.size()) {
    return {};
  }
  // Back up to the first line after the previous statement (a ';', blank or comment line).
  size_t start = static_cast<size_t>(line);
  while (start > 0) {
    const std::string& prev = lines[start - 1];
    if (prev.empty() || prev.back() == ';' || prev.rfind("--", 0) == 0) {
      break;
    }
    --start;
  }
  std::string text;
  for (size_t i = start; i < lines.size(); ++i) {
    text += (text.empty() ? "" : " ") + lines[i];
    if (!lines[i].empty() && lines[i].back() == ';') {
      break;
    }
  }
  return text.size() > 160 ? text.substr(0, 157) + "..." : text;
}

}  // namespace

std::vector<std::string> lintExcludes(const char* envValue) {
  std::string spec = envValue == nullptr ? "default" : envValue;
  std::vector<std::string> rules;
  auto addRule = [&rules](const std::string& rule) {
    if (!rule.empty() && std::find(rules.begin(), rules.end(), rule) == rules.end()) {
      rules.push_back(rule);
    }
  };
  for (const auto& part : splitTopLevel(spec)) {
    if (part == "default") {
      for (const auto& rule : splitTopLevel(kSquawkDefaultExcludes)) {
        addRule(rule);
      }
    } else {
      addRule(part);
    }
  }
  return rules;
}

std::vector<std::pair<int, std::string>> parsePyflakes(const std::string& output) {
  static const std::regex kUndefined(R"(:(\d+):(?:\d+:?)? undefined name '([^']+)')");
  std::vector<std::pair<int, std::string>> out;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, kUndefined)) {
      out.emplace_back(std::stoi(m[1].str()), m[2].str());
    }
  }
  return out;
}

std::vector<LintResult> parseSquawkJson(const std::string& output, const std::string& sql) {
  std::vector<LintResult> out;
  auto j = nlohmann::json::parse(output, nullptr, false);
  if (!j.is_array()) {
    return out;
  }
  for (const auto& item : j) {
    LintResult r;
    r.rule = core::stringField(item, "rule_name");
    r.message = core::stringField(item, "message");
    r.help = core::stringField(item, "help");
    int line = static_cast<int>(core::intField(item, "line"));
    r.sqlLine = line + 1;
    r.statement = statementAt(sql, line);
    if (!r.rule.empty()) {
      out.push_back(std::move(r));
    }
  }
  return out;
}

core::Result<std::vector<std::pair<int, std::string>>> runPyflakes(const std::string& source) {
  workspace::ProcessSpec spec;
  // Debian's interpreter has python3-pyflakes; a python3 earlier on PATH may not.
  spec.argv = {workspace::findExecutable("/usr/bin/python3", "") ? "/usr/bin/python3" : "python3",
               "-m", "pyflakes"};
  spec.stdinData = source;
  spec.timeout = std::chrono::seconds(60);
  auto result = workspace::runProcess(spec);
  if (!result) {
    return result.error();
  }
  if (result->err.find("No module named pyflakes") != std::string::npos) {
    return core::Error::terminal(core::reason::kWorkspaceUnavailable,
                                 "pyflakes is not installed (Debian package python3-pyflakes)");
  }
  return parsePyflakes(result->out);
}

core::Result<std::vector<LintResult>> runSquawk(const std::string& sql) {
  const char* configured = std::getenv("ALEMBIC_SIDECAR_SQUAWK");
  std::string exe = configured != nullptr && *configured != '\0' ? configured : "squawk";
  auto path = workspace::findExecutable(exe, envPath());
  if (!path) {
    return core::Error::terminal(core::reason::kWorkspaceUnavailable,
                                 "squawk is not installed (npm package squawk-cli)");
  }
  workspace::ProcessSpec spec;
  spec.argv = {*path, "--reporter", "json", "--pg-version", "15"};
  std::string excluded;
  for (const auto& rule : lintExcludes(std::getenv(kLintExcludeEnv))) {
    excluded += (excluded.empty() ? "" : ",") + rule;
  }
  if (!excluded.empty()) {
    spec.argv.push_back("--exclude=" + excluded);
  }
  spec.stdinData = sql;
  spec.timeout = std::chrono::seconds(60);
  auto result = workspace::runProcess(spec);
  if (!result) {
    return result.error();
  }
  // 0: clean, 1: findings; anything else is squawk refusing its input or arguments.
  if (result->exitCode != 0 && result->exitCode != 1) {
    std::string err = trim(result->err);
    return core::Error::terminal(core::reason::kWorkspaceUnavailable,
                                 "squawk exited with " + std::to_string(result->exitCode) +
                                     (err.empty() ? "" : ": " + err.substr(0, err.find('\n'))) +
                                     " (" + kLintExcludeEnv + "=" + excluded + ")");
  }
  return parseSquawkJson(result->out, sql);
}

}  // namespace alembic_sidecar::alembic
