// PgDatabase::buildSchema: a schema script (the live schema's copy) run on a scratch database.

#include <spdlog/spdlog.h>

#include <pqxx/pqxx>

#include "core/reasons.h"
#include "database/pg_database.h"
#include "database/scratch.h"

namespace alembic_sidecar::database {

core::Status PgDatabase::buildSchema(const std::string& name, const SchemaScript& script) {
  // Only ever a database of this run's kind: the statements come from another database's
  // catalog, and they create what they describe.
  const std::string prefix = scratchPrefix(connection_.database);
  if (name == connection_.database || name.rfind(prefix, 0) != 0) {
    return core::Error::terminal(core::reason::kInternalError,
                                 "refusing to build a schema on " + name +
                                     ", which is not a scratch database of " +
                                     connection_.database);
  }
  try {
    pqxx::connection conn{conninfo(name, Access::kAdmin)};
    pqxx::work tx{conn};
    // Function bodies may name tables that come later; views and defaults may need functions.
    tx.exec("SET LOCAL check_function_bodies = off");
    std::vector<const ScriptStatement*> pending;
    for (const auto& s : script.statements) {
      pending.push_back(&s);
    }
    std::vector<std::pair<const ScriptStatement*, std::string>> failed;
    size_t pass = 0;
    while (!pending.empty()) {
      ++pass;
      failed.clear();
      for (const auto* s : pending) {
        tx.exec("SAVEPOINT copy_statement");
        try {
          tx.exec(s->sql);
          tx.exec("RELEASE SAVEPOINT copy_statement");
        } catch (const pqxx::sql_error& e) {
          tx.exec("ROLLBACK TO SAVEPOINT copy_statement");
          failed.emplace_back(s, describe(e));
        }
      }
      if (failed.size() == pending.size()) {
        break;  // no progress: what is left cannot be made
      }
      pending.clear();
      for (const auto& [s, error] : failed) {
        pending.push_back(s);
      }
    }
    if (!failed.empty()) {
      std::string list;
      for (size_t i = 0; i < failed.size() && i < 5; ++i) {
        std::string error = failed[i].second.substr(0, failed[i].second.find('\n'));
        list += (list.empty() ? "" : "; ") + failed[i].first->object + " (" + error + ")";
      }
      if (failed.size() > 5) {
        list += "; and " + std::to_string(failed.size() - 5) + " more";
      }
      return core::Error::terminal(
          core::reason::kLiveSchemaCopyFailed,
          std::to_string(failed.size()) + " of " + std::to_string(script.statements.size()) +
              " statement(s) of the copy could not run on " + name + ": " + list);
    }
    tx.commit();
    spdlog::debug("Schema built database={} statements={} passes={}", name,
                  script.statements.size(), pass);
    return {};
  } catch (const std::exception& e) {
    core::Error error = translate(e, "build the copied schema on " + name);
    if (!error.transient()) {
      error.reason = core::reason::kLiveSchemaCopyFailed;
    }
    return error;
  }
}

}  // namespace alembic_sidecar::database
