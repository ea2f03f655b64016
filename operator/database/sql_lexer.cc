#include "database/sql_lexer.h"

#include <cctype>

namespace alembic_sidecar::database {
namespace {

bool isIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool isIdentChar(char c) {
  return isIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$';
}

bool isOperatorChar(char c) {
  return std::string_view("+-*/<>=~!@#%^&|`?").find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    // PostgreSQL folds ASCII letters only (downcase_identifier); other bytes stay.
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

class Lexer {
 public:
  Lexer(std::string_view text, bool strict) : s_(text), strict_(strict) {}

  SqlLex run() {
    while (i_ < s_.size() && !out_.error) {
      step();
    }
    return std::move(out_);
  }

 private:
  void fail(std::string why) {
    if (!out_.error) {
      out_.error = std::move(why);
    }
  }

  void push(SqlToken::Kind kind, std::string name, size_t begin) {
    out_.tokens.push_back(SqlToken{kind, std::move(name), begin, i_});
  }

  bool at(size_t j, char c) const { return j < s_.size() && s_[j] == c; }

  /** A quoted run from i_ (at the opening quote); doubled quotes stay inside. */
  std::optional<std::string> quoted(char q, bool backslashes) {
    std::string value;
    size_t j = i_ + 1;
    while (true) {
      if (j >= s_.size()) {
        return std::nullopt;
      }
      char c = s_[j];
      if (c == '\0') {
        fail("it contains a NUL byte");
        return std::nullopt;
      }
      if (backslashes && c == '\\' && j + 1 < s_.size()) {
        value += s_.substr(j, 2);
        j += 2;
        continue;
      }
      if (c == q) {
        if (at(j + 1, q)) {
          value += q;
          j += 2;
          continue;
        }
        i_ = j + 1;
        return value;
      }
      value += c;
      ++j;
    }
  }

  void step() {
    const size_t begin = i_;
    const char c = s_[i_];
    if (c == '\0') {
      return fail("it contains a NUL byte");
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i_;
      return;
    }
    if ((c == '-' && at(i_ + 1, '-')) || (c == '/' && at(i_ + 1, '*'))) {
      if (strict_) {
        return fail("it contains a comment");
      }
      skipComment();
      return;
    }
    if (c == '\'') {
      if (!quoted('\'', false)) {
        return fail("it has an unterminated quote");
      }
      return push(SqlToken::Kind::kString, std::string(s_.substr(begin, i_ - begin)), begin);
    }
    if (c == '"') {
      auto name = quoted('"', false);
      if (!name) {
        return fail("it has an unterminated quote");
      }
      if (name->empty()) {
        return fail("it has a zero-length quoted identifier");
      }
      return push(SqlToken::Kind::kQuotedIdent, *name, begin);
    }
    if (c == '$') {
      if (strict_) {
        return fail("it contains '$' (dollar quoting or a parameter)");
      }
      return dollar();
    }
    if (isIdentStart(c)) {
      size_t j = i_;
      while (j < s_.size() && isIdentChar(s_[j])) {
        ++j;
      }
      std::string_view word = s_.substr(i_, j - i_);
      std::string folded = lower(word);
      // E'..', B'..', X'..', N'..' and U&'..' / U&".." are one token in PostgreSQL.
      bool prefix =
          (folded == "e" || folded == "b" || folded == "x" || folded == "n") && at(j, '\'');
      bool unicode = folded == "u" && at(j, '&') && (at(j + 1, '\'') || at(j + 1, '"'));
      if (prefix || unicode) {
        if (strict_) {
          return fail("it uses a prefixed literal (" +
                      std::string(s_.substr(i_, j - i_ + 1 + unicode)) + "...)");
        }
        i_ = j + (unicode ? 1 : 0);
        char q = s_[i_];
        if (!quoted(q, folded == "e")) {
          return fail("it has an unterminated quote");
        }
        return push(q == '"' ? SqlToken::Kind::kQuotedIdent : SqlToken::Kind::kString,
                    std::string(s_.substr(begin, i_ - begin)), begin);
      }
      if (strict_ && word.find('$') != std::string_view::npos) {
        return fail("it contains '$' (dollar quoting or a parameter)");
      }
      i_ = j;
      return push(SqlToken::Kind::kWord, folded, begin);
    }
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && i_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_ + 1])))) {
      return number();
    }
    if (c == ':' && at(i_ + 1, ':')) {
      i_ += 2;
      return push(SqlToken::Kind::kPunct, "::", begin);
    }
    if (std::string_view("()[],.;:").find(c) != std::string_view::npos) {
      if (c == ';' && strict_) {
        return fail("it contains ';'");
      }
      ++i_;
      return push(SqlToken::Kind::kPunct, std::string(1, c), begin);
    }
    if (isOperatorChar(c)) {
      return op();
    }
    fail(std::string("it contains '") + c + "'");
  }

  void skipComment() {
    if (s_[i_] == '-') {
      while (i_ < s_.size() && s_[i_] != '\n') {
        ++i_;
      }
      return;
    }
    int depth = 0;  // PostgreSQL's block comments nest
    while (i_ < s_.size()) {
      if (s_[i_] == '/' && at(i_ + 1, '*')) {
        ++depth;
        i_ += 2;
      } else if (s_[i_] == '*' && at(i_ + 1, '/')) {
        i_ += 2;
        if (--depth == 0) {
          return;
        }
      } else {
        ++i_;
      }
    }
    fail("it has an unterminated comment");
  }

  void dollar() {
    const size_t begin = i_;
    size_t j = i_ + 1;
    if (j < s_.size() && std::isdigit(static_cast<unsigned char>(s_[j]))) {
      // $1: a parameter; punctuation-like, so that statements still split.
      while (j < s_.size() && std::isdigit(static_cast<unsigned char>(s_[j]))) {
        ++j;
      }
      i_ = j;
      return push(SqlToken::Kind::kPunct, std::string(s_.substr(begin, j - begin)), begin);
    }
    while (j < s_.size() && s_[j] != '$' && isIdentChar(s_[j])) {
      ++j;
    }
    if (j >= s_.size() || s_[j] != '$') {
      return fail("it contains a stray '$'");
    }
    std::string_view tag = s_.substr(begin, j - begin + 1);
    size_t close = s_.find(tag, j + 1);
    if (close == std::string_view::npos) {
      return fail("it has an unterminated dollar quote");
    }
    i_ = close + tag.size();
    push(SqlToken::Kind::kString, std::string(s_.substr(begin, i_ - begin)), begin);
  }

  void number() {
    const size_t begin = i_;
    while (i_ < s_.size() &&
           (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' || s_[i_] == '_')) {
      // `1..2` is not a number: stop before a second dot.
      if (s_[i_] == '.' && at(i_ + 1, '.')) {
        break;
      }
      ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      size_t j = i_ + 1;
      if (at(j, '+') || at(j, '-')) {
        ++j;
      }
      if (j < s_.size() && std::isdigit(static_cast<unsigned char>(s_[j]))) {
        i_ = j;
        while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
          ++i_;
        }
      }
    }
    push(SqlToken::Kind::kNumber, std::string(s_.substr(begin, i_ - begin)), begin);
  }

  void op() {
    const size_t begin = i_;
    size_t j = i_;
    while (j < s_.size() && isOperatorChar(s_[j])) {
      // A comment start ends the operator (scan.l).
      if ((s_[j] == '-' && at(j + 1, '-')) || (s_[j] == '/' && at(j + 1, '*'))) {
        break;
      }
      ++j;
    }
    if (j == begin) {
      j = begin + 1;
    }
    std::string_view text = s_.substr(begin, j - begin);
    // A multi-character operator ending in + or - loses that tail unless it holds one of
    // ~ ! @ # % ^ & | ` ?, so that `a>-1` is `a > -1`.
    if (text.size() > 1 && text.find_first_of("~!@#%^&|`?") == std::string_view::npos) {
      while (text.size() > 1 && (text.back() == '+' || text.back() == '-')) {
        text.remove_suffix(1);
      }
    }
    i_ = begin + text.size();
    push(SqlToken::Kind::kOperator, std::string(text), begin);
  }

  std::string_view s_;
  bool strict_;
  size_t i_ = 0;
  SqlLex out_;
};

}  // namespace

SqlLex lexSql(std::string_view text, bool strict) { return Lexer(text, strict).run(); }

}  // namespace alembic_sidecar::database
