#include "database/local_resolver.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/reasons.h"
#include "database/local_postgres.h"
#include "workspace/process.h"

namespace alembic_sidecar::database {
namespace {

namespace fs = std::filesystem;

constexpr const char* kComposeFiles[] = {"docker-compose.yml", "docker-compose.yaml",
                                         "compose.yml", "compose.yaml",
                                         "tests/docker-compose.yml"};
constexpr const char* kServices[] = {"postgres", "db", "database"};

std::string environmentValue(const YAML::Node& env, const std::string& key) {
  if (env.IsMap() && env[key]) {
    return env[key].as<std::string>();
  }
  if (env.IsSequence()) {
    for (const auto& item : env) {
      std::string entry = item.as<std::string>();
      if (entry.rfind(key + "=", 0) == 0) {
        return entry.substr(key.size() + 1);
      }
    }
  }
  return {};
}

}  // namespace

core::Result<ConnectionInfo> connectionFromCompose(const std::string& composeYaml,
                                                   const std::string& service, int hostPort) {
  try {
    YAML::Node root = YAML::Load(composeYaml);
    YAML::Node svc = root["services"][service];
    if (!svc) {
      return core::Error::terminal(core::reason::kDatabaseUnavailable,
                                   "compose file has no service '" + service + "'");
    }
    YAML::Node env = svc["environment"];
    ConnectionInfo info;
    info.scheme = "postgresql";  // the run picks the driver from the app
    info.host = "127.0.0.1";
    info.port = hostPort;
    info.user = environmentValue(env, "POSTGRES_USER");
    info.password = environmentValue(env, "POSTGRES_PASSWORD");
    info.database = environmentValue(env, "POSTGRES_DB");
    if (info.user.empty()) {
      info.user = "postgres";
    }
    if (info.database.empty()) {
      info.database = info.user;
    }
    return info;
  } catch (const YAML::Exception& e) {
    return core::Error::terminal(core::reason::kDatabaseUnavailable,
                                 std::string("cannot read the compose file: ") + e.what());
  }
}

LocalResolver::LocalResolver(LocalResolverOptions options, core::RedactorPtr redactor)
    : options_(std::move(options)), redactor_(std::move(redactor)) {}

std::optional<ResolvedDatabase> LocalResolver::fromCompose() {
  if (!workspace::findExecutable("docker", std::getenv("PATH") ? std::getenv("PATH") : "")) {
    return std::nullopt;
  }
  for (const char* name : kComposeFiles) {
    fs::path file = fs::path(options_.projectDir) / name;
    if (!fs::exists(file)) {
      continue;
    }
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    for (const char* service : kServices) {
      workspace::ProcessSpec spec;
      spec.argv = {"docker", "compose", "-f", file.string(), "port", service, "5432"};
      spec.timeout = std::chrono::seconds(10);
      auto result = workspace::runProcess(spec);
      if (!result || result->exitCode != 0) {
        continue;  // no engine, service not running, or no such service
      }
      std::string mapped = result->out.substr(0, result->out.find('\n'));
      auto colon = mapped.rfind(':');
      if (colon == std::string::npos) {
        continue;
      }
      int port = std::atoi(mapped.c_str() + colon + 1);
      auto info = connectionFromCompose(text.str(), service, port);
      if (info && port > 0) {
        return ResolvedDatabase{*info, "compose", {}};
      }
    }
  }
  return std::nullopt;
}

core::Result<ResolvedDatabase> LocalResolver::resolve() {
  auto fromUrl = [&](const std::string& url, const char* source) -> core::Result<ResolvedDatabase> {
    auto info = parseConnectionUrl(url);
    if (!info) {
      core::Error error = info.error();
      error.message = std::string(source) + ": " + error.message;
      return error;
    }
    redactor_->add(info->password);
    ResolvedDatabase resolved{*info, source, {}};
    resolved.schemeChosen = true;  // the user's URL, the user's driver
    return resolved;
  };
  if (!options_.flagUrl.empty()) {
    return fromUrl(options_.flagUrl, "flag");
  }
  if (options_.envUrl && !options_.envUrl->empty()) {
    return fromUrl(*options_.envUrl, "env");
  }
  if (options_.allowCompose) {
    if (auto compose = fromCompose()) {
      redactor_->add(compose->connection.password);
      return *compose;
    }
  }
  if (!options_.allowLocalServer) {
    return core::Error::terminal(core::reason::kDatabaseUnavailable,
                                 "no database: pass --database-url or set DATABASE_URL");
  }
  bool wasRunning = static_cast<bool>(LocalPostgres::running(options_.localStateDir));
  LocalPostgresOptions pg;
  pg.stateDir = options_.localStateDir;
  auto state = LocalPostgres::start(pg, redactor_);
  if (!state) {
    return state.error();
  }
  ResolvedDatabase resolved{state->connection(), "local-postgres", {}};
  std::string where = "127.0.0.1:" + std::to_string(state->port);
  resolved.notes.push_back(
      (wasRunning ? "using the throwaway PostgreSQL already running on "
                  : "no --database-url or DATABASE_URL: started a throwaway PostgreSQL on ") +
      where + " (state in " + options_.localStateDir +
      "); stop it with `alembic-sidecar postgres stop --dir " + options_.localStateDir + "`");
  return resolved;
}

}  // namespace alembic_sidecar::database
