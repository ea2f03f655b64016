#include "alembic/driver_client.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "alembic/driver_sources.h"
#include "alembic/driver_workspace.h"
#include "core/json_util.h"
#include "core/reasons.h"

namespace alembic_sidecar::alembic {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

/** Extra time granted on top of a request's own bound, so the driver's answer wins. */
constexpr auto kAnswerGrace = std::chrono::seconds(5);
constexpr auto kPollSlice = std::chrono::milliseconds(100);
constexpr auto kShutdownGrace = std::chrono::seconds(3);
constexpr auto kFileBound = std::chrono::milliseconds(std::chrono::seconds(120));

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  for (const auto& v : core::arrayField(j, key)) {
    if (v.is_string()) {
      out.push_back(v.get<std::string>());
    }
  }
  return out;
}

std::vector<core::Operation> operations(const json& j, const char* key) {
  std::vector<core::Operation> out;
  for (const auto& op : core::arrayField(j, key)) {
    out.push_back(core::Operation{core::stringField(op, "op"), core::stringField(op, "table"),
                                  core::stringField(op, "column"),
                                  core::stringField(op, "name")});
  }
  return out;
}

std::string breachText(const json& breach) {
  std::string dialect = core::stringField(breach, "dialect");
  std::string database = core::stringField(breach, "database");
  if (!dialect.empty() && dialect != "postgresql") {
    return "a " + dialect + " database" + (database.empty() ? "" : " (" + database + ")");
  }
  std::string text = "database '" + (database.empty() ? std::string("?") : database) + "'";
  if (core::boolField(breach, "otherServer")) {
    text += " on another server";
  }
  if (!core::stringField(breach, "error").empty()) {
    text += " (" + core::stringField(breach, "error") + ")";
  }
  return text;
}

class DriverClient final : public Driver {
 public:
  DriverClient(workspace::Workspace& workspace, std::unique_ptr<workspace::Session> session,
               DriverOptions options, core::RedactorPtr redactor,
               std::function<bool()> cancelled)
      : session_(std::move(session)),
        options_(std::move(options)),
        redactor_(std::move(redactor)),
        cancelled_(std::move(cancelled)),
        files_([this](json request) { return call(std::move(request), kFileBound); },
               options_.launch.root, workspace.describe()) {}

  ~DriverClient() override { shutDown(); }

  core::Status begin() {
    json modules = json::object();
    for (const auto& [name, source] : driverModules()) {
      modules[name] = source;
    }
    if (auto sent = session_->write(modules.dump() + "\n"); !sent) {
      return sent.error();
    }
    json hello = {{"op", "hello"},
                  {"root", options_.launch.root},
                  {"config", options_.configFile},
                  {"urlEnv", options_.urlEnvVar},
                  {"runId", options_.runId}};
    if (!options_.lockPath.empty()) {
      hello["lock"] = options_.lockPath;
      hello["lockWaitSeconds"] = options_.lockWait.count();
    }
    if (!options_.stagingDir.empty()) {
      hello["staging"] = options_.stagingDir;
      hello["recordAdoptions"] = options_.recordAdoptions;
    }
    auto reply = call(hello, options_.startTimeout);
    if (!reply) {
      return reply.error();
    }
    if (!core::boolField(*reply, "ok")) {
      const json& error = core::objectOr(*reply, "error");
      std::string type = core::stringField(error, "type");
      std::string line = scrub(core::stringField(error, "line"));
      const char* reason = type == "ProjectLocked"          ? core::reason::kProjectLocked
                           : type == "AlembicNotImportable" ? core::reason::kWorkspaceUnavailable
                                                            : core::reason::kProjectInvalid;
      std::string message =
          type == "ProjectLocked"
              ? "another run holds the project lock (" + line + ") and did not finish within " +
                    std::to_string(options_.lockWait.count()) +
                    " s; wait for it, or raise --lock-wait"
          : type == "AlembicNotImportable"
              ? "alembic is not importable by the interpreter derived from --alembic-cmd: " +
                    line + ". Pass --python with the interpreter that has the app's packages"
              : line;
      return core::Error::terminal(reason, message);
    }
    const json& r = core::objectOr(*reply, "result");
    info_.python = core::stringField(r, "python");
    info_.pythonVersion = core::stringField(r, "pythonVersion");
    info_.alembicVersion = core::stringField(r, "alembicVersion");
    info_.sqlalchemyVersion = core::stringField(r, "sqlalchemyVersion");
    info_.drivers = strings(r, "drivers");
    info_.asyncEnv = core::boolField(r, "asyncEnv");
    info_.scriptLocation = core::stringField(r, "scriptLocation");
    info_.envPy = core::stringField(r, "envPy");
    info_.envPySource = core::stringField(r, "envPySource");
    info_.versionLocations = strings(r, "versionLocations");
    info_.staging = core::stringField(r, "staging");
    for (const auto& file : strings(r, "unadopted")) {
      spdlog::warn("Took back a revision an interrupted run adopted without reporting file={}",
                   file);
    }
    return {};
  }

  const DriverInfo& info() const override { return info_; }
  void setTimeout(std::chrono::milliseconds timeout) override { timeout_ = timeout; }

  void setScheme(const std::string& scheme) override { scheme_ = scheme; }

  core::Result<OpOutcome> upgrade(const DriverTarget& target,
                                  const std::string& revision) override {
    auto reply = call({{"op", "upgrade"}, {"revision", revision}, {"target", targetJson(target)}},
                      timeout_);
    if (!reply) {
      return reply.error();
    }
    return outcome(*reply);
  }

  core::Result<OpOutcome> downgrade(const DriverTarget& target,
                                    const std::string& revision) override {
    auto reply = call(
        {{"op", "downgrade"}, {"revision", revision}, {"target", targetJson(target)}}, timeout_);
    if (!reply) {
      return reply.error();
    }
    return outcome(*reply);
  }

  core::Result<RevisionOutcome> revision(const DriverTarget& target, const std::string& message,
                                         const std::string& head,
                                         const std::string& revId) override {
    json request = {{"op", "revision"}, {"message", message}, {"target", targetJson(target)}};
    if (!head.empty()) {
      request["head"] = head;
    }
    if (!revId.empty()) {
      request["revId"] = revId;
    }
    auto reply = call(request, timeout_);
    if (!reply) {
      return reply.error();
    }
    RevisionOutcome out;
    static_cast<OpOutcome&>(out) = outcome(*reply);
    const json& r = core::objectOr(*reply, "result");
    out.file = core::stringField(r, "file");
    out.text = core::stringField(r, "text");
    out.revision = core::stringField(r, "revision");
    out.downRevisions = strings(r, "downRevisions");
    out.destination = core::stringField(r, "destination");
    out.empty = core::boolField(r, "empty");
    out.operations = operations(r, "ops");
    return out;
  }

  core::Result<HistoryOutcome> history() override {
    auto reply = call({{"op", "history"}}, timeout_);
    if (!reply) {
      return reply.error();
    }
    HistoryOutcome out;
    static_cast<OpOutcome&>(out) = outcome(*reply);
    const json& r = core::objectOr(*reply, "result");
    for (const auto& rev : core::arrayField(r, "revisions")) {
      HistoryEntry e;
      e.revision = core::stringField(rev, "revision");
      e.downRevisions = strings(rev, "downRevisions");
      e.branchLabels = strings(rev, "branchLabels");
      e.dependsOn = strings(rev, "dependsOn");
      e.path = core::stringField(rev, "path");
      e.isHead = core::boolField(rev, "isHead");
      e.isMerge = core::boolField(rev, "isMerge");
      out.revisions.push_back(std::move(e));
    }
    out.heads = strings(r, "heads");
    return out;
  }

  core::Result<CurrentOutcome> current(const DriverTarget& target) override {
    auto reply = call({{"op", "current"}, {"target", targetJson(target)}}, timeout_);
    if (!reply) {
      return reply.error();
    }
    CurrentOutcome out;
    static_cast<OpOutcome&>(out) = outcome(*reply);
    out.heads = strings(core::objectOr(*reply, "result"), "heads");
    return out;
  }

  core::Result<CompareOutcome> compare(const DriverTarget& target) override {
    auto reply = call({{"op", "compare"}, {"target", targetJson(target)}}, timeout_);
    if (!reply) {
      return reply.error();
    }
    CompareOutcome out;
    static_cast<OpOutcome&>(out) = outcome(*reply);
    const json& r = core::objectOr(*reply, "result");
    if (auto it = r.find("compareType"); it != r.end() && it->is_boolean()) {
      out.compareType = it->get<bool>();
    }
    if (auto it = r.find("compareServerDefault"); it != r.end() && it->is_boolean()) {
      out.compareServerDefault = it->get<bool>();
    }
    for (const auto& e : core::arrayField(r, "enums")) {
      out.enums.push_back(ModelEnum{core::stringField(e, "name"), strings(e, "labels")});
    }
    out.inSync = core::boolField(r, "inSync", true);
    out.pendingOps = operations(r, "ops");
    if (auto it = r.find("uncompared"); it != r.end() && it->is_object()) {
      out.uncomparedChecked = true;
      out.serverDefaultsCompared = core::boolField(*it, "serverDefaultsCompared", false);
      for (const auto& d : core::arrayField(*it, "differences")) {
        out.uncompared.push_back(UncomparedDifference{
            core::stringField(d, "kind"), core::stringField(d, "schema"),
            core::stringField(d, "table"), core::stringField(d, "column"),
            core::stringField(d, "name"), core::stringField(d, "model"),
            core::stringField(d, "database")});
      }
    }
    out.uncomparedError = core::stringField(r, "uncomparedError");
    return out;
  }

  core::Result<OpOutcome> offlineSql(const std::string& range, std::string& sql) override {
    auto reply = call({{"op", "upgrade"},
                       {"revision", range},
                       {"sql", true},
                       {"target", {{"url", offlineUrl()}}}},
                      timeout_);
    if (!reply) {
      return reply.error();
    }
    sql = core::stringField(core::objectOr(*reply, "result"), "sql");
    return outcome(*reply);
  }

  core::Result<std::string> pyflakes(const std::string& source,
                                     const std::string& filename) override {
    auto reply = call({{"op", "pyflakes"}, {"source", source}, {"filename", filename}}, timeout_);
    if (!reply) {
      return reply.error();
    }
    if (!core::boolField(*reply, "ok")) {
      return core::Error::terminal(
          core::reason::kWorkspaceUnavailable,
          "pyflakes is not importable by " + info_.python + ": " +
              core::stringField(core::objectOr(*reply, "error"), "line"));
    }
    return core::stringField(core::objectOr(*reply, "result"), "output");
  }

  core::Result<ModelsOutcome> models(const std::vector<std::string>& declared) override {
    auto reply = call(
        {{"op", "models"}, {"models", declared}, {"target", {{"url", offlineUrl()}}}},
        timeout_);
    if (!reply) {
      return reply.error();
    }
    ModelsOutcome out;
    static_cast<OpOutcome&>(out) = outcome(*reply);
    const json& r = core::objectOr(*reply, "result");
    out.source = core::stringField(r, "source");
    out.tables = strings(r, "tables");
    out.sqlmodelTables = strings(r, "sqlmodelTables");
    out.metadataModule = core::stringField(r, "metadataModule");
    out.metadataFile = core::stringField(r, "metadataFile");
    out.modules = strings(r, "modules");
    std::string table = core::stringField(r, "versionTable", "alembic_version");
    std::string schema = core::stringField(r, "versionTableSchema");
    out.versionTable = schema.empty() ? table : schema + "." + table;
    for (const auto& u : core::arrayField(r, "unregistered")) {
      out.unregistered.push_back(UnregisteredModel{
          core::stringField(u, "class"), core::stringField(u, "module"),
          core::stringField(u, "table"), core::stringField(u, "file"),
          static_cast<int>(core::intField(u, "line")), scrub(core::stringField(u, "fix")),
          core::boolField(u, "otherMetadata")});
    }
    for (const auto& f : core::arrayField(r, "importFailures")) {
      out.importFailures.push_back(ModelImportFailure{core::stringField(f, "module"),
                                                      core::stringField(f, "file"),
                                                      scrub(core::stringField(f, "line"))});
    }
    return out;
  }

  core::Result<std::string> adopt(const std::string& file,
                                  const std::string& destination) override {
    auto reply = call({{"op", "adopt"}, {"file", file}, {"destination", destination}}, timeout_);
    if (!reply) {
      return reply.error();
    }
    if (!core::boolField(*reply, "ok")) {
      return core::Error::terminal(core::reason::kProjectInvalid,
                                   "cannot move " + file + " into " + destination + ": " +
                                       outcome(*reply).describe(2));
    }
    return core::stringField(core::objectOr(*reply, "result"), "file");
  }

  core::Status discard() override {
    auto reply = call({{"op", "discard"}}, timeout_);
    if (!reply) {
      return reply.error();
    }
    return {};
  }

  workspace::Workspace& files() override { return files_; }

  void shutDown() override {
    if (!session_) {
      return;
    }
    if (alive_) {
      // Best effort: the driver answers and exits; closing stdin would end it too.
      json bye = {{"op", "shutdown"}, {"id", ++nextId_}};
      if (session_->write(bye.dump() + "\n")) {
        auto deadline = Clock::now() + kShutdownGrace;
        while (true) {
          auto line = session_->readLine(deadline);
          if (!line || !*line) {
            break;
          }
          auto parsed = json::parse(**line, nullptr, false);
          if (parsed.is_object() && core::intField(parsed, "id") == nextId_) {
            break;
          }
        }
      }
    }
    session_->close(kShutdownGrace);
    session_.reset();
    alive_ = false;
  }

  /** One request/answer; the driver is killed when it does not answer in time. */
  core::Result<json> call(json request, std::chrono::milliseconds bound) {
    if (!alive_ || !session_) {
      return core::Error::terminal(core::reason::kWorkspaceUnavailable,
                                   "the alembic driver is no longer running" + lostText_);
    }
    const int64_t id = ++nextId_;
    request["id"] = id;
    const std::string op = core::stringField(request, "op");
    if (auto sent = session_->write(request.dump(-1, ' ', false, json::error_handler_t::replace) +
                                    "\n");
        !sent) {
      return lost("cannot send `" + op + "` to the alembic driver: " + sent.error().message);
    }
    const auto deadline = Clock::now() + bound + kAnswerGrace;
    while (true) {
      if (cancelled_ && cancelled_()) {
        kill();
        return core::Error::terminal(core::reason::kCancelled,
                                     "the run was cancelled during `" + op + "`");
      }
      auto slice = std::min(deadline, Clock::now() + kPollSlice);
      auto line = session_->readLine(slice);
      if (!line) {
        return lost("the alembic driver stopped during `" + op + "`: " + line.error().message);
      }
      if (!*line) {
        if (Clock::now() >= deadline) {
          kill();
          return core::Error::retryable(
              core::reason::kTimeout,
              "`" + op + "` did not finish within " +
                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(bound).count()) +
                  " s; the driver was stopped");
        }
        continue;
      }
      auto reply = json::parse(**line, nullptr, false);
      if (!reply.is_object()) {
        spdlog::debug("Driver wrote a non-protocol line op={}", op);
        continue;
      }
      if (core::intField(reply, "id") != id) {
        continue;  // the late answer of a request given up on
      }
      return reply;
    }
  }

 private:
  json targetJson(const DriverTarget& target) const {
    json t = {{"url", target.connection.url()}, {"database", target.connection.database}};
    if (!target.identity.empty()) {
      t["identity"] = target.identity;
    }
    return t;
  }

  /**
   * The URL of offline work (offline SQL, loading env.py for the model check): the run's driver
   * scheme and a reserved `.invalid` host; the fence refuses every connection without a target
   * identity, so nothing ever connects to it.
   */
  std::string offlineUrl() const {
    return (scheme_.empty() ? std::string("postgresql") : scheme_) +
           "://alembic_sidecar_offline@offline.invalid:5432/offline";
  }

  std::string scrub(const std::string& text) const {
    return redactor_ ? redactor_->scrub(text) : text;
  }

  OpOutcome outcome(const json& reply) const {
    OpOutcome out;
    out.ok = core::boolField(reply, "ok");
    out.output = scrub(core::stringField(reply, "output"));
    out.durationMs = core::intField(reply, "durationMs");
    const json& error = core::objectOr(reply, "error");
    out.errorType = core::stringField(error, "type");
    out.errorLine = scrub(core::stringField(error, "line"));
    out.tail = scrub(core::stringField(error, "tail"));
    if (auto it = reply.find("breach"); it != reply.end() && it->is_object()) {
      out.ok = false;
      out.breach = scrub(breachText(*it));
      out.errorType = "IsolationBreached";
    }
    return out;
  }

  core::Error lost(std::string message) {
    alive_ = false;
    lostText_ = " (" + message + ")";
    if (session_) {
      session_->close(std::chrono::milliseconds(0));
    }
    return core::Error::retryable(core::reason::kWorkspaceUnavailable, scrub(message));
  }

  void kill() {
    alive_ = false;
    if (session_) {
      session_->close(std::chrono::milliseconds(0));
    }
  }

  std::unique_ptr<workspace::Session> session_;
  DriverOptions options_;
  core::RedactorPtr redactor_;
  std::function<bool()> cancelled_;
  DriverWorkspace files_;
  DriverInfo info_;
  std::string scheme_;
  std::chrono::milliseconds timeout_{std::chrono::minutes(5)};
  int64_t nextId_ = 0;
  bool alive_ = true;
  std::string lostText_;
};

}  // namespace

std::string OpOutcome::describe(size_t tailLines) const {
  std::string text = errorLine.empty() ? std::string("failed") : errorLine;
  std::vector<std::string> lines;
  std::istringstream in(tail);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line != errorLine) {
      lines.push_back(line);
    }
  }
  size_t start = lines.size() > tailLines ? lines.size() - tailLines : 0;
  for (size_t i = start; i < lines.size(); ++i) {
    text += "\n" + lines[i];
  }
  return text;
}

core::Result<std::unique_ptr<Driver>> startDriver(workspace::Workspace& workspace,
                                                  const DriverOptions& options,
                                                  core::RedactorPtr redactor,
                                                  std::function<bool()> cancelled) {
  auto argv = driverCommand(options.launch);
  if (!argv) {
    return argv.error();
  }
  workspace::Command cmd;
  cmd.argv = *argv;
  cmd.env["PYTHONUNBUFFERED"] = "1";
  cmd.env["ALEMBIC_SIDECAR_RUN"] = options.runId;
  auto session = workspace.start(cmd);
  if (!session) {
    core::Error error = session.error();
    error.message = "cannot start the alembic driver (" + argv->front() + ") in " +
                    workspace.describe() + ": " + error.message;
    return error;
  }
  auto client = std::make_unique<DriverClient>(workspace, std::move(*session), options,
                                               std::move(redactor), std::move(cancelled));
  if (auto started = client->begin(); !started) {
    return started.error();
  }
  return std::unique_ptr<Driver>(std::move(client));
}

}  // namespace alembic_sidecar::alembic
