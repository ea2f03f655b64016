#include "database/sql_types.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::database {
namespace {

using Kind = SqlType::Kind;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct TypeCase {
  const char* text;
  Kind kind;
  std::optional<int> length;
  std::optional<int> precision;
  int scale;
};

class SqlAlchemyType : public ::testing::TestWithParam<TypeCase> {};

TEST_P(SqlAlchemyType, Parses) {
  auto t = fromSqlAlchemy(GetParam().text);
  EXPECT_EQ(t.kind, GetParam().kind) << GetParam().text;
  EXPECT_EQ(t.length, GetParam().length);
  EXPECT_EQ(t.precision, GetParam().precision);
  EXPECT_EQ(t.scale, GetParam().scale);
}

INSTANTIATE_TEST_SUITE_P(
    Renders, SqlAlchemyType,
    ::testing::Values(
        TypeCase{"sqlmodel.sql.sqltypes.AutoString(length=20)", Kind::kVarchar, 20, std::nullopt,
                 0},
        TypeCase{"sqlmodel.sql.sqltypes.AutoString()", Kind::kText, std::nullopt, std::nullopt, 0},
        TypeCase{"sa.VARCHAR(length=100)", Kind::kVarchar, 100, std::nullopt, 0},
        TypeCase{"sa.String(50)", Kind::kVarchar, 50, std::nullopt, 0},
        TypeCase{"sa.TEXT()", Kind::kText, std::nullopt, std::nullopt, 0},
        TypeCase{"sa.CHAR()", Kind::kChar, 1, std::nullopt, 0},
        TypeCase{"sa.SmallInteger()", Kind::kSmallint, std::nullopt, std::nullopt, 0},
        TypeCase{"sa.INTEGER()", Kind::kInteger, std::nullopt, std::nullopt, 0},
        TypeCase{"sa.BIGINT()", Kind::kBigint, std::nullopt, std::nullopt, 0},
        TypeCase{"sa.Numeric(precision=6, scale=1)", Kind::kNumeric, std::nullopt, 6, 1},
        TypeCase{"sa.NUMERIC(10, 3)", Kind::kNumeric, std::nullopt, 10, 3},
        TypeCase{"sa.Float(precision=24)", Kind::kReal, std::nullopt, std::nullopt, 0},
        TypeCase{"postgresql.DOUBLE_PRECISION(precision=53)", Kind::kDouble, std::nullopt,
                 std::nullopt, 0},
        TypeCase{"sa.Boolean()", Kind::kBoolean, std::nullopt, std::nullopt, 0},
        TypeCase{"postgresql.UUID()", Kind::kUuid, std::nullopt, std::nullopt, 0},
        TypeCase{"sa.DateTime()", Kind::kOther, std::nullopt, std::nullopt, 0},
        TypeCase{"my.CustomType()", Kind::kUnknown, std::nullopt, std::nullopt, 0}));

TEST(PostgresType, ParsesFormatType) {
  EXPECT_EQ(fromPostgres("character varying(100)").length, 100);
  EXPECT_EQ(fromPostgres("character varying").kind, Kind::kText);
  EXPECT_EQ(fromPostgres("character(2)").kind, Kind::kChar);
  auto n = fromPostgres("numeric(10,3)");
  EXPECT_EQ(n.kind, Kind::kNumeric);
  EXPECT_EQ(n.precision, 10);
  EXPECT_EQ(n.scale, 3);
  EXPECT_EQ(fromPostgres("numeric").precision, std::nullopt);
  EXPECT_EQ(fromPostgres("double precision").kind, Kind::kDouble);
  EXPECT_EQ(fromPostgres("integer[]").kind, Kind::kOther);
  EXPECT_EQ(fromPostgres("timestamp without time zone").kind, Kind::kOther);
  EXPECT_EQ(fromPostgres("userrole").kind, Kind::kOther);
}

struct FitCase {
  const char* name;
  const char* from;    // format_type()
  const char* to;      // alembic render
  const char* fails;   // substring; "" for none
  const char* rounds;  // substring; "" for none
  bool untestable;
};

class Fit : public ::testing::TestWithParam<FitCase> {};

TEST_P(Fit, PicksTheRowsTheNewTypeCannotKeep) {
  const auto& c = GetParam();
  auto fit = fitConditions(fromPostgres(c.from), fromSqlAlchemy(c.to), "\"v\"");
  if (*c.fails == '\0') {
    EXPECT_THAT(fit.fails, IsEmpty());
  } else {
    EXPECT_THAT(fit.fails, HasSubstr(c.fails));
  }
  if (*c.rounds == '\0') {
    EXPECT_THAT(fit.rounds, IsEmpty());
  } else {
    EXPECT_THAT(fit.rounds, HasSubstr(c.rounds));
  }
  EXPECT_EQ(fit.untestable, c.untestable);
}

INSTANTIATE_TEST_SUITE_P(
    Table, Fit,
    ::testing::Values(
        FitCase{"ShorterVarchar", "character varying(100)", "sa.String(length=20)",
                "char_length(rtrim(\"v\"::text)) > 20", "", false},
        FitCase{"LongerVarcharWidens", "character varying(100)", "sa.String(length=200)", "", "",
                false},
        FitCase{"TextToVarchar", "text", "sa.String(length=5)", "> 5", "", false},
        FitCase{"VarcharToText", "character varying(5)", "sa.Text()", "", "", false},
        FitCase{"IntegerToSmallint", "integer", "sa.SmallInteger()",
                "\"v\" NOT BETWEEN -32768 AND 32767", "", false},
        FitCase{"SmallintToBigintWidens", "smallint", "sa.BigInteger()", "", "", false},
        FitCase{"NumericToInteger", "numeric(10,2)", "sa.Integer()",
                "round(\"v\"::numeric) NOT BETWEEN -2147483648", "<> round(\"v\"::numeric)", false},
        FitCase{"TextToInteger", "character varying", "sa.Integer()", "ELSE true END", "", false},
        FitCase{"NarrowerNumeric", "numeric(10,3)", "sa.Numeric(precision=6, scale=1)", ">= 100000",
                "<> round(\"v\"::numeric, 1)", false},
        FitCase{"WiderNumeric", "numeric(6,1)", "sa.Numeric(precision=10, scale=3)", "", "", false},
        FitCase{"SameScaleFewerDigits", "numeric(10,2)", "sa.Numeric(precision=6, scale=2)",
                ">= 10000", "", false},
        FitCase{"IntegerToSmallNumeric", "integer", "sa.Numeric(precision=4, scale=0)",
                "abs(\"v\"::numeric) >= 10000", "", false},
        FitCase{"IntegerToLargeNumeric", "integer", "sa.Numeric(precision=12, scale=2)", "", "",
                false},
        FitCase{"TextToBoolean", "text", "sa.Boolean()", "NOT IN ('t'", "", false},
        FitCase{"TextToUuid", "text", "postgresql.UUID()", "!~", "", false},
        FitCase{"DoubleToReal", "double precision", "sa.REAL()", "3.4028234663852886e38", "",
                false},
        FitCase{"TextToTimestampCannotBeTested", "text", "sa.DateTime()", "", "", true},
        FitCase{"UnknownTargetCannotBeTested", "text", "my.Custom()", "", "", true},
        FitCase{"IntegerToText", "integer", "sa.Text()", "", "", false},
        FitCase{"BooleanToInteger", "boolean", "sa.Integer()", "", "", false}),
    [](const ::testing::TestParamInfo<FitCase>& info) { return info.param.name; });

}  // namespace
}  // namespace alembic_sidecar::database
