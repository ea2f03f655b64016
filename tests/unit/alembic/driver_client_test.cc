// The driver's line protocol from the C++ side, against the golden exchanges the Python
// suite (tests/python/test_protocol.py) replays against the real driver: the client must send
// exactly the golden requests and read the golden replies into the right fields.

#include "alembic/driver_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <fstream>
#include <nlohmann/json.hpp>

#include "alembic/driver_launch.h"
#include "core/reasons.h"
#include "database/connection_url.h"

namespace alembic_sidecar::alembic {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

json loadGolden(const std::string& name) {
  std::ifstream in(std::string(ALEMBIC_SIDECAR_SOURCE_DIR) + "/tests/python/golden/" + name);
  EXPECT_TRUE(in) << name;
  return json::parse(in);
}

json substitute(const json& value, const std::map<std::string, std::string>& names) {
  if (value.is_string()) {
    std::string text = value.get<std::string>();
    for (const auto& [key, replacement] : names) {
      const std::string placeholder = "${" + key + "}";
      for (size_t at; (at = text.find(placeholder)) != std::string::npos;) {
        text.replace(at, placeholder.size(), replacement);
      }
    }
    return text;
  }
  if (value.is_array() || value.is_object()) {
    json out = value;
    for (auto& [key, item] : out.items()) {
      item = substitute(item, names);
    }
    return out;
  }
  return value;
}

/** Plays the driver: checks each request against the next golden one, answers its reply. */
class GoldenSession final : public workspace::Session {
 public:
  GoldenSession(json exchanges, std::map<std::string, std::string> names)
      : exchanges_(std::move(exchanges)), names_(std::move(names)) {}

  core::Status write(const std::string& data) override {
    if (preamble_.empty()) {
      preamble_ = data;  // the bootstrap's header and the package
      return {};
    }
    auto request = json::parse(data);
    if (next_ >= exchanges_.size()) {
      ADD_FAILURE() << "unexpected request " << data;
      return {};
    }
    json expected = substitute(exchanges_[next_]["request"], names_);
    json sent = request;
    sent.erase("id");
    EXPECT_EQ(sent, expected) << "request " << next_;
    json reply = substitute(exchanges_[next_]["reply"], names_);
    reply["id"] = request["id"];
    replies_.push_back(reply.dump());
    ++next_;
    return {};
  }

  core::Result<std::optional<std::string>> readLine(
      std::chrono::steady_clock::time_point) override {
    if (replies_.empty()) {
      return core::Error::terminal(core::reason::kWorkspaceUnavailable, "no scripted reply");
    }
    std::string line = replies_.front();
    replies_.pop_front();
    return std::optional<std::string>(line);
  }

  std::string stderrTail() override { return {}; }
  void close(std::chrono::milliseconds) override {}

  const std::string& preamble() const { return preamble_; }
  size_t answered() const { return next_; }

 private:
  json exchanges_;
  std::map<std::string, std::string> names_;
  std::string preamble_;
  std::deque<std::string> replies_;
  size_t next_ = 0;
};

class GoldenWorkspace final : public workspace::Workspace {
 public:
  explicit GoldenWorkspace(std::unique_ptr<GoldenSession> session)
      : session_(std::move(session)), raw_(session_.get()) {}

  core::Result<std::unique_ptr<workspace::Session>> start(const workspace::Command& cmd) override {
    argv = cmd.argv;
    return std::unique_ptr<workspace::Session>(std::move(session_));
  }
  core::Result<workspace::CommandOutput> run(const workspace::Command&) override {
    return core::Error::terminal("Unexpected", "run");
  }
  core::Result<std::string> readFile(const std::string&) override {
    return core::Error::terminal("Unexpected", "readFile");
  }
  core::Result<std::vector<workspace::DirEntry>> listDir(const std::string&) override {
    return core::Error::terminal("Unexpected", "listDir");
  }
  core::Status removeFile(const std::string&) override {
    return core::Error::terminal("Unexpected", "removeFile");
  }
  bool exists(const std::string&) override { return false; }
  std::string root() const override { return "/srv/app"; }
  std::string describe() const override { return "golden"; }

  std::vector<std::string> argv;
  GoldenSession* session() const { return raw_; }

 private:
  std::unique_ptr<GoldenSession> session_;
  GoldenSession* raw_;
};

const std::map<std::string, std::string> kNames = {
    {"ROOT", "/srv/app"},
    {"URL", "postgresql+psycopg2://postgres:secret@127.0.0.1:5432/app_autogen_1_abc"},
    {"DATABASE", "app_autogen_1_abc"},
    {"IDENTITY", "app_autogen_1_abc:16384:1796603906.79"}};

DriverTarget target() {
  auto info = database::parseConnectionUrl(kNames.at("URL"));
  EXPECT_TRUE(info) << (info ? "" : info.error().message);
  return DriverTarget{*info, kNames.at("IDENTITY")};
}

DriverOptions options(const std::string& urlEnv) {
  DriverOptions o;
  o.launch.python = {"/usr/bin/python3"};
  o.launch.root = "/srv/app";
  o.urlEnvVar = urlEnv;
  o.runId = "golden";
  return o;
}

TEST(DriverClientGolden, FacadeAppSession_SendsTheGoldenRequestsAndReadsTheReplies) {
  GoldenWorkspace ws(std::make_unique<GoldenSession>(loadGolden("facade_app.json"), kNames));
  auto opts = options("ORDERS_DATABASE_CONNECTION");
  opts.stagingDir = "/srv/app/migrations/.alembic-sidecar/staging-golden";
  opts.recordAdoptions = true;
  auto started = startDriver(ws, opts, nullptr);
  ASSERT_TRUE(started) << started.error().message;
  auto& driver = **started;
  EXPECT_EQ(ws.argv.back(), driverBootstrap());
  EXPECT_EQ(ws.session()->preamble().rfind("alembic-sidecar-driver 2 ", 0), 0u);
  EXPECT_EQ(driver.info().alembicVersion, "1.8.1");
  EXPECT_EQ(driver.info().envPy, "migrations/env.py");
  EXPECT_EQ(driver.info().staging, "migrations/.alembic-sidecar/staging-golden");

  auto t = target();
  auto models = driver.models(t, {});
  ASSERT_TRUE(models);
  EXPECT_TRUE(models->ok);
  EXPECT_EQ(models->source, "online");
  EXPECT_THAT(models->tables, ElementsAre("line_items", "orders"));
  auto history = driver.history();  // the model check's step read it: no request
  ASSERT_TRUE(history && history->ok);
  ASSERT_EQ(history->revisions.size(), 2u);
  EXPECT_EQ(history->revisions[0].revision, "26778cf1d23b");
  EXPECT_THAT(history->heads, ElementsAre("6967e795047d"));
  auto up = driver.upgrade(t, "head");
  ASSERT_TRUE(up && up->ok);
  auto compared = driver.compare(t);
  ASSERT_TRUE(compared && compared->ok);
  EXPECT_TRUE(compared->inSync);
  EXPECT_EQ(compared->compareType, std::optional<bool>(false));
  auto current = driver.current(t);
  ASSERT_TRUE(current && current->ok);
  EXPECT_THAT(current->heads, ElementsAre("6967e795047d"));
  std::string sql;
  auto rendered = driver.offlineSql("26778cf1d23b:6967e795047d", sql);
  ASSERT_TRUE(rendered && rendered->ok);
  EXPECT_THAT(sql, HasSubstr("CREATE TABLE line_items"));
  auto flakes = driver.pyflakes("import os\n", "migrations/versions/x.py");
  ASSERT_TRUE(flakes);
  EXPECT_THAT(*flakes, HasSubstr("'os' imported but unused"));
  auto ini = driver.files().readFile("alembic.ini");
  ASSERT_TRUE(ini);
  EXPECT_THAT(*ini, HasSubstr("[alembic]"));
  auto down = driver.downgrade(t, "-1");
  ASSERT_TRUE(down && down->ok);
  auto again = driver.upgrade(t, "head");
  ASSERT_TRUE(again && again->ok);
  auto revision = driver.revision(t, "add note", "", "");
  ASSERT_TRUE(revision && revision->ok);
  EXPECT_THAT(revision->text, HasSubstr("add note"));
  ASSERT_EQ(revision->operations.size(), 1u);
  EXPECT_EQ(revision->operations[0].op, "add_column");
  EXPECT_EQ(revision->operations[0].column, "note");
  EXPECT_EQ(revision->destination, "migrations/versions");
  ASSERT_TRUE(revision->compared);  // read in the revision's own env.py run
  EXPECT_TRUE(revision->compared->uncomparedChecked);
  auto staged = driver.history();  // asked again: revision files may import the app
  ASSERT_TRUE(staged && staged->ok);
  EXPECT_EQ(staged->revisions.size(), 3u);
  ASSERT_TRUE(driver.discard());
  driver.shutDown();
  EXPECT_EQ(ws.session()->answered(), loadGolden("facade_app.json").size());
  EXPECT_TRUE(driver.breaches().empty());
}

TEST(DriverClientGolden, Breach_IsReadAndRemembered) {
  GoldenWorkspace ws(std::make_unique<GoldenSession>(loadGolden("hooks_app_breach.json"), kNames));
  auto started = startDriver(ws, options("DATABASE_URL"), nullptr);
  ASSERT_TRUE(started) << started.error().message;
  auto up = (*started)->upgrade(target(), "head");
  ASSERT_TRUE(up);
  EXPECT_FALSE(up->ok);
  EXPECT_EQ(up->errorType, "IsolationBreached");
  ASSERT_TRUE(up->breach);
  EXPECT_EQ(*up->breach, "database 'golden_live' (psql)");
  auto breaches = (*started)->breaches();
  ASSERT_EQ(breaches.size(), 1u);
  EXPECT_EQ(breaches[0].op, "upgrade");
  EXPECT_EQ(breaches[0].tool, "psql");
  EXPECT_EQ(breaches[0].database, "golden_live");
  (*started)->shutDown();
}

}  // namespace
}  // namespace alembic_sidecar::alembic
