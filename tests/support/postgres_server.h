#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "database/connection_url.h"
#include "database/local_postgres.h"

namespace alembic_sidecar::testing {

/**
 * The PostgreSQL server of this test process: the one ctest's postgres_start fixture started
 * (ALEMBIC_SIDECAR_TEST_PG_DIR), or, when a test binary runs on its own, a server started
 * on first use in a temp dir and stopped at exit.
 */
const database::LocalPostgresState& testServer();

/** Creates a fresh database (random name with `prefix`) and returns its URL's connection. */
database::ConnectionInfo createTestDatabase(const std::string& prefix = "t");

/** Runs SQL on a database of the test server as the superuser. */
void execSql(const std::string& dbName, const std::string& sql);

/** Names of the databases on the test server starting with `prefix`. */
std::vector<std::string> databasesWithPrefix(const std::string& prefix);

/** What a test proves untouched: the schema dump and every table's row count. */
struct DatabaseSnapshot {
  std::string schemaDump;  // pg_dump --schema-only
  std::map<std::string, int64_t> rowCounts;  // schema.table -> rows
  std::string versions;    // alembic_version rows, comma-separated

  bool operator==(const DatabaseSnapshot&) const = default;
};

/** Dumps the schema (pg_dump --schema-only) and counts the rows of every table. */
DatabaseSnapshot snapshotDatabase(const std::string& dbName);

/**
 * The whole database as pg_dump writes it, schema and rows, without pg_dump's random
 * \restrict key: byte-identical text for a database nothing changed.
 */
std::string dumpDatabase(const std::string& dbName);

/** A random lowercase alphanumeric string. */
std::string randomName(size_t length = 8);

}  // namespace alembic_sidecar::testing
