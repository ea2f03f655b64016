#include "cli/local_run.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.h"

namespace alembic_sidecar::cli {
namespace {

namespace fs = std::filesystem;

class ModelPaths : public ::testing::Test {
 protected:
  void SetUp() override {
    cwd_ = temp_.str() + "/work";
    project_ = cwd_ + "/app";
    fs::create_directories(project_ + "/tracker");
    fs::create_directories(cwd_ + "/elsewhere");
    std::ofstream(project_ + "/tracker/models.py") << "\n";
    std::ofstream(cwd_ + "/elsewhere/models.py") << "\n";
  }

  testing::TempDir temp_;
  std::string cwd_;
  std::string project_;
};

TEST_F(ModelPaths, CurrentDirectoryFirst) {
  // `--project app --models app/tracker/models.py` from the directory above the project.
  auto resolved = resolveModelPaths({"app/tracker/models.py"}, cwd_, project_);
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_THAT(*resolved, ::testing::ElementsAre(project_ + "/tracker/models.py"));
}

TEST_F(ModelPaths, ThenTheProject) {
  auto resolved = resolveModelPaths({"tracker/models.py", "tracker.models"}, cwd_, project_);
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_THAT(*resolved, ::testing::ElementsAre("tracker/models.py", "tracker.models"));
}

TEST_F(ModelPaths, NeitherListsWhatWasTried) {
  auto resolved = resolveModelPaths({"tracker/model.py"}, cwd_, project_);
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().reason, "UsageError");
  EXPECT_THAT(resolved.error().message, ::testing::HasSubstr(cwd_ + "/tracker/model.py"));
  EXPECT_THAT(resolved.error().message, ::testing::HasSubstr(project_ + "/tracker/model.py"));
}

}  // namespace
}  // namespace alembic_sidecar::cli
