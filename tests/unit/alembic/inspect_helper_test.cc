#include "alembic/inspect_helper.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mocks/fake_workspace.h"

namespace alembic_sidecar::alembic {
namespace {

TEST(InspectOutput, ReadsTheMarkedJsonAfterEnvPyNoise) {
  auto r = parseInspectOutput(
      "printed by env.py\n@@ALEMBIC_SIDECAR_INSPECT@@{\"ok\": true, \"alembicVersion\": \"1.8.1\", "
      "\"compareType\": false, \"heads\": [\"abc\"], \"inSync\": false, "
      "\"enums\": [{\"name\": \"userrole\", \"labels\": [\"admin\", null, \"member\"]}], "
      "\"ops\": [{\"op\": \"add_column\", \"table\": \"user\", \"column\": \"phone\", \"name\": \"\"}]}\n",
      "");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->alembicVersion, "1.8.1");
  EXPECT_EQ(r->compareType, false);
  EXPECT_THAT(r->heads, ::testing::ElementsAre("abc"));
  ASSERT_EQ(r->enums.size(), 1u);
  EXPECT_THAT(r->enums[0].labels, ::testing::ElementsAre("admin", "member"));
  EXPECT_FALSE(r->inSync);
  ASSERT_EQ(r->pendingOps.size(), 1u);
  EXPECT_EQ(r->pendingOps[0].column, "phone");
}

TEST(InspectOutput, EnvPyFailureAndMissingMarkerAreErrorsWithTheReason) {
  auto failed = parseInspectOutput(
      "@@ALEMBIC_SIDECAR_INSPECT@@{\"ok\": false, \"error\": \"RuntimeError: boom\"}", "");
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.error().message, ::testing::HasSubstr("RuntimeError: boom"));
  auto silent = parseInspectOutput("", "ModuleNotFoundError: No module named 'alembic'");
  ASSERT_FALSE(silent.ok());
  EXPECT_THAT(silent.error().message, ::testing::HasSubstr("No module named 'alembic'"));
}

TEST(PythonFor, DerivesTheInterpreterFromTheAlembicCommand) {
  testing::FakeWorkspace ws;
  EXPECT_THAT(pythonFor(ws, {"uv", "run", "alembic"}), ::testing::ElementsAre("uv", "run", "python"));
  ws.handler = [](const workspace::Command& cmd) {
    return workspace::CommandOutput{cmd.argv[0] == "which" ? 0 : 1, "/venv/bin/alembic\n", "", false};
  };
  ws.files["/venv/bin/alembic"] = "#!/venv/bin/python3.11\nimport sys\n";
  EXPECT_THAT(pythonFor(ws, {"alembic"}), ::testing::ElementsAre("/venv/bin/python3.11"));
  ws.files["/venv/bin/alembic"] = "#!/usr/bin/env python3\n";
  EXPECT_THAT(pythonFor(ws, {"alembic"}), ::testing::ElementsAre("/usr/bin/env", "python3"));
  EXPECT_THAT(pythonFor(ws, {"poetry", "exec", "migrate"}), ::testing::ElementsAre("python3"));
}

}  // namespace
}  // namespace alembic_sidecar::alembic
