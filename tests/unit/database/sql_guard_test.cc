#include "database/sql_guard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/hostile_expressions.h"

namespace alembic_sidecar::database {
namespace {

using ::testing::HasSubstr;

TEST(QuoteIdent, DoublesInnerQuotes) {
  EXPECT_EQ(quoteIdent("user"), "\"user\"");
  EXPECT_EQ(quoteIdent("a\"; DROP TABLE x; --"), "\"a\"\"; DROP TABLE x; --\"");
  EXPECT_EQ(quoteLiteral("it's"), "'it''s'");
}

struct ExpressionCase {
  const char* name;
  const char* expression;
  const char* rejection;  // nullptr: accepted; else a substring of the reason
};

class Expression : public ::testing::TestWithParam<ExpressionCase> {};

TEST_P(Expression, IsAcceptedOnlyWhenItIsAPlainScalarExpression) {
  auto why = expressionRejection(GetParam().expression);
  if (GetParam().rejection == nullptr) {
    EXPECT_FALSE(why.has_value()) << *why;
  } else {
    ASSERT_TRUE(why.has_value());
    EXPECT_THAT(*why, HasSubstr(GetParam().rejection));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, Expression,
    ::testing::Values(
        ExpressionCase{"Comparison", "price_cents >= 0", nullptr},
        ExpressionCase{"InList", "role IN ('admin', 'member')", nullptr},
        ExpressionCase{"Functions", "char_length(btrim(name)) > 0 AND lower(email) = email",
                       nullptr},
        ExpressionCase{"CastsWithModifiers",
                       "price::numeric(10,2) > 0 AND x::double precision < 1 AND "
                       "CAST(y AS numeric(4, 1)) <> 0 AND z::timestamp with time zone > now()",
                       nullptr},
        ExpressionCase{"QuotedNamesAndStrings", "\"Weird Col\" <> 'a;b--c/*d'", nullptr},
        ExpressionCase{"RegexWithBackslashInAString", "email ~ '^\\S+@\\S+$'", nullptr},
        ExpressionCase{"CaseAndBetween",
                       "CASE WHEN kind = 'a' THEN n BETWEEN 1 AND 5 ELSE n IS NULL END", nullptr},
        ExpressionCase{"ExtractFrom", "extract(year from created_at) >= 2000", nullptr},
        ExpressionCase{"UsingCast", "headquarters::integer", nullptr},
        ExpressionCase{"UsingToDate", "to_date(birthday, 'YYYY-MM-DD')", nullptr},
        ExpressionCase{"UsingJsonToComposite", "json_populate_record(NULL::pair, doc)", nullptr},
        ExpressionCase{"UsingArrayElements", "tags::integer[]", nullptr},
        ExpressionCase{"QuotedAllowedFunction", "\"lower\"(name) = name", nullptr},
        ExpressionCase{"TypedLiteralsAndCollate",
                       "created_at > timestamp '2020-01-01' AND name COLLATE \"C\" > 'a' AND "
                       "d + interval '1 day' > now()",
                       nullptr},
        ExpressionCase{"FieldOfAComposite", "(pair_col).a > 0 AND doc->>'a' <> ''", nullptr},
        ExpressionCase{"ArrayAndRow", "ARRAY[1, 2] @> ids AND ROW(a, b) IS NOT NULL", nullptr},
        ExpressionCase{"NegativeAfterOperator", "a>-1 AND b<>-2", nullptr},
        ExpressionCase{"Empty", "", "empty"},
        ExpressionCase{"SecondStatement", "true; DROP TABLE item", "';'"},
        ExpressionCase{"LineComment", "true -- x", "comment"},
        ExpressionCase{"BlockComment", "true /* x */", "comment"},
        ExpressionCase{"EscapesTheParenthesis", "true) OR (1 = 1", "brackets"},
        ExpressionCase{"UnbalancedOpen", "(a > 1", "brackets"},
        ExpressionCase{"Subquery", "a IN (SELECT id FROM team)", "select"},
        ExpressionCase{"Exists", "EXISTS (SELECT 1)", "exists"},
        ExpressionCase{"Sleep", "pg_sleep(10) IS NOT NULL", "pg_sleep"},
        ExpressionCase{"SetConfig", "set_config('transaction_read_only', 'off', true) = ''",
                       "set_config"},
        ExpressionCase{"QualifiedCall", "pg_catalog.lower(name) = name", "schema-qualified"},
        ExpressionCase{"Nextval", "nextval('s') > 0", "nextval"},
        ExpressionCase{"DollarQuote", "$$x$$ = name", "'$'"},
        ExpressionCase{"Parameter", "a = $1", "'$'"},
        ExpressionCase{"EscapeString", "name = E'\\x41'", "prefixed literal"},
        ExpressionCase{"UnterminatedQuote", "name = 'abc", "unterminated"},
        ExpressionCase{"CastThenCall", "x::text pg_sleep(1)", "pg_sleep"},
        ExpressionCase{"ArraySubquery", "ARRAY(SELECT 1) IS NULL", "select"},
        ExpressionCase{"Semicolon", "a = 1;", "';'"}),
    [](const ::testing::TestParamInfo<ExpressionCase>& info) { return info.param.name; });

// Every hostile expression (tests/support/hostile_expressions.h) is refused.

class Hostile : public ::testing::TestWithParam<const char*> {};

TEST_P(Hostile, IsRefused) {
  auto why = expressionRejection(GetParam());
  EXPECT_TRUE(why.has_value()) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Table, Hostile, ::testing::ValuesIn(testing::kHostileExpressions),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return "Case" + std::to_string(info.index);
                         });

struct TypeNameCase {
  const char* type;
  bool accepted;
};

class TypeName : public ::testing::TestWithParam<TypeNameCase> {};

TEST_P(TypeName, OnlyPlainTypeNamesAreDeclared) {
  auto why = typeRejection(GetParam().type);
  EXPECT_EQ(!why.has_value(), GetParam().accepted) << GetParam().type << ": " << why.value_or("");
}

INSTANTIATE_TEST_SUITE_P(
    Table, TypeName,
    ::testing::Values(TypeNameCase{"VARCHAR(20)", true}, TypeNameCase{"NUMERIC(10, 2)", true},
                      TypeNameCase{"TIMESTAMP WITHOUT TIME ZONE", true},
                      TypeNameCase{"DOUBLE PRECISION", true}, TypeNameCase{"INTEGER[]", true},
                      TypeNameCase{"inventory.pair", true}, TypeNameCase{"\"Weird Type\"", true},
                      TypeNameCase{"DATE", true}, TypeNameCase{"regproc", false},
                      TypeNameCase{"pg_catalog.regclass", false},
                      TypeNameCase{"integer; DROP TABLE t", false},
                      TypeNameCase{"integer DEFAULT pg_sleep(1)", false},
                      TypeNameCase{"numeric(pg_sleep(1))", false}, TypeNameCase{"", false},
                      TypeNameCase{"int $$", false}),
    [](const ::testing::TestParamInfo<TypeNameCase>& info) {
      return "Case" + std::to_string(info.index);
    });

TEST(Expression, TooLongIsRefused) {
  EXPECT_TRUE(expressionRejection(std::string(5000, 'a')).has_value());
}

}  // namespace
}  // namespace alembic_sidecar::database
