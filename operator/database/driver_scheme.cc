#include "database/driver_scheme.h"

#include <algorithm>
#include <cstdio>

#include "core/reasons.h"

namespace alembic_sidecar::database {
namespace {

bool sqlalchemy2(const std::string& version) {
  int major = 0;
  return std::sscanf(version.c_str(), "%d", &major) == 1 && major >= 2;
}

}  // namespace

core::Result<std::string> chooseScheme(bool asyncEnv, const std::vector<std::string>& importable,
                                       const std::string& sqlalchemyVersion) {
  auto has = [&](const char* module) {
    return std::find(importable.begin(), importable.end(), module) != importable.end();
  };
  const bool v2 = sqlalchemy2(sqlalchemyVersion);
  if (asyncEnv) {
    if (has("asyncpg")) {
      return std::string("postgresql+asyncpg");
    }
    if (v2 && has("psycopg")) {
      return std::string("postgresql+psycopg");
    }
    return core::Error::terminal(
        core::reason::kNoDatabaseDriver,
        std::string("env.py runs an async engine, but the app's interpreter can import no async "
                    "PostgreSQL driver: install asyncpg") +
            (v2 ? " or psycopg" : "") + ", or pass --database-url with the scheme to use");
  }
  if (has("psycopg2")) {
    return std::string("postgresql+psycopg2");
  }
  if (v2 && has("psycopg")) {
    return std::string("postgresql+psycopg");
  }
  if (has("pg8000")) {
    return std::string("postgresql+pg8000");
  }
  return core::Error::terminal(
      core::reason::kNoDatabaseDriver,
      std::string("the app's interpreter can import no PostgreSQL driver SQLAlchemy ") +
          (v2 ? "2" : "1.4") + " can use synchronously: install psycopg2" +
          (v2 ? ", psycopg" : "") + " or pg8000, or pass --database-url with the scheme to use");
}

}  // namespace alembic_sidecar::database
