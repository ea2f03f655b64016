#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace alembic_sidecar::database {

// PostgreSQL's lexical rules (scan.l), as far as the live-data checks need them to read
// untrusted SQL text the way the server will: identifiers quoted or not, string constants,
// numbers, operators (with the rule that splits a trailing + or -), punctuation. Pure.

struct SqlToken {
  enum class Kind {
    kWord,         // an unquoted identifier or keyword; `name` is folded to lower case
    kQuotedIdent,  // "..."; `name` is the identifier with doubled quotes undone
    kString,       // '...' (and, when lexing leniently, E'...', $tag$...$tag$)
    kNumber,
    kOperator,  // + - * / < > = ~ ! @ # % ^ & | ` ? sequences, as PostgreSQL splits them
    kPunct,     // ( ) [ ] , . ; : ::
  };
  Kind kind = Kind::kWord;
  /** The identifier as PostgreSQL resolves it (words folded), else the token's text. */
  std::string name;
  size_t begin = 0;  // offsets into the lexed text
  size_t end = 0;

  bool isWord(std::string_view lowered) const { return kind == Kind::kWord && name == lowered; }
  bool isPunct(std::string_view p) const { return kind == Kind::kPunct && name == p; }
  /** An identifier, quoted or not. */
  bool isName() const { return kind == Kind::kWord || kind == Kind::kQuotedIdent; }
};

struct SqlLex {
  std::vector<SqlToken> tokens;
  /** Why the text was refused (strict) or could not be read; nullopt when it lexed. */
  std::optional<std::string> error;
};

/**
 * Splits `text` into tokens. Strict (for expressions that will run): a NUL byte, `;`, `$`
 * (dollar quoting, parameters), a comment, a prefixed string (E'', U&'', U&"", B'', X'', N'')
 * and any character PostgreSQL would not read as part of an expression are errors. Lenient
 * (for SQL alembic rendered): comments are skipped, `;` is punctuation, E'' and dollar-quoted
 * strings are strings.
 */
SqlLex lexSql(std::string_view text, bool strict);

}  // namespace alembic_sidecar::database
