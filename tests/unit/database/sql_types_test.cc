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
        TypeCase{"sa.DateTime()", Kind::kTimestamp, std::nullopt, std::nullopt, 0},
        TypeCase{"sa.DateTime(timezone=True)", Kind::kTimestampTz, std::nullopt, std::nullopt, 0},
        TypeCase{"sa.Date()", Kind::kDate, std::nullopt, std::nullopt, 0},
        TypeCase{"postgresql.JSONB(astext_type=sa.Text())", Kind::kJsonb, std::nullopt,
                 std::nullopt, 0},
        TypeCase{"sa.ARRAY(sa.Integer())", Kind::kArray, std::nullopt, std::nullopt, 0},
        TypeCase{"postgresql.INET()", Kind::kOther, std::nullopt, std::nullopt, 0},
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
  EXPECT_EQ(fromPostgres("integer[]").kind, Kind::kArray);
  EXPECT_EQ(fromPostgres("timestamp without time zone").kind, Kind::kTimestamp);
  EXPECT_EQ(fromPostgres("timestamp(3) with time zone").kind, Kind::kTimestampTz);
  EXPECT_EQ(fromPostgres("time without time zone").kind, Kind::kTime);
  EXPECT_EQ(fromPostgres("date").kind, Kind::kDate);
  EXPECT_EQ(fromPostgres("jsonb").kind, Kind::kJsonb);
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
        FitCase{"BooleanToInteger", "boolean", "sa.Integer()", "", "", false},
        FitCase{"TimestampToDateDropsTheTime", "timestamp without time zone", "sa.Date()", "",
                "\"v\"::date::timestamp <> \"v\"", false},
        FitCase{"TextToDomainCannotBeTested", "text", "EmailAddress()", "", "", true},
        FitCase{"ArrayElementsCannotBeTested", "text[]", "sa.ARRAY(sa.Integer())", "", "", true},
        FitCase{"JsonToCompositeCannotBeTested", "json", "Pair()", "", "", true}),
    [](const ::testing::TestParamInfo<FitCase>& info) { return info.param.name; });

// The one classifier's families, and what they say about casts (they used to live in the
// revision analysis as a second, text-matching classifier).
TEST(TypeFamilies, FromRenderedTypes) {
  auto family = [](const char* rendered) { return fromSqlAlchemy(rendered).family(); };
  EXPECT_EQ(family("sqlmodel.sql.sqltypes.AutoString(length=32)"), "string");
  EXPECT_EQ(family("sa.VARCHAR(length=100)"), "string");
  EXPECT_EQ(family("sa.BigInteger()"), "integer");
  EXPECT_EQ(family("sa.Numeric(precision=10, scale=2)"), "numeric");
  EXPECT_EQ(family("postgresql.ENUM('a', name='x')"), "enum");
  EXPECT_EQ(family("sa.Enum('a', 'b', name='x')"), "enum");
  EXPECT_EQ(family("postgresql.JSONB(astext_type=sa.Text())"), "json");
  EXPECT_EQ(family("sa.DateTime()"), "datetime");
  EXPECT_EQ(family("sa.Boolean()"), "boolean");
  EXPECT_EQ(family("sa.ARRAY(sa.Integer())"), "array");
  EXPECT_EQ(family("MyCustomType()"), "");
}

TEST(TypeFamilies, WhichCastsNeedUsing) {
  auto needs = [](const char* from, const char* to) {
    return castNeedsUsing(fromSqlAlchemy(from), fromSqlAlchemy(to));
  };
  EXPECT_TRUE(needs("sa.String()", "sa.Integer()"));
  EXPECT_TRUE(needs("sa.Integer()", "sa.Boolean()"));
  EXPECT_TRUE(needs("sa.String()", "sa.Enum('a', name='x')"));
  EXPECT_FALSE(needs("sa.Integer()", "sa.String()"));
  EXPECT_FALSE(needs("sa.Integer()", "sa.Numeric()"));
  EXPECT_FALSE(needs("sa.Enum('a', name='x')", "sa.Text()"));
  EXPECT_FALSE(needs("MyCustomType()", "sa.Integer()"));
  EXPECT_FALSE(needs("sa.DateTime()", "sa.Date()"));
  EXPECT_FALSE(castNeedsUsing(fromPostgres("integer"), fromPostgres("bigint")));
}

TEST(Lossless, WideningsAndTextNeedNoTrial) {
  auto lossless = [](const char* from, const char* to) {
    return conversionIsLossless(fromPostgres(from), fromSqlAlchemy(to));
  };
  EXPECT_TRUE(lossless("integer", "sa.BigInteger()"));
  EXPECT_TRUE(lossless("character varying(20)", "sa.String(length=50)"));
  EXPECT_TRUE(lossless("timestamp without time zone", "sa.Text()"));
  EXPECT_TRUE(lossless("numeric(6,1)", "sa.Numeric(10, 3)"));
  EXPECT_TRUE(lossless("date", "sa.DateTime()"));
  EXPECT_FALSE(lossless("bigint", "sa.Integer()"));
  EXPECT_FALSE(lossless("timestamp without time zone", "sa.Date()"));
  EXPECT_FALSE(lossless("text", "EmailAddress()"));
  EXPECT_FALSE(lossless("json", "postgresql.JSONB()"));
  EXPECT_FALSE(lossless("text[]", "sa.ARRAY(sa.Integer())"));
  EXPECT_FALSE(lossless("bigint", "sa.Float()"));
}

TEST(SqlText, OfClassifiedTypes) {
  EXPECT_EQ(fromSqlAlchemy("sa.String(length=20)").sql(), "varchar(20)");
  EXPECT_EQ(fromSqlAlchemy("sa.Numeric(10, 2)").sql(), "numeric(10,2)");
  EXPECT_EQ(fromSqlAlchemy("sa.DateTime(timezone=True)").sql(), "timestamptz");
  EXPECT_EQ(fromSqlAlchemy("sa.Date()").sql(), "date");
  EXPECT_EQ(fromSqlAlchemy("EmailAddress()").sql(), std::nullopt);
}

}  // namespace
}  // namespace alembic_sidecar::database
