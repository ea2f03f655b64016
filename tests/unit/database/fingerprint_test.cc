#include "database/fingerprint.h"

#include <gtest/gtest.h>

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

TEST(FingerprintDiff, EqualSchemasHaveNoDifference) {
  auto a = SchemaFingerprint::fromCatalog(schema());
  EXPECT_TRUE(diffFingerprints(a, a).empty());
}

}  // namespace
}  // namespace alembic_sidecar::database
