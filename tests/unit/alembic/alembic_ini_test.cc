#include "alembic/alembic_ini.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::alembic {
namespace {

TEST(AlembicIni, ReadsScriptLocationAndDefaultsVersions) {
  auto ini = parseAlembicIni(
      "[alembic]\nscript_location = migrations\nprepend_sys_path = .\n\n[loggers]\nkeys=root\n",
      ".");
  ASSERT_TRUE(ini.ok());
  EXPECT_EQ(ini->scriptLocation, "migrations");
  EXPECT_THAT(ini->versionLocations, ::testing::ElementsAre("migrations/versions"));
  EXPECT_THAT(ini->prependSysPath, ::testing::ElementsAre("."));
}

TEST(AlembicIni, ExpandsHereAndPackageLocations) {
  auto ini = parseAlembicIni(
      "[alembic]\nscript_location = %(here)s/db/migrations\n"
      "version_locations = %(here)s/db/migrations/versions %(here)s/extra\n"
      "prepend_sys_path = . src\n",
      "backend");
  ASSERT_TRUE(ini.ok());
  EXPECT_EQ(ini->scriptLocation, "backend/db/migrations");
  EXPECT_THAT(ini->versionLocations,
              ::testing::ElementsAre("backend/db/migrations/versions", "backend/extra"));
  EXPECT_THAT(ini->prependSysPath, ::testing::ElementsAre("backend", "backend/src"));

  auto pkg = parseAlembicIni("[alembic]\nscript_location = myapp.db:migrations\n", ".");
  ASSERT_TRUE(pkg.ok());
  EXPECT_EQ(pkg->scriptLocation, "myapp/db/migrations");
}

TEST(AlembicIni, MissingScriptLocationIsProjectInvalid) {
  auto ini = parseAlembicIni("[loggers]\nkeys = root\n", ".");
  ASSERT_FALSE(ini.ok());
  EXPECT_EQ(ini.error().reason, "ProjectInvalid");
}

TEST(JoinRelative, CollapsesDotsAndParents) {
  EXPECT_EQ(joinRelative(".", "./a/./b"), "a/b");
  EXPECT_EQ(joinRelative("a/b", "../c"), "a/c");
  EXPECT_EQ(joinRelative("a", "/abs"), "/abs");
}

}  // namespace
}  // namespace alembic_sidecar::alembic
