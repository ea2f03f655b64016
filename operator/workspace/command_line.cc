#include "workspace/command_line.h"

#include "core/reasons.h"

namespace alembic_sidecar::workspace {

core::Result<std::vector<std::string>> splitCommandLine(std::string_view text) {
  std::vector<std::string> words;
  std::string current;
  bool inWord = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < text.size()) {
        current.push_back(text[++i]);
      } else {
        current.push_back(c);
      }
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      inWord = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      current.push_back(text[++i]);
      inWord = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (inWord) {
        words.push_back(std::move(current));
        current.clear();
        inWord = false;
      }
    } else {
      current.push_back(c);
      inWord = true;
    }
  }
  if (quote != 0) {
    return core::Error::terminal(core::reason::kUsageError,
                                 "unterminated quote in command '" + std::string(text) + "'");
  }
  if (inWord) {
    words.push_back(std::move(current));
  }
  if (words.empty()) {
    return core::Error::terminal(core::reason::kUsageError, "empty command");
  }
  return words;
}

}  // namespace alembic_sidecar::workspace
