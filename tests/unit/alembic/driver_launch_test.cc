#include "alembic/driver_launch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::alembic {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> command(std::vector<std::string> alembic,
                                 std::vector<std::string> python = {}) {
  DriverLaunch launch;
  launch.alembicCommand = std::move(alembic);
  launch.python = std::move(python);
  launch.root = "/src/app";
  auto argv = driverCommand(launch);
  EXPECT_TRUE(argv) << (argv ? "" : argv.error().message);
  return argv ? *argv : std::vector<std::string>{};
}

struct Form {
  std::vector<std::string> alembic;
  std::vector<std::string> interpreter;  // argv before -c
};

class DriverCommandForms : public ::testing::TestWithParam<Form> {};

TEST_P(DriverCommandForms, RunsTheBootstrapInTheAppsInterpreter) {
  auto argv = command(GetParam().alembic);
  const auto& want = GetParam().interpreter;
  ASSERT_EQ(argv.size(), want.size() + 2);
  EXPECT_EQ(std::vector<std::string>(argv.begin(), argv.begin() + static_cast<long>(want.size())),
            want);
  EXPECT_EQ(argv[want.size()], "-c");
  EXPECT_EQ(argv.back(), driverBootstrap());
}

INSTANTIATE_TEST_SUITE_P(
    EveryFormPeopleUse, DriverCommandForms,
    ::testing::Values(Form{{"python", "-m", "alembic"}, {"python"}},
                      Form{{"/usr/bin/python3", "-m", "alembic"}, {"/usr/bin/python3"}},
                      Form{{"uv", "run", "python", "-m", "alembic"}, {"uv", "run", "python"}},
                      Form{{"uv", "run", "alembic"}, {"uv", "run", "python"}},
                      Form{{"poetry", "run", "alembic"}, {"poetry", "run", "python"}}));

TEST(DriverCommand, BareAlembic_ResolvesItsShebangInTheProject) {
  auto argv = command({"alembic"});
  ASSERT_EQ(argv.size(), 5u);
  EXPECT_EQ(argv[0], "python3");
  EXPECT_EQ(argv[1], "-c");
  EXPECT_THAT(argv[2], ::testing::HasSubstr("#!"));
  EXPECT_EQ(argv[3], "/src/app");
  EXPECT_EQ(argv[4], "alembic");
}

TEST(DriverCommand, PathToAlembic_ResolvesThatScript) {
  auto argv = command({".venv/bin/alembic"});
  ASSERT_EQ(argv.size(), 5u);
  EXPECT_EQ(argv[4], ".venv/bin/alembic");
}

TEST(DriverCommand, PythonOverride_WinsOverTheAlembicCommand) {
  auto argv = command({"uv", "run", "alembic"}, {"/opt/venv/bin/python"});
  EXPECT_EQ(argv.front(), "/opt/venv/bin/python");
  EXPECT_EQ(argv.size(), 3u);
}

TEST(DriverCommand, UnknownWrapper_AsksForPython) {
  DriverLaunch launch;
  launch.alembicCommand = {"./bin/migrate"};
  auto argv = driverCommand(launch);
  ASSERT_FALSE(argv);
  EXPECT_EQ(argv.error().reason, "UsageError");
  EXPECT_THAT(argv.error().message, ::testing::HasSubstr("--python"));
}

}  // namespace
}  // namespace alembic_sidecar::alembic
