#include "alembic/models_scanner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace alembic_sidecar::alembic {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class Project {
 public:
  Project& file(const std::string& path, const std::string& text) {
    files_[path] = text;
    return *this;
  }
  RegistrationScan scan(const std::vector<std::string>& modelFiles,
                        const std::vector<std::string>& roots = {"."}) const {
    auto load = [this](const std::string& p) -> std::optional<std::string> {
      auto it = files_.find(p);
      return it == files_.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    auto list = [this](const std::string& dir) {
      std::vector<std::string> out;
      for (const auto& [path, _] : files_) {
        auto slash = path.rfind('/');
        if (slash != std::string::npos && path.substr(0, slash) == dir) {
          out.push_back(path);
        }
      }
      return out;
    };
    return scanRegistration({"migrations/env.py"}, modelFiles, roots, load, list);
  }

 private:
  std::map<std::string, std::string> files_;
};

std::vector<std::string> names(const std::vector<ModelClass>& classes) {
  std::vector<std::string> out;
  for (const auto& c : classes) {
    out.push_back(c.name + "@" + c.file + ":" + std::to_string(c.line));
  }
  return out;
}

const char* kUser =
    "from sqlmodel import Field, SQLModel\n\n"
    "class UserBase(SQLModel):\n    name: str\n\n"
    "class User(UserBase, table=True):\n    id: int = Field(primary_key=True)\n";
const char* kTag = "from sqlmodel import SQLModel\n\nclass Tag(SQLModel, table=True):\n    id: int\n";

Project templateProject() {
  Project p;
  p.file("migrations/env.py", "from app.db.base import metadata\n")
      .file("app/__init__.py", "")
      .file("app/db/__init__.py", "")
      .file("app/db/base.py", "from sqlmodel import SQLModel\nfrom app import models  # noqa\n")
      .file("app/models/__init__.py", "from app.models.user import User\n")
      .file("app/models/user.py", kUser)
      .file("app/models/tag.py", kTag);
  return p;
}

TEST(ModelsScanner, FindsTheClassNoImportReaches) {
  auto scan = templateProject().scan({"app/models/user.py", "app/models/tag.py"});
  EXPECT_THAT(names(scan.tables), ElementsAre("User@app/models/user.py:6", "Tag@app/models/tag.py:3"));
  EXPECT_THAT(names(scan.unregistered), ElementsAre("Tag@app/models/tag.py:3"));
}

struct RegistrationCase {
  const char* name;
  const char* initSource;
};

class RegistrationForms : public ::testing::TestWithParam<RegistrationCase> {};

TEST_P(RegistrationForms, CountAsRegistered) {
  auto project = templateProject();
  project.file("app/models/__init__.py", GetParam().initSource);
  auto scan = project.scan({"app/models/user.py", "app/models/tag.py"});
  EXPECT_THAT(scan.unregistered, IsEmpty()) << GetParam().initSource;
}

INSTANTIATE_TEST_SUITE_P(
    Table, RegistrationForms,
    ::testing::Values(
        RegistrationCase{"AbsoluteFrom", "from app.models.user import User\nfrom app.models.tag import Tag\n"},
        RegistrationCase{"Relative", "from .user import User\nfrom .tag import Tag\n"},
        RegistrationCase{"ModuleImport", "import app.models.user\nimport app.models.tag as t\n"},
        RegistrationCase{"FromPackageImportModules", "from . import tag, user\n"},
        RegistrationCase{"Parenthesised", "from app.models import (\n    tag,\n    user,\n)\n"},
        RegistrationCase{"DynamicLoader",
                         "import pkgutil, importlib\n"
                         "for m in pkgutil.iter_modules(__path__):\n"
                         "    importlib.import_module(f'{__name__}.{m.name}')\n"}),
    [](const ::testing::TestParamInfo<RegistrationCase>& info) { return info.param.name; });

TEST(ModelsScanner, TypeCheckingImportsDoNotRegister) {
  auto project = templateProject();
  project.file("app/models/__init__.py",
               "from typing import TYPE_CHECKING\n"
               "from app.models.user import User\n"
               "if TYPE_CHECKING:\n"
               "    from app.models.tag import Tag\n"
               "else:\n"
               "    pass\n");
  auto scan = project.scan({"app/models/user.py", "app/models/tag.py"});
  EXPECT_THAT(names(scan.unregistered), ElementsAre("Tag@app/models/tag.py:3"));
}

TEST(ModelsScanner, ImportsFollowedTransitivelyFromEnvPy) {
  auto scan = templateProject().scan({"app/models/user.py"});
  EXPECT_TRUE(scan.reachableModules.count("app.db.base"));
  EXPECT_TRUE(scan.reachableModules.count("app.models"));
  EXPECT_TRUE(scan.reachableModules.count("app.models.user"));
  EXPECT_FALSE(scan.reachableModules.count("app.models.tag"));
}

TEST(ModelsScanner, SrcLayoutThroughPrependSysPath) {
  Project p;
  p.file("migrations/env.py", "from app.models import User\n")
      .file("src/app/__init__.py", "")
      .file("src/app/models.py", kUser);
  auto scan = p.scan({"src/app/models.py"}, {"src"});
  EXPECT_THAT(scan.unregistered, IsEmpty());
  ASSERT_EQ(scan.tables.size(), 1u);
  EXPECT_EQ(scan.tables[0].module, "app.models");
}

TEST(TableClasses, DeclarativeAbstractAndNonTableModels) {
  auto classes = findTableClasses(
      "class Base(DeclarativeBase):\n    pass\n\n"
      "class Mixin(Base):\n    __abstract__ = True\n    __tablename__ = 'never'\n\n"
      "class Account(Base):\n    __tablename__ = 'account'\n    id = mapped_column(Integer)\n\n"
      "class Schema(SQLModel):\n    name: str\n\n"
      "class Legacy(Base):\n    __table__ = some_table\n\n"
      "class Explicit(SQLModel, table=False):\n    __tablename__ = 'x'\n",
      "m", "m.py");
  EXPECT_THAT(names(classes), ElementsAre("Account@m.py:8", "Legacy@m.py:15"));
}

TEST(ModuleNames, FromPaths) {
  EXPECT_EQ(moduleNameForPath("app/models/user.py"), "app.models.user");
  EXPECT_EQ(moduleNameForPath("app/models/__init__.py"), "app.models");
  EXPECT_EQ(moduleNameForPath("src/app/x.py", "src"), "app.x");
  EXPECT_EQ(moduleNameForPath("./app/x.py"), "app.x");
}

}  // namespace
}  // namespace alembic_sidecar::alembic
