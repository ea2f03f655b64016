#include "database/sql_guard.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <vector>

#include "database/sql_lexer.h"

namespace alembic_sidecar::database {
namespace {

constexpr size_t kMaxExpression = 2000;

/**
 * Functions that only compute a value from their arguments (no catalog lookup, no side
 * effect, no unbounded allocation from an argument: lpad/rpad/repeat are left out).
 */
const std::set<std::string>& allowedFunctions() {
  static const std::set<std::string> kFunctions = {"abs",
                                                   "age",
                                                   "array_append",
                                                   "array_cat",
                                                   "array_length",
                                                   "array_lower",
                                                   "array_position",
                                                   "array_prepend",
                                                   "array_remove",
                                                   "array_replace",
                                                   "array_to_string",
                                                   "array_upper",
                                                   "btrim",
                                                   "cardinality",
                                                   "cbrt",
                                                   "ceil",
                                                   "ceiling",
                                                   "char_length",
                                                   "character_length",
                                                   "coalesce",
                                                   "concat",
                                                   "concat_ws",
                                                   "date",
                                                   "date_part",
                                                   "date_trunc",
                                                   "exp",
                                                   "extract",
                                                   "floor",
                                                   "greatest",
                                                   "initcap",
                                                   "isfinite",
                                                   "json_build_object",
                                                   "json_extract_path_text",
                                                   "json_populate_record",
                                                   "json_typeof",
                                                   "jsonb_array_length",
                                                   "jsonb_build_object",
                                                   "jsonb_extract_path_text",
                                                   "jsonb_populate_record",
                                                   "jsonb_typeof",
                                                   "justify_days",
                                                   "justify_hours",
                                                   "justify_interval",
                                                   "least",
                                                   "left",
                                                   "length",
                                                   "ln",
                                                   "log",
                                                   "lower",
                                                   "ltrim",
                                                   "make_date",
                                                   "make_interval",
                                                   "make_time",
                                                   "make_timestamp",
                                                   "make_timestamptz",
                                                   "md5",
                                                   "mod",
                                                   "now",
                                                   "nullif",
                                                   "num_nonnulls",
                                                   "num_nulls",
                                                   "octet_length",
                                                   "position",
                                                   "power",
                                                   "regexp_like",
                                                   "regexp_replace",
                                                   "replace",
                                                   "reverse",
                                                   "right",
                                                   "round",
                                                   "rtrim",
                                                   "sign",
                                                   "split_part",
                                                   "sqrt",
                                                   "string_to_array",
                                                   "strpos",
                                                   "substr",
                                                   "substring",
                                                   "timezone",
                                                   "to_char",
                                                   "to_date",
                                                   "to_json",
                                                   "to_jsonb",
                                                   "to_number",
                                                   "to_timestamp",
                                                   "trim",
                                                   "trunc",
                                                   "upper"};
  return kFunctions;
}

/** Words that start a subquery or another statement: never inside a scalar expression. */
const std::set<std::string>& refusedWords() {
  static const std::set<std::string> kWords = {
      "select",    "values",    "table",   "with",   "insert", "update", "delete", "into",
      "returning", "copy",      "lateral", "exists", "do",     "call",   "grant",  "execute",
      "union",     "intersect", "except",  "over",   "filter", "window", "limit",  "offset"};
  return kWords;
}

/** Keywords that may stand before "(" without being a call. */
const std::set<std::string>& keywordsBeforeParen() {
  static const std::set<std::string> kWords = {
      "in",   "any", "all",  "some",     "not",     "and",     "or",        "when",   "then",
      "else", "is",  "like", "ilike",    "between", "similar", "to",        "escape", "from",
      "for",  "as",  "case", "distinct", "array",   "row",     "symmetric", "collate"};
  return kWords;
}

/** Words that continue a multi-word type name: double precision, timestamp with time zone. */
const std::set<std::string>& typeContinuations() {
  static const std::set<std::string> kWords = {"varying", "precision", "with",
                                               "without", "time",      "zone"};
  return kWords;
}

/** Types whose input function looks names up in the catalog: never cast to them. */
const std::set<std::string>& lookupTypes() {
  static const std::set<std::string> kTypes = {
      "regproc", "regprocedure", "regoper",   "regoperator",   "regclass",    "regtype",
      "regrole", "regnamespace", "regconfig", "regdictionary", "regcollation"};
  return kTypes;
}

const std::set<std::string>& allowedOperators() {
  static const std::set<std::string> kOperators = {
      "+",  "-",  "*",  "/",  "%",  "^",  "<",   ">",   "=",   "<=",  ">=",
      "<>", "!=", "||", "~",  "~*", "!~", "!~*", "~~",  "~~*", "!~~", "!~~*",
      "@>", "<@", "&&", "?",  "?|", "?&", "->",  "->>", "#>",  "#>>", "@@",
      "#",  "&",  "|",  "<<", ">>", "|/", "||/", "<->", "-|-", "#-",  "@"};
  return kOperators;
}

using Kind = SqlToken::Kind;

class Guard {
 public:
  explicit Guard(std::vector<SqlToken> tokens) : t_(std::move(tokens)) {}

  std::optional<std::string> expression() {
    std::vector<std::string> brackets;
    size_t i = 0;
    while (i < t_.size()) {
      const SqlToken& tok = t_[i];
      if (tok.kind == Kind::kPunct) {
        const std::string& p = tok.name;
        if (p == "(" || p == "[") {
          brackets.push_back(p);
        } else if (p == ")" || p == "]") {
          if (brackets.empty() || brackets.back() != (p == ")" ? "(" : "[")) {
            return "its brackets do not balance";
          }
          brackets.pop_back();
        } else if (p == "::") {
          auto end = type(i + 1);
          if (!end) {
            return error_;
          }
          i = *end;
          continue;
        } else if (p == ".") {
          // (composite).field: the field is a name, never a call.
          if (i == 0 || !(t_[i - 1].isPunct(")") || t_[i - 1].isPunct("]")) || i + 1 >= t_.size() ||
              !t_[i + 1].isName()) {
            return "it has a '.' that is not a field of a value";
          }
          if (i + 2 < t_.size() && t_[i + 2].isPunct("(")) {
            return "it calls a function through a field (" + t_[i + 1].name + ")";
          }
          i += 2;
          continue;
        }
        ++i;
        continue;
      }
      if (tok.kind == Kind::kOperator) {
        if (!allowedOperators().count(tok.name)) {
          return "it uses the operator " + tok.name + ", which the live checks do not run";
        }
        ++i;
        continue;
      }
      if (tok.kind == Kind::kString || tok.kind == Kind::kNumber) {
        ++i;
        continue;
      }
      // A name, possibly qualified: schema.function, table.column, a keyword.
      if (tok.kind == Kind::kWord) {
        if (refusedWords().count(tok.name)) {
          return "it contains " + tok.name + " (a subquery or another statement)";
        }
        if (tok.name == "operator" && i + 1 < t_.size() && t_[i + 1].isPunct("(")) {
          return "it uses the OPERATOR() syntax";
        }
        if (tok.name == "as") {
          auto end = type(i + 1);
          if (!end) {
            return error_;
          }
          i = *end;
          continue;
        }
      }
      size_t j = i + 1;
      while (j + 1 < t_.size() && t_[j].isPunct(".") && t_[j + 1].isName()) {
        j += 2;
      }
      const bool qualified = j > i + 1;
      if (j < t_.size() && t_[j].kind == Kind::kString) {
        // A typed literal: regproc 'pg_sleep' is a cast.
        if (auto why = typeName(i, j)) {
          return why;
        }
        i = j + 1;
        continue;
      }
      if (j < t_.size() && t_[j].isPunct("(")) {
        if (!qualified && tok.kind == Kind::kWord && keywordsBeforeParen().count(tok.name)) {
          i = j;
          continue;
        }
        if (!qualified && tok.kind == Kind::kWord && tok.name == "cast") {
          i = j;
          continue;
        }
        if (qualified) {
          return "it calls a schema-qualified function (" + text(i, j) + ")";
        }
        if (!allowedFunctions().count(tok.name)) {
          return "it calls " + tok.name + "(), which the live checks do not run";
        }
      }
      i = j;
    }
    if (!brackets.empty()) {
      return "its brackets do not balance";
    }
    return std::nullopt;
  }

  /** The index after a type name starting at `i`; nullopt (error_ set) when refused. */
  std::optional<size_t> type(size_t i) {
    if (i >= t_.size() || !t_[i].isName()) {
      error_ = "it has a cast without a type name";
      return std::nullopt;
    }
    size_t j = i + 1;
    while (j + 1 < t_.size() && t_[j].isPunct(".") && t_[j + 1].isName()) {
      j += 2;
    }
    if (auto why = typeName(i, j)) {
      error_ = *why;
      return std::nullopt;
    }
    auto continuation = [&] {
      while (j < t_.size() && t_[j].kind == Kind::kWord && typeContinuations().count(t_[j].name)) {
        ++j;
      }
    };
    continuation();
    if (j < t_.size() && t_[j].isPunct("(")) {
      ++j;
      while (j < t_.size() && (t_[j].kind == Kind::kNumber || t_[j].isPunct(","))) {
        ++j;
      }
      if (j >= t_.size() || !t_[j].isPunct(")")) {
        error_ = "it has a type modifier that is not a list of numbers";
        return std::nullopt;
      }
      ++j;
    }
    continuation();
    while (j < t_.size() && t_[j].isPunct("[")) {
      ++j;
      if (j < t_.size() && t_[j].kind == Kind::kNumber) {
        ++j;
      }
      if (j >= t_.size() || !t_[j].isPunct("]")) {
        error_ = "it has an array type with unbalanced brackets";
        return std::nullopt;
      }
      ++j;
    }
    return j;
  }

  size_t size() const { return t_.size(); }
  const std::string& error() const { return error_; }

 private:
  /** Refuses a catalog lookup type as the type name t_[i..j) (possibly qualified). */
  std::optional<std::string> typeName(size_t i, size_t j) const {
    const std::string& last = t_[j - 1].name;
    if (lookupTypes().count(last)) {
      return "it converts to " + text(i, j) + ", a type that looks names up in the catalog";
    }
    return std::nullopt;
  }

  std::string text(size_t i, size_t j) const {
    std::string out;
    for (size_t k = i; k < j; ++k) {
      out += t_[k].kind == Kind::kQuotedIdent ? quoteIdent(t_[k].name) : t_[k].name;
    }
    return out;
  }

  std::vector<SqlToken> t_;
  std::string error_;
};

}  // namespace

std::string quoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return out + "\"";
}

std::string quoteLiteral(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    out += c == '\'' ? std::string("''") : std::string(1, c);
  }
  return out + "'";
}

std::optional<std::string> expressionRejection(std::string_view e) {
  if (e.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return "it is empty";
  }
  if (e.size() > kMaxExpression) {
    return "it is longer than " + std::to_string(kMaxExpression) + " characters";
  }
  auto lexed = lexSql(e, true);
  if (lexed.error) {
    return lexed.error;
  }
  return Guard(std::move(lexed.tokens)).expression();
}

std::optional<std::string> typeRejection(std::string_view type) {
  if (type.size() > kMaxExpression) {
    return "it is longer than " + std::to_string(kMaxExpression) + " characters";
  }
  auto lexed = lexSql(type, true);
  if (lexed.error) {
    return lexed.error;
  }
  if (lexed.tokens.empty()) {
    return "it is empty";
  }
  Guard guard(std::move(lexed.tokens));
  auto end = guard.type(0);
  if (!end) {
    return guard.error();
  }
  if (*end != guard.size()) {
    return std::string("it is not just a type name");
  }
  return std::nullopt;
}

}  // namespace alembic_sidecar::database
