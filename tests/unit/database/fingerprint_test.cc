#include "database/fingerprint.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace alembic_sidecar::database {
namespace {

std::vector<CatalogObject> schema() {
  return {
      {"table", "public.user", "relkind r persistence p"},
      {"column", "public.user.email", "character varying(255) NOT NULL"},
      {"index", "public.user.ix_user_email",
       "CREATE INDEX ix_user_email ON public.\"user\"   USING btree (email)"},
      {"table", "public.alembic_version", "relkind r persistence p"},
      {"column", "public.alembic_version.version_num", "character varying(32) NOT NULL"},
      {"constraint", "public.alembic_version.alembic_version_pkc", "p PRIMARY KEY (version_num)"},
      {"enum", "public.userrole", "'admin', 'member'"},
  };
}

TEST(Fingerprint, LeavesOutTheVersionTableAndCollapsesWhitespace) {
  auto fp = SchemaFingerprint::fromCatalog(schema());
  EXPECT_EQ(fp.canonicalText(),
            "column public.user.email: character varying(255) NOT NULL\n"
            "enum public.userrole: 'admin', 'member'\n"
            "index public.user.ix_user_email: CREATE INDEX ix_user_email ON public.\"user\" USING "
            "btree (email)\n"
            "table public.user: relkind r persistence p\n");
}

TEST(Fingerprint, OrderOfRowsDoesNotMatter) {
  auto rows = schema();
  auto a = SchemaFingerprint::fromCatalog(rows);
  std::reverse(rows.begin(), rows.end());
  auto b = SchemaFingerprint::fromCatalog(rows);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.sha256(), b.sha256());
  EXPECT_EQ(a.sha256().size(), 64u);
}

TEST(Fingerprint, Sha256IsOfTheCanonicalText) {
  // sha256 of the empty string.
  EXPECT_EQ(SchemaFingerprint{}.sha256(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(FingerprintDiff, ReportsAddedRemovedAndChangedObjects) {
  auto before = SchemaFingerprint::fromCatalog(schema());
  auto rows = schema();
  rows.erase(rows.begin() + 2);                       // index gone
  rows[1].definition = "character varying(255) NULL";  // nullability changed
  rows.push_back({"sequence", "public.user_id_seq", "integer start 1"});
  auto after = SchemaFingerprint::fromCatalog(rows);

  auto diffs = diffFingerprints(before, after);
  ASSERT_EQ(diffs.size(), 3u);
  EXPECT_EQ(diffs[0].object, "column public.user.email");
  EXPECT_EQ(*diffs[0].before, "character varying(255) NOT NULL");
  EXPECT_EQ(*diffs[0].after, "character varying(255) NULL");
  EXPECT_EQ(diffs[1].object, "index public.user.ix_user_email");
  EXPECT_FALSE(diffs[1].after.has_value());
  EXPECT_EQ(diffs[2].object, "sequence public.user_id_seq");
  EXPECT_FALSE(diffs[2].before.has_value());
  EXPECT_EQ(describeDifference(diffs[1], "before", "after"),
            "index public.user.ix_user_email exists before but not after");
  EXPECT_EQ(describeDifference(diffs[2], "before", "after"),
            "sequence public.user_id_seq exists after but not before");
}

/**
 * One object of every kind the catalog queries of pg_database.cc read, as one read of the
 * catalog returns them. Each call builds the rows afresh; `otherLayout` varies what a second
 * read of the same schema may vary: the order of the rows and the whitespace in definitions.
 */
std::vector<CatalogObject> everyKind(bool otherLayout = false) {
  const std::string gap = otherLayout ? "  \n  " : " ";
  std::vector<CatalogObject> rows = {
      {"table", "public.user", "relkind r persistence p"},
      {"column", "public.user.email", "character varying(255)" + gap + "NOT NULL"},
      {"index", "public.user.ix_user_email",
       "CREATE UNIQUE INDEX ix_user_email ON public.\"user\" USING btree" + gap + "(email)"},
      {"constraint", "public.user.user_pkey", "p PRIMARY KEY (id)"},
      {"enum", "public.userrole", "'admin', 'member'"},
      {"sequence", "public.user_id_seq",
       "integer start 1 increment 1 min 1 max 2147483647 cache 1 owned by user.id"},
      {"view", "public.active_user", "SELECT id FROM \"user\" WHERE" + gap + "active"},
      {"materialized-view", "public.user_count", "SELECT count(*) AS count FROM \"user\""},
      {"function", "public.touch()", "md5 0cc175b9c0f1b6a831c399e269772661"},
      {"trigger", "public.user.touch_user",
       "CREATE TRIGGER touch_user BEFORE UPDATE ON public.\"user\" FOR EACH ROW EXECUTE "
       "FUNCTION touch()"},
      {"extension", "citext", "schema public"},
      {"table", "public.alembic_version", "relkind r persistence p"},
      {"column", "public.alembic_version.version_num", "character varying(32) NOT NULL"},
  };
  if (otherLayout) {
    std::reverse(rows.begin(), rows.end());
  }
  return rows;
}

TEST(FingerprintDiff, EqualSchemasHaveNoDifference) {
  // Two reads of one schema, built independently: no object is compared with itself.
  const auto first = SchemaFingerprint::fromCatalog(everyKind());
  const auto second = SchemaFingerprint::fromCatalog(everyKind(/*otherLayout=*/true));
  ASSERT_EQ(first.objects().size(), 11u);  // every kind, the version table left out
  EXPECT_TRUE(diffFingerprints(first, second).empty())
      << describeDifference(diffFingerprints(first, second).front(), "first", "second");
  EXPECT_TRUE(diffFingerprints(second, first).empty());
  EXPECT_EQ(first, second);
  EXPECT_EQ(first.sha256(), second.sha256());
}

// For every kind of object: a changed definition, a missing object and an extra object are
// each found, named, and nothing else is reported.
TEST(FingerprintDiff, FindsADifferenceInEveryKindOfObject) {
  const auto base = everyKind();
  const auto before = SchemaFingerprint::fromCatalog(base);
  for (size_t i = 0; i < base.size(); ++i) {
    const CatalogObject& object = base[i];
    if (object.key.find("alembic_version") != std::string::npos) {
      continue;
    }
    SCOPED_TRACE(object.kind + " " + object.key);
    const std::string name = object.kind + " " + object.key;

    auto changedRows = everyKind(/*otherLayout=*/false);
    changedRows[i].definition += " changed";
    auto changed = diffFingerprints(before, SchemaFingerprint::fromCatalog(changedRows));
    ASSERT_EQ(changed.size(), 1u);
    EXPECT_EQ(changed[0].object, name);
    ASSERT_TRUE(changed[0].before && changed[0].after);
    EXPECT_NE(*changed[0].before, *changed[0].after);

    auto missingRows = everyKind(/*otherLayout=*/false);
    missingRows.erase(missingRows.begin() + static_cast<long>(i));
    auto missing = diffFingerprints(before, SchemaFingerprint::fromCatalog(missingRows));
    ASSERT_EQ(missing.size(), 1u);
    EXPECT_EQ(missing[0].object, name);
    EXPECT_TRUE(missing[0].before.has_value());
    EXPECT_FALSE(missing[0].after.has_value());

    auto extra = diffFingerprints(SchemaFingerprint::fromCatalog(missingRows), before);
    ASSERT_EQ(extra.size(), 1u);
    EXPECT_EQ(extra[0].object, name);
    EXPECT_FALSE(extra[0].before.has_value());
    EXPECT_TRUE(extra[0].after.has_value());
  }
}

TEST(FingerprintDiff, SameKeyOfAnotherKindIsAnotherObject) {
  // A view replacing a table of the same name is a difference, not an equal key.
  auto table = SchemaFingerprint::fromCatalog({{"table", "public.report", "relkind r"}});
  auto view = SchemaFingerprint::fromCatalog({{"view", "public.report", "relkind r"}});
  EXPECT_EQ(diffFingerprints(table, view).size(), 2u);
  EXPECT_NE(table.sha256(), view.sha256());
}

}  // namespace
}  // namespace alembic_sidecar::database
