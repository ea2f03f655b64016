#include "database/sql_guard.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <vector>

namespace alembic_sidecar::database {
namespace {

constexpr size_t kMaxExpression = 2000;

/** Functions that only compute a value from their arguments. */
const std::set<std::string>& allowedFunctions() {
  static const std::set<std::string> kFunctions = {"abs",
                                                   "age",
                                                   "array_length",
                                                   "array_position",
                                                   "btrim",
                                                   "cardinality",
                                                   "cast",
                                                   "cbrt",
                                                   "ceil",
                                                   "ceiling",
                                                   "char_length",
                                                   "character_length",
                                                   "coalesce",
                                                   "concat",
                                                   "concat_ws",
                                                   "date_part",
                                                   "date_trunc",
                                                   "exp",
                                                   "extract",
                                                   "floor",
                                                   "greatest",
                                                   "initcap",
                                                   "isfinite",
                                                   "json_typeof",
                                                   "jsonb_array_length",
                                                   "jsonb_typeof",
                                                   "least",
                                                   "left",
                                                   "length",
                                                   "ln",
                                                   "log",
                                                   "lower",
                                                   "lpad",
                                                   "ltrim",
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
                                                   "rpad",
                                                   "rtrim",
                                                   "sign",
                                                   "split_part",
                                                   "sqrt",
                                                   "strpos",
                                                   "substr",
                                                   "substring",
                                                   "trim",
                                                   "trunc",
                                                   "upper"};
  return kFunctions;
}

/** Words that start a subquery or another statement: never inside a CHECK expression. */
const std::set<std::string>& refusedWords() {
  static const std::set<std::string> kWords = {
      "select",    "values", "table",   "with",   "insert", "update", "delete", "into",
      "returning", "copy",   "lateral", "exists", "do",     "call",   "grant",  "execute"};
  return kWords;
}

/** Keywords that may stand before "(" without being a call. */
const std::set<std::string>& keywordsBeforeParen() {
  static const std::set<std::string> kWords = {
      "in",     "any",  "all", "some", "not",   "and",     "or",      "when",
      "then",   "else", "is",  "like", "ilike", "between", "similar", "to",
      "escape", "from", "for", "as",   "case",  "distinct"};
  return kWords;
}

/** Words that continue a multi-word type name after a cast. */
const std::set<std::string>& typeContinuations() {
  static const std::set<std::string> kWords = {"varying", "precision", "with",
                                               "without", "time",      "zone"};
  return kWords;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool isWordStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool isWordChar(char c) {
  return isWordStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$';
}

/** End of the word starting at `i` (i itself when none starts there). */
size_t wordEnd(std::string_view s, size_t i) {
  if (i >= s.size() || !isWordStart(s[i])) {
    return i;
  }
  while (i < s.size() && isWordChar(s[i])) {
    ++i;
  }
  return i;
}

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
  if (e.empty()) {
    return "it is empty";
  }
  if (e.size() > kMaxExpression) {
    return "it is longer than " + std::to_string(kMaxExpression) + " characters";
  }
  std::vector<char> brackets;
  bool afterCast = false;  // the word after :: is a type name, not a column or a call
  size_t i = 0;
  while (i < e.size()) {
    char c = e[i];
    if (c == '\0') {
      return "it contains a NUL byte";
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == ';') {
      return "it contains ';'";
    }
    if (c == '$') {
      return "it contains '$' (dollar quoting or a parameter)";
    }
    if ((c == '-' && i + 1 < e.size() && e[i + 1] == '-') ||
        (c == '/' && i + 1 < e.size() && e[i + 1] == '*')) {
      return "it contains a comment";
    }
    if (c == '\'' || c == '"') {
      size_t j = i + 1;
      while (true) {
        if (j >= e.size()) {
          return "it has an unterminated quote";
        }
        if (e[j] == '\0') {
          return "it contains a NUL byte";
        }
        if (e[j] == c) {
          if (j + 1 < e.size() && e[j + 1] == c) {
            j += 2;  // doubled quote inside
            continue;
          }
          break;
        }
        ++j;
      }
      i = j + 1;
      afterCast = false;
      continue;
    }
    if (isWordStart(c)) {
      size_t j = i;
      while (j < e.size() && isWordChar(e[j])) {
        ++j;
      }
      std::string word = lower(e.substr(i, j - i));
      if (j < e.size() && (e[j] == '\'' || e[j] == '"')) {
        return "it uses a prefixed literal (" + std::string(e.substr(i, j - i + 1)) + "...)";
      }
      bool typeWord = afterCast && typeContinuations().count(word);  // timestamp WITH time zone
      if (refusedWords().count(word) && !typeWord) {
        return "it contains " + word + " (a subquery or another statement)";
      }
      size_t k = j;
      while (k < e.size() && std::isspace(static_cast<unsigned char>(e[k]))) {
        ++k;
      }
      bool call = k < e.size() && e[k] == '(';
      bool qualified = (i > 0 && e[i - 1] == '.') || (j < e.size() && e[j] == '.');
      if (call && !afterCast && !keywordsBeforeParen().count(word)) {
        if (qualified) {
          return "it calls a schema-qualified function (" + std::string(e.substr(i, j - i)) + ")";
        }
        if (!allowedFunctions().count(word)) {
          return "it calls " + word + "(), which the live checks do not run";
        }
      }
      // A type name may run on over several words (double precision, character varying,
      // timestamp with time zone); CAST(x AS type) names one too.
      std::string next = lower(e.substr(k, wordEnd(e, k) - k));
      afterCast = word == "as" || (afterCast && !call && typeContinuations().count(next));
      i = j;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      ++i;
      afterCast = false;
      continue;
    }
    if (c == '(' || c == '[') {
      brackets.push_back(c);
      ++i;
      continue;
    }
    if (c == ')' || c == ']') {
      if (brackets.empty() || brackets.back() != (c == ')' ? '(' : '[')) {
        return "its brackets do not balance";
      }
      brackets.pop_back();
      ++i;
      afterCast = false;
      continue;
    }
    if (c == ':' && i + 1 < e.size() && e[i + 1] == ':') {
      afterCast = true;
      i += 2;
      continue;
    }
    if (std::string_view("+-*/<>=~!@#%^&|,?:").find(c) != std::string_view::npos) {
      ++i;
      afterCast = false;
      continue;
    }
    return std::string("it contains '") + c + "'";
  }
  if (!brackets.empty()) {
    return "its brackets do not balance";
  }
  return std::nullopt;
}

}  // namespace alembic_sidecar::database
