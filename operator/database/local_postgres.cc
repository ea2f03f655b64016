#include "database/local_postgres.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/random.h"
#include "core/reasons.h"
#include "database/pg_database.h"
#include "workspace/process.h"

namespace alembic_sidecar::database {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kStateFile[] = "state.json";
constexpr auto kStopTimeout = std::chrono::seconds(30);

core::Error failed(const std::string& message) {
  return core::Error::terminal(core::reason::kLocalPostgresFailed, message);
}

std::string findBinDir() {
  std::vector<fs::path> candidates;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    if (fs::exists(entry.path() / "bin" / "initdb")) {
      candidates.push_back(entry.path() / "bin");
    }
  }
  if (candidates.empty()) {
    return {};
  }
  // Version directories are numbers: pick the highest.
  std::sort(candidates.begin(), candidates.end(), [](const fs::path& a, const fs::path& b) {
    return std::stoi(a.parent_path().filename().string()) <
           std::stoi(b.parent_path().filename().string());
  });
  return candidates.back().string();
}

core::Result<int> freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return failed("cannot create a socket to find a free port");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  if (port <= 0) {
    return failed("cannot find a free loopback port");
  }
  return port;
}

/** The account the server runs as: ourselves, or a system user when we are root. */
struct ServiceUser {
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
};

ServiceUser serviceUser() {
  if (::geteuid() != 0) {
    return {};
  }
  for (const char* name : {"postgres", "nobody"}) {
    if (const passwd* pw = ::getpwnam(name)) {
      return {pw->pw_uid, pw->pw_gid};
    }
  }
  return {};
}

bool processAlive(pid_t pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) {
    return false;
  }
  // A daemon reparented to a PID 1 that does not reap stays a zombie: that is dead too.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pidField, comm, state;
  if (stat >> pidField >> comm >> state) {
    return state != "Z";
  }
  return true;
}

std::string tail(const std::string& path, size_t maxBytes = 2000) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > maxBytes ? text.substr(text.size() - maxBytes) : text;
}

core::Status writeState(const LocalPostgresState& s) {
  json j = {{"dataDir", s.dataDir}, {"logFile", s.logFile}, {"binDir", s.binDir},
            {"pid", s.pid},         {"port", s.port},       {"user", s.user},
            {"password", s.password}, {"database", s.database}};
  fs::path file = fs::path(s.stateDir) / kStateFile;
  fs::path tmp = file.string() + ".tmp";
  {
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
      return failed("cannot write " + tmp.string());
    }
    std::string text = j.dump(2);
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok) {
      return failed("cannot write " + tmp.string());
    }
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) {
    return failed("cannot write " + file.string() + ": " + ec.message());
  }
  return {};
}

core::Result<LocalPostgresState> readState(const std::string& stateDir) {
  std::ifstream in(fs::path(stateDir) / kStateFile);
  if (!in) {
    return failed("no local PostgreSQL recorded in " + stateDir);
  }
  try {
    json j = json::parse(in);
    LocalPostgresState s;
    s.stateDir = stateDir;
    s.dataDir = j.at("dataDir").get<std::string>();
    s.logFile = j.at("logFile").get<std::string>();
    s.binDir = j.at("binDir").get<std::string>();
    s.pid = j.at("pid").get<pid_t>();
    s.port = j.at("port").get<int>();
    s.user = j.at("user").get<std::string>();
    s.password = j.at("password").get<std::string>();
    s.database = j.at("database").get<std::string>();
    return s;
  } catch (const std::exception& e) {
    return failed("unreadable " + (fs::path(stateDir) / kStateFile).string() + ": " + e.what());
  }
}

core::Status chownTree(const fs::path& path, const ServiceUser& user) {
  if (!user.uid) {
    return {};
  }
  if (::chown(path.c_str(), *user.uid, *user.gid) != 0) {
    return failed("cannot hand " + path.string() + " to the postgres service user");
  }
  return {};
}

core::Status runAs(const std::vector<std::string>& argv, const ServiceUser& user,
                   const std::string& what) {
  workspace::ProcessSpec spec;
  spec.argv = argv;
  spec.uid = user.uid;
  spec.gid = user.gid;
  spec.cwd = "/";
  spec.env = {{"LC_ALL", "C.UTF-8"}};
  spec.timeout = std::chrono::minutes(2);
  auto result = workspace::runProcess(spec);
  if (!result) {
    return failed(what + ": " + result.error().message);
  }
  if (result->exitCode != 0) {
    return failed(what + " failed (exit " + std::to_string(result->exitCode) +
                  "): " + result->err + result->out);
  }
  return {};
}

/** Creates the cluster: data dir owned by the service user, scram auth, loopback only. */
core::Result<LocalPostgresState> initCluster(const LocalPostgresOptions& options,
                                             const ServiceUser& user) {
  LocalPostgresState s;
  s.stateDir = options.stateDir;
  s.binDir = options.binDir.empty() ? findBinDir() : options.binDir;
  if (s.binDir.empty()) {
    return failed(
        "no PostgreSQL server binaries under /usr/lib/postgresql (install postgresql-15)");
  }
  s.user = "postgres";
  s.password = core::randomHex(16);
  s.database = options.database;
  if (user.uid) {
    // The service user cannot traverse a root-only home; keep the cluster under /tmp.
    std::string pattern = "/tmp/alembic-sidecar-pgdata-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      return failed("cannot create a data directory under /tmp");
    }
    s.dataDir = (fs::path(pattern) / "data").string();
    if (auto st = chownTree(pattern, user); !st) {
      return st.error();
    }
  } else {
    s.dataDir = (fs::path(options.stateDir) / "data").string();
  }
  s.logFile = (fs::path(options.stateDir) / "postgres.log").string();
  fs::path pwfile = fs::path(s.dataDir).parent_path() / "pwfile";
  {
    int fd = ::open(pwfile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
      return failed("cannot write " + pwfile.string());
    }
    std::string line = s.password + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (!ok || !chownTree(pwfile, user)) {
      return failed("cannot write " + pwfile.string());
    }
  }
  auto status = runAs({s.binDir + "/initdb", "-D", s.dataDir, "-U", s.user,
                       "--auth=scram-sha-256", "--pwfile=" + pwfile.string(), "-E", "UTF8",
                       "--locale=C", "--no-sync"},
                      user, "initdb");
  std::error_code ec;
  fs::remove(pwfile, ec);
  if (!status) {
    return status.error();
  }
  return s;
}

core::Status launch(LocalPostgresState& s, const ServiceUser& user, int requestedPort) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto port = requestedPort > 0 ? core::Result<int>(requestedPort) : freeLoopbackPort();
    if (!port) {
      return port.error();
    }
    s.port = *port;
    std::string socketDir = fs::path(s.dataDir).string();
    workspace::ProcessSpec spec;
    spec.argv = {s.binDir + "/postgres", "-D", s.dataDir, "-p", std::to_string(s.port), "-k",
                 socketDir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c",
                 "synchronous_commit=off", "-c", "full_page_writes=off"};
    spec.uid = user.uid;
    spec.gid = user.gid;
    spec.cwd = "/";
    spec.env = {{"LC_ALL", "C.UTF-8"}};
    auto pid = workspace::spawnDetached(spec, s.logFile);
    if (!pid) {
      return failed("cannot start postgres: " + pid.error().message);
    }
    s.pid = *pid;
    auto redactor = std::make_shared<core::Redactor>();
    PgDatabase db(s.connection().withDatabase("postgres"), redactor);
    ProbePolicy policy;
    policy.deadline = std::chrono::seconds(30);
    policy.initialDelay = std::chrono::milliseconds(50);
    policy.maxDelay = std::chrono::milliseconds(500);
    for (auto waited = std::chrono::milliseconds(0); waited < policy.deadline;
         waited += std::chrono::milliseconds(100)) {
      if (!processAlive(s.pid)) {
        break;
      }
      ProbePolicy once = policy;
      once.deadline = std::chrono::milliseconds(1);
      if (db.probe(once)) {
        return {};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::string log = tail(s.logFile);
    ::kill(s.pid, SIGKILL);
    bool portTaken = log.find("could not bind") != std::string::npos ||
                     log.find("Address already in use") != std::string::npos;
    if (!portTaken || requestedPort > 0) {
      return failed("postgres did not become ready (log " + s.logFile + "): " + log);
    }
  }
  return failed("postgres could not bind a free port after 3 attempts");
}

core::Status createAppDatabase(const LocalPostgresState& s, const core::RedactorPtr& redactor) {
  PgDatabase admin(s.connection().withDatabase("postgres"), redactor);
  auto existing = admin.listDatabases(s.database);
  if (!existing) {
    return existing.error();
  }
  if (std::find(existing->begin(), existing->end(), s.database) != existing->end()) {
    return {};
  }
  return admin.createDatabase(s.database);
}

}  // namespace

ConnectionInfo LocalPostgresState::connection() const {
  ConnectionInfo info;
  info.scheme = "postgresql";
  info.user = user;
  info.password = password;
  info.host = "127.0.0.1";
  info.port = port;
  info.database = database;
  return info;
}

std::string LocalPostgres::defaultStateDir() {
  return "/tmp/alembic-sidecar-" + std::to_string(::getuid()) + "/postgres";
}

core::Result<LocalPostgresState> LocalPostgres::running(const std::string& stateDir) {
  auto state = readState(stateDir);
  if (!state) {
    return state.error();
  }
  if (!processAlive(state->pid)) {
    return failed("the local PostgreSQL of " + stateDir + " (pid " + std::to_string(state->pid) +
                  ") is not running");
  }
  return state;
}

core::Result<LocalPostgresState> LocalPostgres::start(const LocalPostgresOptions& options,
                                                      const core::RedactorPtr& redactor) {
  std::error_code ec;
  fs::create_directories(options.stateDir, ec);
  if (ec) {
    return failed("cannot create " + options.stateDir + ": " + ec.message());
  }
  if (auto alive = running(options.stateDir)) {
    if (redactor) {
      redactor->add(alive->password);
    }
    return alive;
  }
  ServiceUser user = serviceUser();
  auto existing = readState(options.stateDir);
  LocalPostgresState state;
  if (existing && fs::exists(fs::path(existing->dataDir) / "PG_VERSION")) {
    state = *existing;  // a stopped cluster: start it again
    state.database = options.database;
  } else {
    auto created = initCluster(options, user);
    if (!created) {
      return created.error();
    }
    state = *created;
  }
  if (redactor) {
    redactor->add(state.password);
  }
  if (auto st = launch(state, user, options.port); !st) {
    return st.error();
  }
  if (auto st = writeState(state); !st) {
    return st.error();
  }
  if (auto st = createAppDatabase(state, redactor); !st) {
    return st.error();
  }
  return state;
}

core::Status LocalPostgres::stop(const std::string& stateDir, bool remove) {
  auto state = readState(stateDir);
  if (!state) {
    return state.error();
  }
  if (processAlive(state->pid)) {
    ::kill(state->pid, SIGINT);  // fast shutdown
    auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
    while (processAlive(state->pid) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (processAlive(state->pid)) {
      ::kill(state->pid, SIGKILL);
    }
  }
  if (remove) {
    std::error_code ec;
    fs::path dataParent = fs::path(state->dataDir).parent_path();
    if (dataParent.filename().string().rfind("alembic-sidecar-pgdata-", 0) == 0) {
      fs::remove_all(dataParent, ec);
    } else {
      fs::remove_all(state->dataDir, ec);
    }
    fs::remove(fs::path(stateDir) / kStateFile, ec);
    fs::remove(state->logFile, ec);
  }
  return {};
}

}  // namespace alembic_sidecar::database
