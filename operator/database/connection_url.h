#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace alembic_sidecar::database {

/**
 * A PostgreSQL connection as an SQLAlchemy URL describes it:
 * `postgresql+asyncpg://user:pass@host:5432/db?ssl=require`. The driver scheme is kept so
 * the URL handed to alembic is the one the app uses; libpq gets a key/value conninfo.
 */
struct ConnectionInfo {
  std::string scheme = "postgresql";  // e.g. postgresql+asyncpg
  std::string user;
  std::string password;
  std::string host = "127.0.0.1";
  int port = 5432;
  std::string database;
  std::vector<std::pair<std::string, std::string>> params;

  /** The SQLAlchemy URL with user and password percent-encoded. */
  std::string url() const;
  /** The URL with the password replaced by ****: safe for logs and messages. */
  std::string redactedUrl() const;
  /** "host:port" for messages. */
  std::string endpoint() const;
  /** A libpq conninfo string (key='value'); driver-specific params are translated or dropped. */
  std::string libpqConninfo(int connectTimeoutSeconds = 5) const;
  /** The same server and credentials, another database. */
  ConnectionInfo withDatabase(std::string name) const;
  /**
   * The same server, database and password with another SQLAlchemy scheme (e.g.
   * postgresql+asyncpg); the TLS parameter follows the driver (asyncpg `ssl`, else `sslmode`).
   */
  ConnectionInfo withScheme(std::string newScheme) const;
};

/**
 * Parses postgres:// or postgresql[+driver]:// URLs. Errors (reason InvalidDatabaseUrl) never
 * quote the password.
 */
core::Result<ConnectionInfo> parseConnectionUrl(std::string_view url);

}  // namespace alembic_sidecar::database
