#include "alembic/uncompared_findings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

namespace alembic_sidecar::alembic {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

ParsedRevision parse(const std::string& upgrade) {
  auto parsed = parseRevisionFile("revision = 'r2'\ndown_revision = 'r1'\n\ndef upgrade():\n" +
                                  upgrade + "\ndef downgrade():\n    pass\n");
  EXPECT_TRUE(parsed.ok());
  return *parsed;
}

UncomparedDifference serverDefault() {
  return {"server_default", "", "item", "price_cents", "", "0", ""};
}
UncomparedDifference namedCheck() {
  return {"check_constraint", "", "item", "", "ck_item_price", "price_cents >= 0", ""};
}
UncomparedDifference computed() {
  return {"computed", "", "item", "price_doubled", "", "price_cents * 3", "(price_cents * 2)"};
}
UncomparedDifference identity() { return {"identity", "", "item", "id", "", "ALWAYS", ""}; }
UncomparedDifference predicate() {
  return {"index_predicate", "", "user", "", "ix_user_email", "email IS NOT NULL", ""};
}
UncomparedDifference columnComment() {
  return {"comment", "", "item", "title", "", "shown to buyers", ""};
}

struct Case {
  const char* name;
  UncomparedDifference difference;
  const char* upgrade;  // the generated revision's upgrade(); nullptr: no revision at all
  const char* code;     // nullptr: the revision covers it, no finding
};

const Case kCases[] = {
    {"server default, no revision", serverDefault(), nullptr, "ServerDefaultNotCompared"},
    {"server default, empty revision", serverDefault(), "    pass\n", "ServerDefaultNotCompared"},
    {"server default, alter_column without it", serverDefault(),
     "    op.alter_column('item', 'price_cents', nullable=False)\n", "ServerDefaultNotCompared"},
    {"server default, other column", serverDefault(),
     "    op.alter_column('item', 'title', server_default='x')\n", "ServerDefaultNotCompared"},
    {"server default, carried", serverDefault(),
     "    op.alter_column('item', 'price_cents',\n               existing_type=sa.INTEGER(),\n"
     "               server_default='0')\n",
     nullptr},
    {"server default, in a batch", serverDefault(),
     "    with op.batch_alter_table('item') as batch_op:\n"
     "        batch_op.alter_column('price_cents', server_default='0')\n",
     nullptr},
    {"check, missing", namedCheck(), "    pass\n", "CheckConstraintNotCompared"},
    {"check, another name", namedCheck(),
     "    op.create_check_constraint('ck_other', 'item', 'price_cents < 10')\n",
     "CheckConstraintNotCompared"},
    {"check, created", namedCheck(),
     "    op.create_check_constraint('ck_item_price', 'item', 'price_cents >= 0')\n", nullptr},
    {"check only in the database, dropped",
     {"check_constraint", "", "item", "", "ck_old", "", "CHECK ((price_cents > 0))"},
     "    op.drop_constraint('ck_old', 'item', type_='check')\n", nullptr},
    {"unnamed check, any create on the table",
     {"check_constraint", "", "item", "", "", "price_cents >= 0", ""},
     "    op.create_check_constraint(None, 'item', 'price_cents >= 0')\n", nullptr},
    {"computed, alter_column cannot carry it", computed(),
     "    op.alter_column('item', 'price_doubled', existing_type=sa.INTEGER())\n",
     "ComputedColumnNotCompared"},
    {"computed, column replaced", computed(),
     "    op.drop_column('item', 'price_doubled')\n"
     "    op.add_column('item', sa.Column('price_doubled', sa.Integer(), "
     "sa.Computed('price_cents * 3', ), nullable=True))\n",
     nullptr},
    {"identity, missing", identity(), "    pass\n", "IdentityNotCompared"},
    {"identity, altered", identity(),
     "    op.alter_column('item', 'id', server_default=sa.Identity(always=True))\n", nullptr},
    {"predicate, missing", predicate(), "    pass\n", "IndexPredicateNotCompared"},
    {"predicate, index on another table", predicate(),
     "    op.create_index('ix_user_email', 'team', ['email'], unique=False)\n",
     "IndexPredicateNotCompared"},
    {"predicate, index recreated", predicate(),
     "    op.drop_index('ix_user_email', table_name='user')\n"
     "    op.create_index('ix_user_email', 'user', ['email'], unique=False, "
     "postgresql_where=sa.text('email IS NOT NULL'))\n",
     nullptr},
    {"column comment, missing", columnComment(), "    pass\n", "CommentNotCompared"},
    {"column comment, altered", columnComment(),
     "    op.alter_column('item', 'title', comment='shown to buyers')\n", nullptr},
    {"table comment, created",
     {"comment", "", "item", "", "", "things for sale", ""},
     "    op.create_table_comment('item', 'things for sale')\n", nullptr},
    {"table recreated carries everything", namedCheck(),
     "    op.drop_table('item')\n    op.create_table('item', sa.Column('id', sa.Integer()))\n",
     nullptr},
};

class UncomparedFindingsTest : public ::testing::TestWithParam<Case> {};

TEST_P(UncomparedFindingsTest, EscalatesWhatTheRevisionDoesNotCarry) {
  const auto& c = GetParam();
  std::optional<ParsedRevision> parsed;
  UncomparedContext ctx;
  ctx.envPy = "migrations/env.py";
  if (c.upgrade != nullptr) {
    parsed = parse(c.upgrade);
    ctx.revision = &*parsed;
    ctx.file = "migrations/versions/r2.py";
  }
  auto findings = uncomparedFindings({c.difference}, ctx);
  if (c.code == nullptr) {
    EXPECT_THAT(findings, IsEmpty()) << c.name << ": " << findings.front().message;
    return;
  }
  ASSERT_EQ(findings.size(), 1u) << c.name;
  EXPECT_EQ(findings[0].code, c.code) << c.name;
  EXPECT_EQ(findings[0].severity, "escalation") << c.name;
  EXPECT_EQ(findings[0].file, ctx.file) << c.name;
  EXPECT_FALSE(findings[0].recommendation.empty()) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Cases, UncomparedFindingsTest, ::testing::ValuesIn(kCases));

UncomparedContext noRevision() {
  UncomparedContext ctx;
  ctx.envPy = "migrations/env.py";
  return ctx;
}

TEST(UncomparedFindings, ServerDefault_RecommendsTheEnvPySetting) {
  auto f = uncomparedFindings({serverDefault()}, noRevision());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_THAT(f[0].message, HasSubstr("item.price_cents"));
  EXPECT_THAT(f[0].message, HasSubstr("`0`"));
  EXPECT_THAT(f[0].message, HasSubstr("the schema at head has none"));
  EXPECT_THAT(f[0].recommendation,
              HasSubstr("compare_server_default=True to context.configure() in migrations/env.py"));
}

TEST(UncomparedFindings, CheckConstraint_RecommendsAComparatorOrApprovedRawSql) {
  auto f = uncomparedFindings({namedCheck()}, noRevision());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_THAT(f[0].message, HasSubstr("CHECK constraint ck_item_price (price_cents >= 0)"));
  EXPECT_THAT(f[0].message, HasSubstr("never compares CHECK constraints"));
  EXPECT_THAT(f[0].recommendation, HasSubstr("comparators.dispatch_for(\"table\")"));
  EXPECT_THAT(f[0].recommendation, HasSubstr("op.create_check_constraint"));
  EXPECT_THAT(f[0].recommendation, HasSubstr("--approve raw-sql"));
}

TEST(UncomparedFindings, CheckConstraintOnlyInTheDatabase_SaysTheModelsDropIt) {
  auto f = uncomparedFindings(
      {{"check_constraint", "", "item", "", "ck_old", "", "CHECK ((price_cents > 0))"}},
      noRevision());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_THAT(f[0].message, HasSubstr("which the models no longer declare"));
}

TEST(UncomparedFindings, Computed_QuotesAlembicsWarningAndBothExpressions) {
  auto f = uncomparedFindings({computed()}, noRevision());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_THAT(f[0].message, HasSubstr("Computed default on item.price_doubled cannot be modified"));
  EXPECT_THAT(f[0].message, HasSubstr("`price_cents * 3`"));
  EXPECT_THAT(f[0].message, HasSubstr("`(price_cents * 2)`"));
  EXPECT_THAT(f[0].recommendation, HasSubstr("--approve destructive"));
}

TEST(UncomparedFindings, IndexPredicate_NamesBothPredicates) {
  auto f = uncomparedFindings({predicate()}, noRevision());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_THAT(f[0].message, HasSubstr("index ix_user_email on user"));
  EXPECT_THAT(f[0].message, HasSubstr("WHERE email IS NOT NULL"));
  EXPECT_THAT(f[0].message, HasSubstr("has none (a full index)"));
  EXPECT_THAT(f[0].recommendation, HasSubstr("new name"));
}

TEST(UncomparedFindings, SchemaQualifiedTable_MatchesTheRevisionsBareName) {
  UncomparedDifference d = serverDefault();
  d.schema = "billing";
  auto parsed = parse("    op.alter_column('item', 'price_cents', server_default='0', "
                      "schema='billing')\n");
  UncomparedContext ctx = noRevision();
  ctx.revision = &parsed;
  EXPECT_THAT(uncomparedFindings({d}, ctx), IsEmpty());
  ctx.revision = nullptr;
  auto f = uncomparedFindings({d}, ctx);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_THAT(f[0].message, HasSubstr("billing.item.price_cents"));
}

TEST(UncomparedFindings, UnknownKind_IsIgnored) {
  EXPECT_THAT(uncomparedFindings({{"sequence", "", "item", "", "", "", ""}}, noRevision()),
              IsEmpty());
}

TEST(UncomparedFindings, CodesAreStable) {
  EXPECT_EQ(uncomparedCode("server_default"), "ServerDefaultNotCompared");
  EXPECT_EQ(uncomparedCode("check_constraint"), "CheckConstraintNotCompared");
  EXPECT_EQ(uncomparedCode("computed"), "ComputedColumnNotCompared");
  EXPECT_EQ(uncomparedCode("identity"), "IdentityNotCompared");
  EXPECT_EQ(uncomparedCode("index_predicate"), "IndexPredicateNotCompared");
  EXPECT_EQ(uncomparedCode("comment"), "CommentNotCompared");
}

}  // namespace
}  // namespace alembic_sidecar::alembic
