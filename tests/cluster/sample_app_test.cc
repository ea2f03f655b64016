// manifests/sample-app.yaml on the real server, deployed as `devspace deploy` deploys it (the
// chart, then the manifests): both sidecar forms come up Ready, the DevSpace commands' default
// selector and `dev.labelSelector` pick the same single pod, and a selector that matches
// several pods makes the run say which one it chose.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "cluster/cluster.h"
#include "core/json_util.h"

namespace alembic_sidecar::testing::cluster {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

std::string sourceDir() { return ALEMBIC_SIDECAR_SOURCE_DIR; }

/** `k=v,k2=v2` of a YAML map, in the map's order. */
std::string selectorOf(const YAML::Node& labels) {
  std::string out;
  for (const auto& kv : labels) {
    out += (out.empty() ? "" : ",") + kv.first.as<std::string>() + "=" + kv.second.as<std::string>();
  }
  return out;
}

const nlohmann::json& containerNamed(const nlohmann::json& list, const std::string& name) {
  static const nlohmann::json kNone = nlohmann::json::object();
  for (const auto& c : list) {
    if (core::stringField(c, "name") == name) {
      return c;
    }
  }
  return kNone;
}

using SampleApp = SampleAppTest;

TEST_F(SampleApp, BothSidecarFormsComeUpReady) {
  auto native = getJson({"pod", nativePod_});
  const auto& initContainers = native["spec"]["initContainers"];
  EXPECT_EQ(containerNamed(initContainers, "alembic-sidecar").value("restartPolicy", ""), "Always");
  EXPECT_EQ(containerNamed(native["spec"]["containers"], "app").value("workingDir", ""), "/app");
  auto classic = getJson({"pod", classicPod_});
  std::vector<std::string> names;
  for (const auto& c : classic["spec"]["containers"]) {
    names.push_back(c.value("name", ""));
  }
  EXPECT_THAT(names, ElementsAre("app", "alembic-sidecar"));
  for (const auto& pod : {native, classic}) {
    EXPECT_EQ(pod["status"]["phase"], "Running");
    bool ready = false;
    for (const auto& c : pod["status"]["conditions"]) {
      ready |= c.value("type", "") == "Ready" && c.value("status", "") == "True";
    }
    EXPECT_TRUE(ready) << pod["metadata"]["name"];
    // The ServiceAccount's token reaches the sidecar only.
    EXPECT_EQ(pod["spec"]["serviceAccountName"], "alembic-sidecar");
    EXPECT_EQ(pod["spec"]["automountServiceAccountToken"], false);
  }
  // pods/exec reaches the app container, in the app's directory, with the Secret's URL.
  auto heads = kubectl({"exec", nativePod_, "-c", "app", "--", "alembic", "heads"});
  EXPECT_EQ(heads.exitCode, 0) << heads.err;
  EXPECT_EQ(heads.out, "2f2b53fd94b8 (head)\n");
}

TEST_F(SampleApp, DevSpaceDefaultSelectorAndDevLabelSelectorMatchTheSameSinglePod) {
  YAML::Node devspace = YAML::LoadFile(sourceDir() + "/devspace.yaml");
  const std::string commands = devspace["vars"]["TARGET_SELECTOR"]["default"].as<std::string>();
  const std::string dev = selectorOf(devspace["dev"]["backend"]["labelSelector"]);
  auto byCommands = podNames(commands);
  auto byDev = podNames(dev);
  ASSERT_THAT(byCommands, SizeIs(1)) << commands << " matches " << ::testing::PrintToString(byCommands);
  EXPECT_EQ(byDev, byCommands) << dev << " vs " << commands;
  // The dev container is where the commands' runs put the file.
  EXPECT_EQ(devspace["dev"]["backend"]["container"].as<std::string>(), "app");
  EXPECT_EQ(byCommands.front(), nativePod_);
}

TEST_F(SampleApp, SelectorMatchingTwoPods_WarnsAndRecordsTheChosenPod) {
  const auto classicBefore = classicApp_.versionFiles();
  startNativeSidecar();
  ASSERT_THAT(podNames("app=backend"), SizeIs(2));
  auto result = requestAsDev({"--action", "check", "--target-selector", "app=backend"});
  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  const std::string name = createdName(result.err);
  const std::string chosen = std::min(nativePod_, classicPod_);
  const std::string other = std::max(nativePod_, classicPod_);

  EXPECT_EQ(run(name)["status"].value("targetPod", ""), chosen);
  std::vector<nlohmann::json> warnings;
  for (const auto& e : eventsFor(name)) {
    if (e.value("reason", "") == "TargetAmbiguous") {
      warnings.push_back(e);
    }
  }
  ASSERT_THAT(warnings, SizeIs(1));
  EXPECT_EQ(warnings[0]["type"], "Warning");
  EXPECT_THAT(warnings[0]["note"].get<std::string>(), HasSubstr("alembic runs in " + chosen));
  EXPECT_THAT(warnings[0]["note"].get<std::string>(), HasSubstr("not in " + other));
  EXPECT_EQ(classicApp_.versionFiles(), classicBefore);

  // kubectl describe shows it to the person who asked.
  auto describe = kubectl({"describe", "mrun", name});
  EXPECT_THAT(describe.out, HasSubstr("TargetAmbiguous"));

  // A selector that matches one pod: no warning.
  auto single = requestAsDev({"--action", "check", "--target-selector",
                              "app=backend,sidecar-form=native"});
  ASSERT_EQ(single.exitCode, 0) << single.err;
  const std::string singleName = createdName(single.err);
  EXPECT_EQ(run(singleName)["status"].value("targetPod", ""), nativePod_);
  auto reasons = eventReasons(singleName);
  EXPECT_EQ(std::count(reasons.begin(), reasons.end(), "TargetAmbiguous"), 0);
}

}  // namespace
}  // namespace alembic_sidecar::testing::cluster
