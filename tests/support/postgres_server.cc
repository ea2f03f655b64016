#include "support/postgres_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <sstream>

#include "database/pg_database.h"
#include "workspace/process.h"

namespace alembic_sidecar::testing {
namespace {

struct OwnServer {
  std::string dir;
  ~OwnServer() {
    if (!dir.empty()) {
      auto ignored = database::LocalPostgres::stop(dir, true);
      (void)ignored;
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
};

database::LocalPostgresState startServer(OwnServer& own) {
  const char* shared = std::getenv("ALEMBIC_SIDECAR_TEST_PG_DIR");
  if (shared != nullptr && *shared != '\0') {
    auto running = database::LocalPostgres::running(shared);
    if (running) {
      return *running;
    }
  }
  std::string pattern = (std::filesystem::temp_directory_path() / "alembic-sidecar-pg-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  own.dir = pattern;
  database::LocalPostgresOptions options;
  options.stateDir = own.dir;
  auto started = database::LocalPostgres::start(options, std::make_shared<core::Redactor>());
  if (!started) {
    throw std::runtime_error("cannot start the test PostgreSQL: " + started.error().message);
  }
  return *started;
}

}  // namespace

const database::LocalPostgresState& testServer() {
  static OwnServer own;
  static const database::LocalPostgresState state = startServer(own);
  return state;
}

std::string randomName(size_t length) {
  static std::mutex mutex;
  static std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::lock_guard lock(mutex);
  std::string out;
  for (size_t i = 0; i < length; ++i) {
    out.push_back(kChars[rng() % (sizeof(kChars) - 1)]);
  }
  return out;
}

void execSql(const std::string& dbName, const std::string& sql) {
  pqxx::connection conn{testServer().connection().withDatabase(dbName).libpqConninfo()};
  pqxx::nontransaction tx{conn};
  tx.exec(sql);
}

database::ConnectionInfo createTestDatabase(const std::string& prefix) {
  std::string name = prefix + "_" + randomName();
  execSql("postgres", "CREATE DATABASE " + name);
  // The example app's engine is async: tests hand its URL to alembic as the app would.
  return testServer().connection().withDatabase(name).withScheme("postgresql+asyncpg");
}

std::vector<std::string> databasesWithPrefix(const std::string& prefix) {
  database::PgDatabase admin(testServer().connection().withDatabase("postgres"),
                             std::make_shared<core::Redactor>());
  auto names = admin.listDatabases(prefix);
  if (!names) {
    ADD_FAILURE() << names.error().message;
    return {};
  }
  return *names;
}

std::string dumpDatabase(const std::string& dbName) {
  const auto& server = testServer();
  workspace::ProcessSpec dump;
  dump.argv = {server.binDir + "/pg_dump",  "--no-owner", "-h",        "127.0.0.1", "-p",
               std::to_string(server.port), "-U",         server.user, dbName};
  dump.env = {{"PGPASSWORD", server.password}};
  auto result = workspace::runProcess(dump);
  if (!result || result->exitCode != 0) {
    ADD_FAILURE() << "pg_dump failed: " << (result ? result->err : result.error().message);
    return {};
  }
  std::string out;
  std::istringstream lines(result->out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("\\restrict ", 0) != 0 && line.rfind("\\unrestrict ", 0) != 0) {
      out += line + "\n";
    }
  }
  return out;
}

DatabaseSnapshot snapshotDatabase(const std::string& dbName) {
  DatabaseSnapshot snap;
  const auto& server = testServer();
  workspace::ProcessSpec dump;
  dump.argv = {server.binDir + "/pg_dump", "--schema-only", "--no-owner", "-h", "127.0.0.1",
               "-p", std::to_string(server.port), "-U", server.user, dbName};
  dump.env = {{"PGPASSWORD", server.password}};
  auto result = workspace::runProcess(dump);
  if (!result || result->exitCode != 0) {
    ADD_FAILURE() << "pg_dump failed: " << (result ? result->err : result.error().message);
    return snap;
  }
  // pg_dump brackets its output with a random \restrict key (PostgreSQL 15.14+): not schema.
  std::istringstream lines(result->out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("\\restrict ", 0) != 0 && line.rfind("\\unrestrict ", 0) != 0) {
      snap.schemaDump += line + "\n";
    }
  }
  pqxx::connection conn{server.connection().withDatabase(dbName).libpqConninfo()};
  pqxx::nontransaction tx{conn};
  for (const auto& row : tx.exec(
           "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables "
           "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")) {
    auto table = row[0].as<std::string>();
    snap.rowCounts[table] = tx.exec("SELECT count(*) FROM " + table)[0][0].as<int64_t>();
  }
  auto exists = tx.exec("SELECT to_regclass('alembic_version') IS NOT NULL");
  if (exists[0][0].as<bool>()) {
    for (const auto& row : tx.exec("SELECT version_num FROM alembic_version ORDER BY 1")) {
      snap.versions += (snap.versions.empty() ? "" : ",") + row[0].as<std::string>();
    }
  }
  return snap;
}

}  // namespace alembic_sidecar::testing
