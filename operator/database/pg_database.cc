#include "database/pg_database.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "core/reasons.h"
#include "database/scratch.h"

namespace alembic_sidecar::database {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kUserSchemas[] =
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
    "AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

std::string notExtensionMember(const std::string& catalog, const std::string& oidExpr) {
  return "NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '" + catalog +
         "'::regclass AND dep.objid = " + oidExpr + " AND dep.deptype = 'e')";
}

/** Each query yields (kind, key, definition). Keys of table members are schema.table.member. */
std::vector<std::string> catalogQueries() {
  const std::string userSchemas = kUserSchemas;
  return {
      // Tables.
      "SELECT 'table', n.nspname || '.' || c.relname, 'relkind ' || c.relkind::text || ' "
      "persistence ' "
      "|| c.relpersistence::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind IN ('r', 'p', 'f') AND " +
          userSchemas + " AND " + notExtensionMember("pg_class", "c.oid"),
      // Columns of tables and views.
      "SELECT 'column', n.nspname || '.' || c.relname || '.' || a.attname, "
      "format_type(a.atttypid, a.atttypmod) "
      "|| CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE ' NULL' END "
      "|| CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS ' || "
      "   pg_get_expr(d.adbin, d.adrelid) "
      "        ELSE COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') END "
      "|| CASE a.attidentity WHEN 'a' THEN ' IDENTITY ALWAYS' WHEN 'd' THEN ' IDENTITY BY "
      "DEFAULT' ELSE '' END "
      "|| CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation "
      "        THEN ' COLLATE ' || quote_ident(co.collname) ELSE '' END "
      "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
      "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid "
      "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
      "LEFT JOIN pg_collation co ON co.oid = a.attcollation "
      "WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped "
      "AND " +
          userSchemas + " AND " + notExtensionMember("pg_class", "c.oid"),
      // Indexes (keyed by their table).
      "SELECT 'index', n.nspname || '.' || ct.relname || '.' || ci.relname, "
      "pg_get_indexdef(i.indexrelid) FROM pg_index i "
      "JOIN pg_class ci ON ci.oid = i.indexrelid JOIN pg_class ct ON ct.oid = i.indrelid "
      "JOIN pg_namespace n ON n.oid = ci.relnamespace WHERE " +
          userSchemas + " AND " + notExtensionMember("pg_class", "ct.oid"),
      // Table constraints.
      "SELECT 'constraint', n.nspname || '.' || c.relname || '.' || con.conname, "
      "con.contype::text || ' ' || pg_get_constraintdef(con.oid) FROM pg_constraint con "
      "JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE " +
          userSchemas + " AND " + notExtensionMember("pg_class", "c.oid"),
      // Native enum types and their labels in order.
      "SELECT 'enum', n.nspname || '.' || t.typname, "
      "string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_type t "
      "JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace "
      "WHERE " +
          userSchemas + " AND " + notExtensionMember("pg_type", "t.oid") +
          " GROUP BY n.nspname, t.typname",
      // Sequences, with what owns them.
      "SELECT 'sequence', n.nspname || '.' || c.relname, format_type(s.seqtypid, NULL) || "
      "' start ' || s.seqstart || ' increment ' || s.seqincrement || ' min ' || s.seqmin || "
      "' max ' || s.seqmax || ' cache ' || s.seqcache || "
      "CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END || COALESCE(( "
      "  SELECT ' owned by ' || oc.relname || '.' || oa.attname FROM pg_depend d "
      "  JOIN pg_class oc ON oc.oid = d.refobjid "
      "  JOIN pg_attribute oa ON oa.attrelid = d.refobjid AND oa.attnum = d.refobjsubid "
      "  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid "
      "  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1), '') "
      "FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " +
          userSchemas + " AND " + notExtensionMember("pg_class", "c.oid"),
      // Views and materialized views.
      "SELECT CASE c.relkind WHEN 'm' THEN 'materialized-view' ELSE 'view' END, "
      "n.nspname || '.' || c.relname, pg_get_viewdef(c.oid, true) FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND " +
          userSchemas + " AND " + notExtensionMember("pg_class", "c.oid"),
      // Functions and procedures (digest of the definition keeps messages short).
      "SELECT 'function', n.nspname || '.' || p.proname || '(' || "
      "pg_get_function_identity_arguments(p.oid) || ')', 'md5 ' || md5(pg_get_functiondef(p.oid)) "
      "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
      "WHERE p.prokind IN ('f', 'p') AND " +
          userSchemas + " AND " + notExtensionMember("pg_proc", "p.oid"),
      // Triggers written by people (not the internal ones behind foreign keys).
      "SELECT 'trigger', n.nspname || '.' || c.relname || '.' || tg.tgname, "
      "pg_get_triggerdef(tg.oid) FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT tg.tgisinternal AND " +
          userSchemas,
      // Extensions (their member objects are left out above).
      "SELECT 'extension', e.extname, 'schema ' || n.nspname FROM pg_extension e "
      "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql'",
  };
}

bool contains(const std::string& haystack, const char* needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string hostName() {
  char buf[256] = {};
  return ::gethostname(buf, sizeof(buf) - 1) == 0 ? std::string(buf) : std::string("unknown");
}

std::string utcNow() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The lease's session names itself in pg_stat_activity and never times out idle (the lock
// must live exactly as long as the run).
constexpr char kLeaseSession[] = " application_name='alembic-sidecar scratch lease'";

}  // namespace

/** The lock's connection and the owner it stands for; shared by the lease and its Database. */
struct PgLeaseState {
  std::unique_ptr<pqxx::connection> connection;
  ScratchOwner owner;
};

namespace {

class PgScratchLease : public ScratchLease {
 public:
  explicit PgScratchLease(std::shared_ptr<PgLeaseState> state) : state_(std::move(state)) {}
  // Closing the session releases the lock; no unlock statement needed (nor possible after a
  // broken connection).
  ~PgScratchLease() override = default;

  const ScratchOwner& owner() const override { return state_->owner; }

  bool held() override {
    try {
      pqxx::nontransaction tx{*state_->connection};
      auto row = tx.exec_params1(
          "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
          "AND pid = pg_backend_pid() AND objsubid = 2 AND classid::bigint = $1 "
          "AND objid::bigint = $2",
          state_->owner.lockClass, state_->owner.lockKey);
      return row[0].as<int64_t>() > 0;
    } catch (const std::exception& e) {
      spdlog::warn("Scratch lease lost key={}:{} error={}", state_->owner.lockClass,
                   state_->owner.lockKey, e.what());
      return false;
    }
  }

 private:
  std::shared_ptr<PgLeaseState> state_;
};

}  // namespace

/** Open connections by database name; a broken one is replaced on next use. */
struct PgDatabase::Sessions {
  std::map<std::string, std::unique_ptr<pqxx::connection>> open;

  pqxx::connection& to(const std::string& dbName, const std::string& conninfo) {
    auto& conn = open[dbName];
    if (!conn || !conn->is_open()) {
      conn = std::make_unique<pqxx::connection>(conninfo);
    }
    return *conn;
  }
  /** Forgets a connection that failed, so the next call reconnects. */
  void drop(const std::string& dbName) { open.erase(dbName); }
};

PgDatabase::~PgDatabase() = default;

PgDatabase::PgDatabase(ConnectionInfo connection, core::RedactorPtr redactor, Sleeper sleeper,
                       SessionLimits limits)
    : connection_(std::move(connection)),
      redactor_(std::move(redactor)),
      sleeper_(sleeper ? std::move(sleeper) : Sleeper([](std::chrono::milliseconds d) {
        std::this_thread::sleep_for(d);
      })),
      limits_(limits),
      sessions_(std::make_unique<Sessions>()) {
  if (redactor_) {
    redactor_->add(connection_.password);
  }
}

std::string PgDatabase::conninfo(const std::string& dbName, Access access,
                                 int connectTimeoutSeconds) const {
  ConnectionInfo info = dbName.empty() ? connection_ : connection_.withDatabase(dbName);
  auto ms = [](std::chrono::milliseconds d) {
    return std::to_string(std::max<int64_t>(1, d.count()));
  };
  const bool admin = access == Access::kAdmin;
  std::string options =
      "-c statement_timeout=" +
      ms(admin ? std::max(limits_.statementTimeout, limits_.adminStatementTimeout)
               : limits_.statementTimeout) +
      " -c lock_timeout=" + ms(limits_.lockTimeout) +
      " -c idle_in_transaction_session_timeout=" + ms(limits_.idleInTransactionTimeout) +
      (admin ? "" : " -c default_transaction_read_only=on");
  // After the URL's own options, so that ours win where both set one.
  auto own = std::find_if(info.params.begin(), info.params.end(),
                          [](const auto& p) { return p.first == "options"; });
  if (own == info.params.end()) {
    info.params.emplace_back("options", options);
  } else {
    own->second += " " + options;
  }
  return info.libpqConninfo(connectTimeoutSeconds);
}

std::string PgDatabase::describe(const std::exception& e) const {
  std::string text = redactor_ ? redactor_->scrub(e.what()) : std::string(e.what());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

core::Error PgDatabase::translate(const std::exception& e, const std::string& what) const {
  std::string text = describe(e);
  std::string where = "PostgreSQL at " + connection_.endpoint();
  if (contains(text, "authentication failed") || contains(text, "no password supplied") ||
      contains(text, "no pg_hba.conf entry")) {
    return core::Error::terminal(core::reason::kDatabaseUnavailable,
                                 what + ": " + where + " refused the credentials of user '" +
                                     connection_.user + "': " + text);
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    if (sql->sqlstate() == "3D000") {
      return core::Error::terminal(core::reason::kDatabaseNotFound, what + ": " + text);
    }
    if (sql->sqlstate().rfind("42501", 0) == 0) {
      return core::Error::terminal(core::reason::kScratchDatabaseFailed,
                                   what + ": permission denied on " + where + ": " + text);
    }
    return core::Error::terminal(core::reason::kInternalError, what + ": " + text);
  }
  if (contains(text, "does not exist") && contains(text, "database")) {
    return core::Error::terminal(core::reason::kDatabaseNotFound, what + ": " + text);
  }
  return core::Error::retryable(core::reason::kDatabaseUnavailable,
                                what + ": cannot reach " + where + ": " + text);
}

core::Status PgDatabase::probe(const ProbePolicy& policy) {
  const auto start = Clock::now();
  auto delay = policy.initialDelay;
  int attempts = 0;
  while (true) {
    ++attempts;
    try {
      pqxx::connection conn{conninfo("", Access::kReadOnly, policy.connectTimeoutSeconds)};
      pqxx::nontransaction tx{conn};
      tx.exec("SELECT 1");
      return {};
    } catch (const std::exception& e) {
      core::Error error = translate(e, "probe");
      auto elapsed = Clock::now() - start;
      if (!error.transient() || elapsed + delay >= policy.deadline) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
        if (error.reason == core::reason::kDatabaseUnavailable && error.transient()) {
          error.message = "cannot reach PostgreSQL at " + connection_.endpoint() + " after " +
                          std::to_string(attempts) + " attempts in " + std::to_string(ms) +
                          " ms: " + describe(e);
        }
        return error;
      }
      spdlog::debug("Database not ready endpoint={} attempt={}", connection_.endpoint(), attempts);
      sleeper_(delay);
      delay = std::min(policy.maxDelay, delay * 2);
    }
  }
}

core::Status PgDatabase::createDatabase(const std::string& name) {
  try {
    pqxx::connection conn{conninfo("", Access::kAdmin)};
    pqxx::nontransaction tx{conn};
    tx.exec("CREATE DATABASE " + tx.quote_name(name));
    if (auto lease = lease_.lock()) {
      // Without the mark the database is only swept after kScratchMaxAge; the run goes on.
      try {
        tx.exec("COMMENT ON DATABASE " + tx.quote_name(name) + " IS " +
                tx.quote(formatScratchMark(lease->owner)));
      } catch (const std::exception& e) {
        spdlog::warn("Cannot mark scratch database name={} error={}", name, describe(e));
      }
    }
    return {};
  } catch (const std::exception& e) {
    core::Error error = translate(e, "create database " + name);
    if (!error.transient()) {
      error.reason = core::reason::kScratchDatabaseFailed;
    }
    return error;
  }
}

core::Status PgDatabase::dropDatabase(const std::string& name) {
  sessions_->drop(name);
  try {
    pqxx::connection conn{conninfo("", Access::kAdmin)};
    pqxx::nontransaction tx{conn};
    // WITH (FORCE) ends sessions alembic may have left behind (PostgreSQL 13+).
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name) + " WITH (FORCE)");
    return {};
  } catch (const std::exception& e) {
    return translate(e, "drop database " + name);
  }
}

core::Result<std::vector<std::string>> PgDatabase::listDatabases(const std::string& prefix) {
  try {
    pqxx::connection conn{conninfo("")};
    pqxx::nontransaction tx{conn};
    auto rows = tx.exec_params(
        "SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1 ORDER BY datname",
        prefix);
    std::vector<std::string> names;
    for (const auto& row : rows) {
      names.push_back(row[0].as<std::string>());
    }
    return names;
  } catch (const std::exception& e) {
    return translate(e, "list databases");
  }
}

const std::string& fingerprintStatement() {
  // Every catalog query in one statement: one round trip on the database's open session.
  static const std::string kAll = [] {
    std::string all;
    for (const auto& query : catalogQueries()) {
      all += (all.empty() ? "" : " UNION ALL ") + ("(" + query + ")");
    }
    return all;
  }();
  return kAll;
}

core::Result<std::vector<CatalogObject>> PgDatabase::readCatalog(const std::string& dbName) {
  const std::string& kAll = fingerprintStatement();
  try {
    pqxx::work tx{sessions_->to(dbName, conninfo(dbName))};
    tx.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
    std::vector<CatalogObject> objects;
    for (const auto& row : tx.exec(kAll)) {
      objects.push_back(CatalogObject{row[0].as<std::string>(), row[1].as<std::string>(),
                                      row[2].is_null() ? "" : row[2].as<std::string>()});
    }
    tx.commit();
    return objects;
  } catch (const std::exception& e) {
    sessions_->drop(dbName);
    return translate(e, "read the schema of " + dbName);
  }
}

core::Result<SchemaFingerprint> PgDatabase::fingerprint(const std::string& dbName) {
  auto catalog = readCatalog(dbName);
  if (!catalog) {
    return catalog.error();
  }
  return SchemaFingerprint::fromCatalog(*catalog);
}

core::Result<int64_t> PgDatabase::countRows(const std::string& dbName, const std::string& schema,
                                            const std::string& table, int64_t limit) {
  try {
    pqxx::connection conn{conninfo(dbName)};
    pqxx::nontransaction tx{conn};
    auto exists = tx.exec_params(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
        schema, table);
    if (exists.empty()) {
      return int64_t{0};
    }
    auto row = tx.exec1("SELECT count(*) FROM (SELECT 1 FROM " + tx.quote_name(schema) + "." +
                        tx.quote_name(table) + " LIMIT " + std::to_string(limit) + ") AS s");
    return row[0].as<int64_t>();
  } catch (const std::exception& e) {
    return translate(e, "count rows of " + schema + "." + table);
  }
}

core::Result<std::vector<std::string>> PgDatabase::enumLabels(const std::string& dbName,
                                                              const std::string& typeName) {
  try {
    pqxx::connection conn{conninfo(dbName)};
    pqxx::nontransaction tx{conn};
    auto rows = tx.exec_params(
        "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
        "JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE t.typname = $1 AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "ORDER BY e.enumsortorder",
        typeName);
    std::vector<std::string> labels;
    for (const auto& row : rows) {
      labels.push_back(row[0].as<std::string>());
    }
    return labels;
  } catch (const std::exception& e) {
    return translate(e, "read enum " + typeName);
  }
}

core::Result<std::vector<core::Result<QueryRows>>> PgDatabase::queryReadOnly(
    const std::string& dbName, const std::vector<ReadOnlyQuery>& queries,
    const ReadOnlyLimits& limits) {
  std::unique_ptr<pqxx::connection> conn;
  try {
    conn = std::make_unique<pqxx::connection>(conninfo(dbName));
    pqxx::nontransaction session{*conn};
    if (!limits.role.empty()) {
      session.exec("SET ROLE " + session.quote_name(limits.role));
      auto super = session.exec1("SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
      if (super[0].as<bool>()) {
        return core::Error::terminal(core::reason::kDatabaseUnavailable,
                                     "role " + limits.role +
                                         " is a superuser; the live checks take a role without "
                                         "superuser (--live-role)");
      }
    }
  } catch (const std::exception& e) {
    return translate(e, "connect read-only to " + dbName +
                            (limits.role.empty() ? "" : " as role " + limits.role));
  }
  std::vector<core::Result<QueryRows>> results;
  for (const auto& query : queries) {
    try {
      pqxx::work tx{*conn};
      // Before any query of the transaction; SET LOCAL ends with it.
      tx.exec("SET TRANSACTION ISOLATION LEVEL READ COMMITTED READ ONLY");
      tx.exec("SET LOCAL lock_timeout = " + std::to_string(limits.lockTimeout.count()));
      tx.exec("SET LOCAL standard_conforming_strings = on");
      // Built-in functions resolve first, whatever search_path the role or database sets.
      tx.exec(
          "SELECT set_config('search_path', 'pg_catalog, ' || "
          "current_setting('search_path'), true)");
      tx.exec("SET LOCAL statement_timeout = " + std::to_string(limits.statementTimeout.count()));
      // exec_params sends one statement through the extended protocol, which refuses a
      // second one ("SELECT 1; COMMIT; ..."), with or without parameters.
      auto result = tx.exec_params(query.sql, pqxx::prepare::make_dynamic_params(query.params));
      QueryRows rows;
      rows.reserve(result.size());
      for (const auto& row : result) {
        std::vector<std::optional<std::string>> values;
        values.reserve(row.size());
        for (const auto& field : row) {
          values.push_back(field.is_null() ? std::nullopt
                                           : std::optional<std::string>(field.c_str()));
        }
        rows.push_back(std::move(values));
      }
      tx.commit();
      results.emplace_back(std::move(rows));
    } catch (const pqxx::sql_error& e) {
      const std::string state = e.sqlstate();
      if (state == "57014" || state == "55P03") {  // statement_timeout / lock_timeout
        results.emplace_back(core::Error::terminal(
            core::reason::kTimeout,
            std::string(state == "57014" ? "statement_timeout" : "lock_timeout") + " (" +
                std::to_string(
                    (state == "57014" ? limits.statementTimeout : limits.lockTimeout).count()) +
                " ms) cancelled the query: " + describe(e)));
      } else {
        results.emplace_back(core::Error::terminal(core::reason::kInternalError, describe(e)));
      }
    } catch (const pqxx::broken_connection& e) {
      return translate(e, "read-only query on " + dbName);
    } catch (const std::exception& e) {
      results.emplace_back(core::Error::terminal(core::reason::kInternalError, describe(e)));
    }
  }
  return results;
}

core::Result<std::vector<std::string>> PgDatabase::appliedRevisions(
    const std::string& dbName, const std::string& versionTable) {
  try {
    pqxx::nontransaction tx{sessions_->to(dbName, conninfo(dbName))};
    auto dot = versionTable.find('.');
    std::string qualified = dot == std::string::npos
                                ? tx.quote_name(versionTable)
                                : tx.quote_name(versionTable.substr(0, dot)) + "." +
                                      tx.quote_name(versionTable.substr(dot + 1));
    auto exists = tx.exec_params("SELECT to_regclass($1) IS NOT NULL", qualified);
    std::vector<std::string> revisions;
    if (!exists.empty() && exists[0][0].as<bool>()) {
      for (const auto& row : tx.exec("SELECT version_num FROM " + qualified + " ORDER BY 1")) {
        revisions.push_back(row[0].as<std::string>());
      }
    }
    return revisions;
  } catch (const std::exception& e) {
    sessions_->drop(dbName);
    return translate(e, "read " + versionTable + " of " + dbName);
  }
}

core::Result<std::string> PgDatabase::identity(const std::string& dbName) {
  // The same text the driver's fence computes on every connection env.py opens
  // (operator/alembic/driver/alembic_sidecar_driver/fence.py, IDENTITY_SQL).
  try {
    pqxx::nontransaction tx{sessions_->to(dbName, conninfo(dbName))};
    auto rows = tx.exec(
        "SELECT current_database() || ':' || d.oid::text || ':' || "
        "extract(epoch from pg_postmaster_start_time())::text "
        "FROM pg_database d WHERE d.datname = current_database()");
    if (rows.empty()) {
      return core::Error::terminal(core::reason::kDatabaseNotFound,
                                   "cannot read the identity of database " + dbName);
    }
    return rows[0][0].as<std::string>();
  } catch (const std::exception& e) {
    sessions_->drop(dbName);
    return translate(e, "read the identity of " + dbName);
  }
}

core::Result<std::unique_ptr<ScratchLease>> PgDatabase::claimScratch(const std::string& name) {
  auto state = std::make_shared<PgLeaseState>();
  state->owner.lockDatabase = connection_.database;
  state->owner.lockClass = kScratchLockClass;
  state->owner.lockKey = scratchLockKey(name);
  state->owner.host = hostName();
  state->owner.pid = static_cast<int64_t>(::getpid());
  state->owner.started = utcNow();
  try {
    state->connection = std::make_unique<pqxx::connection>(conninfo("") + kLeaseSession);
    pqxx::nontransaction tx{*state->connection};
    auto version = tx.exec1("SELECT current_setting('server_version_num')::int");
    if (version[0].as<int>() >= 140000) {
      tx.exec("SET idle_session_timeout = 0");
    }
    auto got = tx.exec_params1("SELECT pg_try_advisory_lock($1, $2)", state->owner.lockClass,
                               state->owner.lockKey);
    if (!got[0].as<bool>()) {
      return core::Error::terminal(
          core::reason::kScratchDatabaseFailed,
          "the lease of scratch database " + name + " is held by another session; run again");
    }
  } catch (const std::exception& e) {
    core::Error error = translate(e, "claim scratch database " + name);
    if (!error.transient()) {
      error.reason = core::reason::kScratchDatabaseFailed;
    }
    return error;
  }
  lease_ = state;
  if (auto created = createDatabase(name); !created) {
    lease_.reset();
    return created.error();
  }
  spdlog::debug("Scratch database claimed name={} lock={}:{}", name, state->owner.lockClass,
                state->owner.lockKey);
  return std::unique_ptr<ScratchLease>(std::make_unique<PgScratchLease>(std::move(state)));
}

core::Result<std::vector<ScratchDatabase>> PgDatabase::listScratch(const std::string& prefix) {
  try {
    pqxx::connection conn{conninfo("")};
    pqxx::nontransaction tx{conn};
    auto rows = tx.exec_params(
        "SELECT d.datname, shobj_description(d.oid, 'pg_database') FROM pg_database d "
        "WHERE left(d.datname, length($1)) = $1 ORDER BY d.datname",
        prefix);
    std::vector<ScratchDatabase> found;
    for (const auto& row : rows) {
      ScratchDatabase db;
      db.name = row[0].as<std::string>();
      if (!row[1].is_null()) {
        db.owner = parseScratchMark(row[1].as<std::string>());
      }
      if (db.owner) {
        // pg_locks shows the locks of every database; the lease's lives in lockDatabase.
        auto alive = tx.exec_params1(
            "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database ld ON ld.oid = l.database "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
            "AND ld.datname = $1 AND l.classid::bigint = $2 AND l.objid::bigint = $3)",
            db.owner->lockDatabase, db.owner->lockClass, db.owner->lockKey);
        db.ownerAlive = alive[0].as<bool>();
      }
      found.push_back(std::move(db));
    }
    return found;
  } catch (const std::exception& e) {
    return translate(e, "list scratch databases");
  }
}

}  // namespace alembic_sidecar::database
