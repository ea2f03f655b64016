#pragma once

#include <functional>
#include <string>
#include <vector>

#include "alembic/driver.h"
#include "mocks/fake_workspace.h"

namespace alembic_sidecar::testing {

/**
 * A scripted alembic driver over an in-memory project: every call is recorded, and each
 * operation answers through a handler the test may replace. Staged revisions are files of
 * `workspace` under `staging`; adopt() moves them, discard() removes what is left.
 */
class FakeDriver : public alembic::Driver {
 public:
  struct Call {
    std::string op;
    std::string argument;  // revision, range, message...
    std::string database;  // the target's database, when the op has one
    std::string identity;
  };

  FakeWorkspace workspace;
  alembic::DriverInfo driverInfo;
  std::vector<Call> calls;
  std::string staging = "migrations/.alembic-sidecar/staging-x";
  std::string scheme;
  bool shutDownCalled = false;
  /** The --rev-id of the last revision() call. */
  std::string lastRevId;

  std::function<alembic::OpOutcome(const alembic::DriverTarget&, const std::string&)> onUpgrade =
      [](const alembic::DriverTarget&, const std::string&) { return ok(); };
  std::function<alembic::OpOutcome(const alembic::DriverTarget&, const std::string&)> onDowngrade =
      [](const alembic::DriverTarget&, const std::string&) { return ok(); };
  std::function<alembic::RevisionOutcome(const alembic::DriverTarget&, const std::string&)>
      onRevision;
  alembic::HistoryOutcome historyOutcome = withOk<alembic::HistoryOutcome>();
  /** By default the models match the schema, including what autogenerate does not compare. */
  alembic::CompareOutcome compareOutcome = [] {
    auto out = withOk<alembic::CompareOutcome>();
    out.uncomparedChecked = true;
    return out;
  }();
  alembic::ModelsOutcome modelsOutcome = withOk<alembic::ModelsOutcome>();
  alembic::CurrentOutcome currentOutcome = withOk<alembic::CurrentOutcome>();
  std::string sql = "-- Running upgrade a -> b\nALTER TABLE x ADD COLUMN y INTEGER;\n";

  static alembic::OpOutcome ok() {
    alembic::OpOutcome o;
    o.ok = true;
    return o;
  }
  static alembic::OpOutcome failure(std::string line) {
    alembic::OpOutcome o;
    o.errorType = "CommandError";
    o.errorLine = std::move(line);
    return o;
  }
  template <typename T>
  static T withOk() {
    T t;
    t.ok = true;
    return t;
  }

  /** A revision handler that stages `text` as <staging>/<name> and reports it. */
  void stageRevision(const std::string& name, const std::string& text,
                     const std::string& id = "b2", const std::string& down = "a1") {
    onRevision = [this, name, text, id, down](const alembic::DriverTarget&, const std::string&) {
      auto out = withOk<alembic::RevisionOutcome>();
      out.file = staging + "/" + name;
      out.text = text;
      out.revision = id;
      out.downRevisions = {down};
      out.destination = "migrations/versions";
      workspace.files[out.file] = text;
      return out;
    };
  }

  const alembic::DriverInfo& info() const override { return driverInfo; }
  void setTimeout(std::chrono::milliseconds) override {}
  void setScheme(const std::string& s) override { scheme = s; }

  core::Result<alembic::OpOutcome> upgrade(const alembic::DriverTarget& target,
                                           const std::string& revision) override {
    calls.push_back({"upgrade", revision, target.connection.database, target.identity});
    return onUpgrade(target, revision);
  }
  core::Result<alembic::OpOutcome> downgrade(const alembic::DriverTarget& target,
                                             const std::string& revision) override {
    calls.push_back({"downgrade", revision, target.connection.database, target.identity});
    return onDowngrade(target, revision);
  }
  core::Result<alembic::RevisionOutcome> revision(const alembic::DriverTarget& target,
                                                  const std::string& message, const std::string&,
                                                  const std::string& revId) override {
    lastRevId = revId;
    calls.push_back({"revision", message, target.connection.database, target.identity});
    if (!onRevision) {
      return withOk<alembic::RevisionOutcome>();
    }
    return onRevision(target, message);
  }
  core::Result<alembic::HistoryOutcome> history() override {
    calls.push_back({"history", "", "", ""});
    return historyOutcome;
  }
  core::Result<alembic::CurrentOutcome> current(const alembic::DriverTarget& target) override {
    calls.push_back({"current", "", target.connection.database, target.identity});
    return currentOutcome;
  }
  core::Result<alembic::CompareOutcome> compare(const alembic::DriverTarget& target) override {
    calls.push_back({"compare", "", target.connection.database, target.identity});
    return compareOutcome;
  }
  core::Result<alembic::OpOutcome> offlineSql(const std::string& range, std::string& out) override {
    calls.push_back({"sql", range, "", ""});
    out = sql;
    return ok();
  }
  core::Result<std::string> pyflakes(const std::string&, const std::string&) override {
    calls.push_back({"pyflakes", "", "", ""});
    return std::string();
  }
  core::Result<alembic::ModelsOutcome> models(const std::vector<std::string>&) override {
    calls.push_back({"models", "", "", ""});
    return modelsOutcome;
  }
  core::Result<std::string> adopt(const std::string& file, const std::string& destination) override {
    calls.push_back({"adopt", file, "", ""});
    std::string name = file.substr(file.rfind('/') + 1);
    std::string moved = destination + "/" + name;
    workspace.files[moved] = workspace.files[file];
    workspace.files.erase(file);
    return moved;
  }
  core::Status discard() override {
    calls.push_back({"discard", "", "", ""});
    for (auto it = workspace.files.begin(); it != workspace.files.end();) {
      it = it->first.rfind(staging + "/", 0) == 0 ? workspace.files.erase(it) : std::next(it);
    }
    return {};
  }
  workspace::Workspace& files() override { return workspace; }
  void shutDown() override { shutDownCalled = true; }

  /** The ops called, in order ("upgrade b2", "downgrade a1", ...). */
  std::vector<std::string> trace() const {
    std::vector<std::string> out;
    for (const auto& c : calls) {
      out.push_back(c.argument.empty() ? c.op : c.op + " " + c.argument);
    }
    return out;
  }
};

/** Hands the pipeline a driver the test keeps (the pipeline owns and destroys what it gets). */
class DriverRef : public alembic::Driver {
 public:
  explicit DriverRef(alembic::Driver& target) : target_(target) {}
  const alembic::DriverInfo& info() const override { return target_.info(); }
  void setTimeout(std::chrono::milliseconds t) override { target_.setTimeout(t); }
  void setScheme(const std::string& s) override { target_.setScheme(s); }
  core::Result<alembic::OpOutcome> upgrade(const alembic::DriverTarget& t,
                                           const std::string& r) override {
    return target_.upgrade(t, r);
  }
  core::Result<alembic::OpOutcome> downgrade(const alembic::DriverTarget& t,
                                             const std::string& r) override {
    return target_.downgrade(t, r);
  }
  core::Result<alembic::RevisionOutcome> revision(const alembic::DriverTarget& t,
                                                  const std::string& m, const std::string& h,
                                                  const std::string& id) override {
    return target_.revision(t, m, h, id);
  }
  core::Result<alembic::HistoryOutcome> history() override { return target_.history(); }
  core::Result<alembic::CurrentOutcome> current(const alembic::DriverTarget& t) override {
    return target_.current(t);
  }
  core::Result<alembic::CompareOutcome> compare(const alembic::DriverTarget& t) override {
    return target_.compare(t);
  }
  core::Result<alembic::OpOutcome> offlineSql(const std::string& r, std::string& s) override {
    return target_.offlineSql(r, s);
  }
  core::Result<std::string> pyflakes(const std::string& s, const std::string& f) override {
    return target_.pyflakes(s, f);
  }
  core::Result<alembic::ModelsOutcome> models(const std::vector<std::string>& m) override {
    return target_.models(m);
  }
  core::Result<std::string> adopt(const std::string& f, const std::string& d) override {
    return target_.adopt(f, d);
  }
  core::Status discard() override { return target_.discard(); }
  workspace::Workspace& files() override { return target_.files(); }
  void shutDown() override { target_.shutDown(); }

 private:
  alembic::Driver& target_;
};

}  // namespace alembic_sidecar::testing
