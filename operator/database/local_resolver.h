#pragma once

#include <optional>
#include <string>

#include "core/redactor.h"
#include "database/resolver.h"
#include "workspace/workspace.h"

namespace alembic_sidecar::database {

struct LocalResolverOptions {
  std::string flagUrl;                 // --database-url
  std::optional<std::string> envUrl;   // DATABASE_URL of the caller's environment
  std::string projectDir;              // where to look for a compose file
  std::string localStateDir;           // the throwaway server's directory
  bool allowCompose = true;
  bool allowLocalServer = true;
};

/**
 * Step 1 on a laptop: --database-url, then DATABASE_URL, then the mapped port of a compose
 * file's postgres service when a Docker engine answers, else a throwaway PostgreSQL started
 * from the machine's binaries (kept running for the next run).
 */
class LocalResolver : public DatabaseResolver {
 public:
  LocalResolver(LocalResolverOptions options, core::RedactorPtr redactor);
  core::Result<ResolvedDatabase> resolve() override;

 private:
  std::optional<ResolvedDatabase> fromCompose();

  LocalResolverOptions options_;
  core::RedactorPtr redactor_;
};

/**
 * The connection a compose file describes for its postgres service (POSTGRES_USER /
 * _PASSWORD / _DB environment, defaults postgres/postgres/postgres) at the given mapped port.
 */
core::Result<ConnectionInfo> connectionFromCompose(const std::string& composeYaml,
                                                   const std::string& service, int hostPort);

}  // namespace alembic_sidecar::database
