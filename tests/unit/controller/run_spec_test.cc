#include "controller/run_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::controller {
namespace {

nlohmann::json run(const std::string& specJson) {
  return nlohmann::json{{"metadata", {{"namespace", "ns"}, {"name", "r"}}},
                        {"spec", nlohmann::json::parse(specJson)}};
}

TEST(RunSpec, ReadsEveryFieldWithDefaults) {
  auto spec = parseRunSpec(run(R"({"action": "revision", "message": "add email",
      "target": {"podSelector": {"matchLabels": {"app": "backend"}}, "container": "web",
                 "workingDir": "/srv", "alembicCommand": ["uv", "run", "alembic"]},
      "database": {"isolation": "inplace", "urlFrom": {"secretKeyRef": {"name": "db", "key": "uri"}}},
      "approvals": {"rawSQL": true}})"));
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->target.podSelector.at("app"), "backend");
  EXPECT_EQ(spec->target.container, "web");
  EXPECT_THAT(spec->target.alembicCommand, ::testing::ElementsAre("uv", "run", "alembic"));
  EXPECT_EQ(spec->isolation, "inplace");
  EXPECT_TRUE(spec->approvals.rawSQL);
  EXPECT_FALSE(spec->approvals.destructive);
  EXPECT_EQ(spec->timeoutSeconds, 900);
  EXPECT_EQ(spec->backoffLimit, 3);
  EXPECT_EQ(spec->database["urlFrom"]["secretKeyRef"]["name"], "db");

  pipeline::RunRequest defaults;
  defaults.alembic.configFile = "alembic.ini";
  auto request = toRunRequest(*spec, defaults);
  EXPECT_EQ(request.message, "add email");
  EXPECT_THAT(request.alembic.command, ::testing::ElementsAre("uv", "run", "alembic"));
  EXPECT_EQ(request.isolation, "inplace");
  EXPECT_EQ(request.timeout, std::chrono::seconds(900));
}

TEST(RunSpec, RejectsWhatTheCrdRejects) {
  EXPECT_EQ(parseRunSpec(run(R"({"action": "explode"})")).error().reason, "InvalidSpec");
  EXPECT_EQ(parseRunSpec(run(R"({"action": "revision"})")).error().reason, "InvalidSpec");
  EXPECT_THAT(parseRunSpec(run(R"({"action": "check", "timeoutSeconds": 5})")).error().message,
              ::testing::HasSubstr("spec.timeoutSeconds"));
  EXPECT_TRUE(parseRunSpec(run(R"({"action": "check"})")).ok());
}

TEST(RunSpec, LiveCheckTimeoutAndRoleReachTheRun) {
  auto defaults = toRunRequest(*parseRunSpec(run(R"({"action": "check"})")), {});
  EXPECT_EQ(defaults.liveCheckTimeout, std::chrono::seconds(10));
  EXPECT_EQ(defaults.liveRole, "");
  auto spec = parseRunSpec(
      run(R"({"action": "check", "liveCheckTimeoutSeconds": 60, "liveRole": "auditor"})"));
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  auto request = toRunRequest(*spec, {});
  EXPECT_EQ(request.liveCheckTimeout, std::chrono::seconds(60));
  EXPECT_EQ(request.liveRole, "auditor");
  EXPECT_THAT(
      parseRunSpec(run(R"({"action": "check", "liveCheckTimeoutSeconds": 0})")).error().message,
      ::testing::HasSubstr("liveCheckTimeoutSeconds"));
}

TEST(RunSpec, BaselineAndRevIdPassThrough) {
  auto defaulted = parseRunSpec(run(R"({"action": "check"})"));
  ASSERT_TRUE(defaulted.ok());
  EXPECT_EQ(toRunRequest(*defaulted, {}).baseline, "auto");
  auto spec = parseRunSpec(run(R"({"action": "revision", "message": "m",
      "baseline": "live-schema", "revId": "0007"})"));
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  auto request = toRunRequest(*spec, {});
  EXPECT_EQ(request.baseline, "live-schema");
  EXPECT_EQ(request.revId, "0007");
  EXPECT_THAT(parseRunSpec(run(R"({"action": "check", "baseline": "copy"})")).error().message,
              ::testing::HasSubstr("spec.baseline"));
  EXPECT_THAT(parseRunSpec(run(R"({"action": "revision", "message": "m", "revId": "a b"})"))
                  .error()
                  .message,
              ::testing::HasSubstr("spec.revId"));
}

TEST(RunSpec, UpgradeAlwaysWorksInPlace) {
  auto spec = parseRunSpec(run(R"({"action": "upgrade"})"));
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(toRunRequest(*spec, {}).isolation, "inplace");
}

}  // namespace
}  // namespace alembic_sidecar::controller
