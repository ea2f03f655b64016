#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace alembic_sidecar::testing {

struct CliResult {
  int exitCode = -1;
  std::string out;
  std::string err;
  int64_t durationMs = 0;
  /** stdout parsed as JSON (null when it is not JSON). */
  nlohmann::json json() const;
};

/** The finding with `code` in a JSON report, or a null JSON when there is none. */
nlohmann::json findingIn(const nlohmann::json& report, const std::string& code);

/**
 * Runs the built alembic-sidecar binary with argv (no shell) and extra environment. The
 * caller's DATABASE_URL is cleared unless `env` sets it, so tests never pick up the machine's.
 */
CliResult runCli(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {},
                 std::chrono::seconds timeout = std::chrono::seconds(300));

}  // namespace alembic_sidecar::testing
