#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "database/database.h"
#include "database/schema_script.h"

namespace alembic_sidecar::database {

/**
 * The one read-only statement that reads from pg_catalog what a schema-only copy needs:
 * schemas, extensions, enum / domain / composite types, sequences and their settings,
 * functions, tables with their columns, constraints, indexes, views, triggers and the
 * comments of tables and columns. Never a row of a user table. Rows: kind, ord, schema,
 * name, a, b, c, d (what a..d hold depends on kind; see live_schema.cc). PostgreSQL's
 * deparse functions (pg_get_expr, pg_get_indexdef, pg_get_viewdef, ...) take ACCESS SHARE
 * on the relation they describe, the lock a catalog read takes on the catalog; send it through
 * Database::queryReadOnly so lock_timeout and statement_timeout bound it.
 */
ReadOnlyQuery liveSchemaQuery();

/** The rows of the version table (`table` or `schema.table`); none when it does not exist. */
ReadOnlyQuery versionRowsQuery(const std::string& versionTable);

/** Tables of the user schemas as "schema.table" (a catalog read; no lock on any table). */
ReadOnlyQuery liveTablesQuery();

/**
 * Builds the DDL of a schema-only copy from the rows of liveSchemaQuery(), then the INSERTs
 * of `versionRows` into `versionTable`. Pure. Error (InternalError) when a row is malformed.
 */
core::Result<SchemaScript> buildSchemaScript(const QueryRows& rows, const std::string& versionTable,
                                             const std::vector<std::string>& versionRows);

/** "schema"."name" with PostgreSQL's identifier quoting (always quoted). */
std::string quoteQualified(const std::string& schema, const std::string& name);
/** A `table` or `schema.table` name, quoted. */
std::string quoteTableName(const std::string& dottedName);

}  // namespace alembic_sidecar::database
