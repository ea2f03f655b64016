#include "kube/event_recorder.h"

#include <gtest/gtest.h>

#include "kube_fakes.h"

namespace alembic_sidecar::kube {
namespace {

using testing::FakeClock;
using testing::FakeKubeApi;

nlohmann::json migrationRun() {
  return {
      {"apiVersion", "alembic.sidecar.dev/v1alpha1"},
      {"kind", "MigrationRun"},
      {"metadata",
       {{"name", "add-email"}, {"namespace", "team"}, {"uid", "u-1"}, {"resourceVersion", "7"}}},
      {"spec", {{"action", "revision"}}}};
}

TEST(BuildEvent, FillsEveryEventsV1Field) {
  core::Redactor redactor;
  EventRecorderOptions options;
  options.reportingInstance = "app-7d9c-0";
  const auto now =
      std::chrono::system_clock::time_point(std::chrono::microseconds(1714557600000000LL + 250));
  EventSpec spec{migrationRun(), kEventNormal, "RevisionGenerated", "Generate", "generated 3f2a1b"};
  const auto event = buildEvent(spec, options, now, redactor);
  EXPECT_EQ(event["apiVersion"], "events.k8s.io/v1");
  EXPECT_EQ(event["kind"], "Event");
  EXPECT_EQ(event["metadata"]["namespace"], "team");
  EXPECT_EQ(event["metadata"]["name"].get<std::string>().rfind("add-email.", 0), 0u);
  EXPECT_EQ(event["regarding"], (nlohmann::json{{"apiVersion", "alembic.sidecar.dev/v1alpha1"},
                                                {"kind", "MigrationRun"},
                                                {"name", "add-email"},
                                                {"namespace", "team"},
                                                {"uid", "u-1"},
                                                {"resourceVersion", "7"}}));
  EXPECT_EQ(event["type"], "Normal");
  EXPECT_EQ(event["reason"], "RevisionGenerated");
  EXPECT_EQ(event["action"], "Generate");
  EXPECT_EQ(event["note"], "generated 3f2a1b");
  EXPECT_EQ(event["eventTime"], "2024-05-01T10:00:00.000250Z");
  EXPECT_EQ(event["reportingController"], "alembic-sidecar");
  EXPECT_EQ(event["reportingInstance"], "app-7d9c-0");
}

TEST(BuildEvent, ScrubsSecretsFromEveryText) {
  core::Redactor redactor;
  redactor.add("hunter2");
  EventSpec spec{migrationRun(), kEventWarning, "Failed", "Probe hunter2",
                 "postgresql://app:hunter2@db/app refused"};
  const auto event = buildEvent(spec, {}, std::chrono::system_clock::now(), redactor);
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["note"], "postgresql://app:****@db/app refused");
  EXPECT_EQ(event["action"], "Probe ****");
  EXPECT_EQ(event.dump().find("hunter2"), std::string::npos);
}

TEST(BuildEvent, NoteIsCutToOneKibWithoutSplittingUtf8) {
  core::Redactor redactor;
  std::string note(1023, 'x');
  note += "\xc3\xa9\xc3\xa9";  // "éé": the first one straddles the limit
  EventSpec spec{migrationRun(), kEventNormal, "R", "A", note};
  const auto event = buildEvent(spec, {}, std::chrono::system_clock::now(), redactor);
  EXPECT_EQ(event["note"].get<std::string>(), std::string(1023, 'x'));
}

TEST(BuildEvent, UnknownTypeBecomesNormal) {
  core::Redactor redactor;
  EventSpec spec{migrationRun(), "Info", "R", "A", "n"};
  EXPECT_EQ(buildEvent(spec, {}, std::chrono::system_clock::now(), redactor)["type"], "Normal");
}

TEST(EventRecorder, CreatesTheEventInTheEventsGroupOfTheRunsNamespace) {
  auto api = std::make_shared<FakeKubeApi>();
  auto redactor = std::make_shared<core::Redactor>();
  redactor->add("pw");
  EventRecorder recorder(api, redactor, {"alembic-sidecar", "pod-1"},
                         std::make_shared<FakeClock>());
  ASSERT_TRUE(recorder.warning(migrationRun(), "UpgradeFailed", "Upgrade", "pw leaked?"));
  ASSERT_EQ(api->created.size(), 1u);
  EXPECT_EQ(api->calls[0].rfind("create /apis/events.k8s.io/v1/namespaces/team/events/", 0), 0u);
  EXPECT_EQ(api->created[0]["note"], "**** leaked?");
  EXPECT_EQ(api->created[0]["reportingInstance"], "pod-1");
}

TEST(EventRecorder, ReportsAFailedCreate) {
  auto api = std::make_shared<FakeKubeApi>();
  api->failNext("create", core::Error::terminal(kForbidden, "cannot create events"));
  EventRecorder recorder(api, nullptr, {}, std::make_shared<FakeClock>());
  auto recorded = recorder.normal(migrationRun(), "R", "A", "n");
  ASSERT_FALSE(recorded);
  EXPECT_EQ(recorded.error().reason, kForbidden);
}

}  // namespace
}  // namespace alembic_sidecar::kube
