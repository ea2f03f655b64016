#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "database/connection_url.h"
#include "database/database.h"

namespace alembic_sidecar::database {

/** A database connection and where it came from (status.database.source). */
struct ResolvedDatabase {
  ConnectionInfo connection;
  std::string source;  // flag, env, compose, local-postgres, cnpg/<cluster>, ...
  /** Things the user should know, e.g. how to stop a throwaway server that was started. */
  std::vector<std::string> notes;
  /**
   * The SQLAlchemy scheme came from the user (an explicit URL, a spec's driver, the app's
   * own DATABASE_URL); false: the tool found the database and the run picks the scheme from
   * the app (database/driver_scheme.h).
   */
  bool schemeChosen = false;
};

/** Step 1's "which database": local flag/env/compose/throwaway, or cluster discovery. */
class DatabaseResolver {
 public:
  virtual ~DatabaseResolver() = default;
  virtual core::Result<ResolvedDatabase> resolve() = 0;
};

/** Makes the Database for a resolved connection (PgDatabase in production). */
using DatabaseFactory = std::function<std::unique_ptr<Database>(const ConnectionInfo&)>;

}  // namespace alembic_sidecar::database
