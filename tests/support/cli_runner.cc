#include "support/cli_runner.h"

#include "workspace/process.h"

namespace alembic_sidecar::testing {

nlohmann::json CliResult::json() const {
  return nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
}

nlohmann::json findingIn(const nlohmann::json& report, const std::string& code) {
  if (report.is_object() && report.contains("findings")) {
    for (const auto& f : report["findings"]) {
      if (f.value("code", "") == code) {
        return f;
      }
    }
  }
  return nullptr;
}

CliResult runCli(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env, std::chrono::seconds timeout) {
  workspace::ProcessSpec spec;
  spec.argv = {ALEMBIC_SIDECAR_EXE};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = {{"DATABASE_URL", ""}, {"PYTHONDONTWRITEBYTECODE", "1"}};
  for (const auto& [k, v] : env) {
    spec.env[k] = v;
  }
  spec.timeout = timeout;
  auto start = std::chrono::steady_clock::now();
  auto result = workspace::runProcess(spec);
  CliResult out;
  out.durationMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  if (!result) {
    out.err = result.error().message;
    return out;
  }
  out.exitCode = result->exitCode;
  out.out = result->out;
  out.err = result->err;
  return out;
}

}  // namespace alembic_sidecar::testing
