#include "alembic/python_source.h"

#include <cctype>

namespace alembic_sidecar::alembic {
namespace {

bool isIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool isStringPrefix(std::string_view prefix) {
  if (prefix.size() > 2) {
    return false;
  }
  for (char c : prefix) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (l != 'r' && l != 'b' && l != 'u' && l != 'f') {
      return false;
    }
  }
  return true;
}

/** Index just past the string literal starting at `quote` (the opening quote character). */
size_t skipString(std::string_view s, size_t quote) {
  char q = s[quote];
  bool triple = quote + 2 < s.size() && s[quote + 1] == q && s[quote + 2] == q;
  size_t i = quote + (triple ? 3 : 1);
  while (i < s.size()) {
    if (s[i] == '\\') {
      i += 2;
      continue;
    }
    if (triple) {
      if (s[i] == q && i + 2 < s.size() && s[i + 1] == q && s[i + 2] == q) {
        return i + 3;
      }
    } else if (s[i] == q) {
      return i + 1;
    } else if (s[i] == '\n') {
      return i;  // unterminated single-quoted string: stop at the line end
    }
    ++i;
  }
  return s.size();
}

}  // namespace

std::string trim(std::string_view text) {
  size_t b = 0;
  size_t e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) {
    ++b;
  }
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) {
    --e;
  }
  return std::string(text.substr(b, e - b));
}

std::vector<LogicalLine> logicalLines(std::string_view s) {
  std::vector<LogicalLine> lines;
  LogicalLine current;
  bool atLineStart = true;
  int depth = 0;
  int lineNo = 1;
  auto flush = [&]() {
    std::string text = trim(current.text);
    if (!text.empty()) {
      current.text = std::move(text);
      lines.push_back(std::move(current));
    }
    current = LogicalLine{};
    atLineStart = true;
  };
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (atLineStart) {
      int indent = 0;
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f')) {
        indent = s[i] == '\t' ? (indent / 8 + 1) * 8 : indent + 1;
        ++i;
      }
      current.indent = indent;
      current.line = lineNo;
      atLineStart = false;
      continue;
    }
    if (c == '#') {
      while (i < s.size() && s[i] != '\n') {
        ++i;
      }
      continue;
    }
    if (c == '\\' && i + 1 < s.size() && s[i + 1] == '\n') {
      current.text.push_back(' ');
      i += 2;
      ++lineNo;
      continue;
    }
    if (c == '\n') {
      ++lineNo;
      ++i;
      if (depth > 0) {
        current.text.push_back(' ');
      } else {
        flush();
      }
      continue;
    }
    if (c == '\'' || c == '"') {
      // Include a string prefix already copied (r, b, f...) as part of the literal.
      size_t end = skipString(s, i);
      std::string_view literal = s.substr(i, end - i);
      for (char lc : literal) {
        if (lc == '\n') {
          ++lineNo;
        }
      }
      current.text.append(literal);
      i = end;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
      --depth;
    }
    current.text.push_back(c);
    ++i;
  }
  flush();
  return lines;
}

std::vector<std::string> splitTopLevel(std::string_view text, char separator) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\'' || c == '"') {
      i = skipString(text, i);
      continue;
    }
    if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      --depth;
    } else if (c == separator && depth == 0) {
      parts.push_back(trim(text.substr(start, i - start)));
      start = i + 1;
    }
    ++i;
  }
  std::string last = trim(text.substr(start));
  if (!last.empty()) {
    parts.push_back(std::move(last));
  }
  return parts;
}

std::optional<std::string> Call::kwarg(const std::string& name) const {
  for (const auto& [k, v] : kwargs) {
    if (k == name) {
      return v;
    }
  }
  return std::nullopt;
}

std::optional<Call> parseCall(std::string_view text, std::string* chainedMethod) {
  std::string t = trim(text);
  size_t open = 0;
  while (open < t.size() && (isIdentChar(t[open]) || t[open] == '.')) {
    ++open;
  }
  size_t afterCallee = open;
  while (open < t.size() && t[open] == ' ') {
    ++open;
  }
  if (afterCallee == 0 || open >= t.size() || t[open] != '(') {
    return std::nullopt;
  }
  // Find the matching close paren.
  int depth = 0;
  size_t i = open;
  size_t close = std::string::npos;
  while (i < t.size()) {
    char c = t[i];
    if (c == '\'' || c == '"') {
      i = skipString(t, i);
      continue;
    }
    if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      if (--depth == 0) {
        close = i;
        break;
      }
    }
    ++i;
  }
  if (close == std::string::npos) {
    return std::nullopt;
  }
  Call call;
  call.callee = t.substr(0, afterCallee);
  for (auto& part : splitTopLevel(std::string_view(t).substr(open + 1, close - open - 1))) {
    size_t n = 0;
    while (n < part.size() && isIdentChar(part[n])) {
      ++n;
    }
    size_t eq = n;
    while (eq < part.size() && part[eq] == ' ') {
      ++eq;
    }
    bool keyword = n > 0 && eq < part.size() && part[eq] == '=' &&
                   (eq + 1 >= part.size() || part[eq + 1] != '=');
    if (keyword) {
      call.kwargs.emplace_back(part.substr(0, n), trim(std::string_view(part).substr(eq + 1)));
    } else {
      call.args.push_back(std::move(part));
    }
  }
  if (chainedMethod != nullptr) {
    std::string rest = trim(std::string_view(t).substr(close + 1));
    chainedMethod->clear();
    if (!rest.empty() && rest[0] == '.') {
      size_t e = 1;
      while (e < rest.size() && isIdentChar(rest[e])) {
        ++e;
      }
      *chainedMethod = rest.substr(1, e - 1);
    }
  }
  return call;
}

std::optional<std::string> stringLiteral(std::string_view text) {
  std::string t = trim(text);
  // op.f('name') / batch_op.f('name') mark a name as final: the literal is the name.
  if (auto call = parseCall(t); call && call->args.size() == 1 &&
                                (call->callee == "f" || (call->callee.size() > 2 &&
                                 call->callee.substr(call->callee.size() - 2) == ".f"))) {
    return stringLiteral(call->args[0]);
  }
  size_t q = 0;
  while (q < t.size() && t[q] != '\'' && t[q] != '"') {
    ++q;
  }
  if (q >= t.size() || !isStringPrefix(std::string_view(t).substr(0, q))) {
    return std::nullopt;
  }
  bool raw = t.substr(0, q).find_first_of("rR") != std::string::npos;
  char quote = t[q];
  bool triple = t.size() >= q + 6 && t[q + 1] == quote && t[q + 2] == quote;
  size_t width = triple ? 3 : 1;
  if (t.size() < q + 2 * width || t.back() != quote) {
    return std::nullopt;
  }
  std::string_view body = std::string_view(t).substr(q + width, t.size() - q - 2 * width);
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\\' && !raw && i + 1 < body.size()) {
      char n = body[++i];
      out.push_back(n == 'n' ? '\n' : n == 't' ? '\t' : n);
    } else {
      out.push_back(body[i]);
    }
  }
  return out;
}

}  // namespace alembic_sidecar::alembic
