#include "database/key_widening.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::database {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

alembic::ParsedRevision parse(const std::string& upgrade) {
  auto parsed = alembic::parseRevisionFile(
      "revision = 'r2'\ndown_revision = 'r1'\n\n"
      "def upgrade():\n" +
      upgrade + "\ndef downgrade():\n    pass\n");
  EXPECT_TRUE(parsed.ok());
  return *parsed;
}

// What autogenerate renders for `id` becoming a BigInteger primary key.
constexpr char kWiden[] =
    "    op.alter_column('user', 'id', existing_type=sa.INTEGER(), type_=sa.BigInteger(), "
    "existing_nullable=False, autoincrement=True, existing_server_default=sa.text(\"nextval("
    "'user_id_seq'::regclass)\"))\n";

// The catalog's answer: user.id owns user_id_seq (integer); item.owner_id references it.
const QueryRows kCatalog = {{"0", "sequence", "public", "user_id_seq", "integer", std::nullopt},
                            {"0", "foreign_key", "public", "item", "integer", "owner_id"}};

TEST(KeyWidening, FindsIntegerWideningsOnly) {
  auto w = integerWidenings(parse(std::string(kWiden) +
                                  "    op.alter_column('item', 'price_cents', "
                                  "existing_type=sa.BIGINT(), type_=sa.Integer())\n"
                                  "    op.alter_column('team', 'name', "
                                  "existing_type=sa.VARCHAR(length=10), type_=sa.Text())\n"));
  ASSERT_THAT(w, SizeIs(1));
  EXPECT_EQ(w[0].table.name, "user");
  EXPECT_EQ(w[0].column, "id");
  auto q = keyWideningQuery(w);
  EXPECT_EQ(q.params, std::vector<std::string>{R"([["","user","id"]])"});
  EXPECT_THAT(q.sql, AllOf(HasSubstr("d.deptype = 'a'"), HasSubstr("con.contype = 'f'")));
}

TEST(KeyWidening, SequenceAndReferencingColumnEscalateWithTheCompletingStatements) {
  auto rev = parse(kWiden);
  auto findings = keyWideningFindings(integerWidenings(rev), kCatalog, rev, "v.py");
  ASSERT_THAT(findings, SizeIs(2));
  EXPECT_EQ(findings[0].code, "SequenceNotWidened");
  EXPECT_EQ(findings[0].severity, "escalation");
  EXPECT_THAT(findings[0].message, AllOf(HasSubstr("user.id to bigint"), HasSubstr("user_id_seq"),
                                         HasSubstr("AS integer")));
  EXPECT_THAT(findings[0].recommendation,
              HasSubstr("op.execute('ALTER SEQUENCE \"user_id_seq\" AS bigint')"));
  EXPECT_EQ(findings[1].code, "ReferencingColumnNotWidened");
  EXPECT_THAT(findings[1].recommendation,
              HasSubstr("op.alter_column('item', 'owner_id', existing_type=sa.INTEGER(), "
                        "type_=sa.BigInteger())"));
  EXPECT_EQ(findings[0].line, 5);
}

TEST(KeyWidening, WhatTheRevisionCompletesIsNotReported) {
  auto rev = parse(std::string(kWiden) +
                   "    op.alter_column('item', 'owner_id', existing_type=sa.INTEGER(), "
                   "type_=sa.BigInteger())\n"
                   "    op.execute('ALTER SEQUENCE user_id_seq AS bigint')\n");
  EXPECT_THAT(keyWideningFindings(integerWidenings(rev), kCatalog, rev, "v.py"), IsEmpty());
  QueryRows wide = {{"0", "sequence", "public", "user_id_seq", "bigint", std::nullopt}};
  auto plain = parse(kWiden);
  EXPECT_THAT(keyWideningFindings(integerWidenings(plain), wide, plain, "v.py"), IsEmpty());
}

}  // namespace
}  // namespace alembic_sidecar::database
