#pragma once

#include <string>
#include <vector>

namespace alembic_sidecar::alembic {

/** How the project runs alembic. */
struct AlembicSettings {
  /** e.g. {"alembic"}, {"python", "-m", "alembic"}, {"uv", "run", "alembic"}. */
  std::vector<std::string> command = {"alembic"};
  /** Relative to the project directory. */
  std::string configFile = "alembic.ini";
  /** The environment variable env.py reads the URL from (sqlalchemy.url is set too). */
  std::string urlEnvVar = "DATABASE_URL";
};

}  // namespace alembic_sidecar::alembic
