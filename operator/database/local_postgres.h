#pragma once

#include <sys/types.h>

#include <string>

#include "core/redactor.h"
#include "core/result.h"
#include "database/connection_url.h"

namespace alembic_sidecar::database {

/** A running throwaway server as recorded in <dir>/state.json. */
struct LocalPostgresState {
  std::string stateDir;
  std::string dataDir;
  std::string logFile;
  std::string binDir;
  pid_t pid = 0;
  int port = 0;
  std::string user;
  std::string password;
  std::string database;  // the app database created at start

  /** URL of the app database (postgresql://...). Holds the password. */
  ConnectionInfo connection() const;
};

struct LocalPostgresOptions {
  std::string stateDir;
  std::string database = "app";
  int port = 0;        // 0: a free loopback port
  std::string binDir;  // empty: the newest /usr/lib/postgresql/*/bin
};

/**
 * The PostgreSQL harness used by the demo, the local CLI and the tests: initdb in a private
 * directory, loopback only, scram-sha-256 with a random password, started as a detached
 * daemon and stopped by pid. As root it runs as the `postgres` (or `nobody`) system user,
 * since PostgreSQL refuses to run as root.
 */
class LocalPostgres {
 public:
  /** Returns the running server of stateDir, starting (and if needed creating) it. */
  static core::Result<LocalPostgresState> start(const LocalPostgresOptions& options,
                                                const core::RedactorPtr& redactor);
  /** The server recorded in stateDir if its process is alive. */
  static core::Result<LocalPostgresState> running(const std::string& stateDir);
  /** Stops the server (fast shutdown, SIGKILL after 30 s); `remove` deletes its files. */
  static core::Status stop(const std::string& stateDir, bool remove);
  /** Where the CLI keeps its throwaway server: /tmp/alembic-sidecar-<uid>/postgres. */
  static std::string defaultStateDir();
};

}  // namespace alembic_sidecar::database
