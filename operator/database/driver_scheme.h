#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace alembic_sidecar::database {

/**
 * The SQLAlchemy scheme for a database the tool found itself, decided from the app: an
 * async env.py (async_engine_from_config, create_async_engine, run_sync) gets an importable
 * async driver (asyncpg; psycopg's async mode with SQLAlchemy >= 2), any other env.py an
 * importable sync driver (psycopg2, psycopg with SQLAlchemy >= 2, pg8000). Error (reason
 * NoDatabaseDriver) naming what to install when none fits.
 */
core::Result<std::string> chooseScheme(bool asyncEnv, const std::vector<std::string>& importable,
                                       const std::string& sqlalchemyVersion);

}  // namespace alembic_sidecar::database
