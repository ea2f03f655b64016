#include "report/findings_reference.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "report/findings_document.h"

namespace alembic_sidecar::report {
namespace {

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r");
  return std::string(text.substr(first, last - first + 1));
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const auto end = text.find(separator, start);
    parts.push_back(trim(text.substr(start, end == std::string_view::npos ? end : end - start)));
    if (end == std::string_view::npos) {
      return parts;
    }
    start = end + 1;
  }
}

/** The text between the first pair of backticks, or the whole cell. */
std::string codeIn(const std::string& cell) {
  const auto open = cell.find('`');
  const auto close = open == std::string::npos ? open : cell.find('`', open + 1);
  if (close == std::string::npos) {
    return cell;
  }
  return cell.substr(open + 1, close - open - 1);
}

/** A table row of the findings table, or nothing. */
bool parseRow(const std::string& line, RuleHelp& rule) {
  if (line.rfind("| [`", 0) != 0) {
    return false;
  }
  auto cells = split(std::string_view(line).substr(1), '|');
  if (cells.size() < 4) {
    return false;
  }
  std::string name = codeIn(cells[0]);
  rule.name = name;
  if (const auto anchor = cells[0].find("(#"); anchor != std::string::npos) {
    rule.anchor = cells[0].substr(anchor + 2, cells[0].find(')', anchor) - anchor - 2);
  }
  if (const auto angle = name.find('<'); angle != std::string::npos) {
    rule.family = true;
    name = name.substr(0, angle);
  }
  rule.code = name;
  rule.severity = split(cells[1], ' ').front();
  rule.skipNote = cells[1].find("skip") != std::string::npos;
  for (auto& step : split(cells[2], '/')) {
    if (!step.empty()) {
      rule.steps.push_back(step);
    }
  }
  rule.summary = cells[3];
  return !rule.code.empty();
}

/**
 * Joins the lines of each paragraph (the document wraps at 100 columns; SARIF viewers and
 * comments wrap themselves); list items, tables and code blocks keep their lines.
 */
std::string unwrapParagraphs(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  std::string line;
  bool previousJoinable = false;
  bool inCode = false;
  while (std::getline(in, line)) {
    const bool fence = line.rfind("```", 0) == 0;
    const bool structural = fence || inCode || line.empty() || line.rfind("- ", 0) == 0 ||
                            line.rfind("* ", 0) == 0 || line.rfind("|", 0) == 0;
    if (!out.empty()) {
      out += previousJoinable && !structural ? " " : "\n";
    }
    out += line;
    if (fence) {
      inCode = !inCode;
    }
    previousJoinable = !line.empty() && !inCode && !fence && line.rfind("|", 0) != 0;
  }
  return out;
}

}  // namespace

std::string headingAnchor(std::string_view heading) {
  std::string anchor;
  for (char c : trim(heading)) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || u >= 0x80) {
      anchor += static_cast<char>(std::tolower(u));
    } else if (c == ' ') {
      anchor += '-';
    }
  }
  return anchor;
}

std::string plainText(std::string_view markdown) {
  std::string out;
  for (size_t i = 0; i < markdown.size(); ++i) {
    const char c = markdown[i];
    if (c == '`') {
      continue;
    }
    if (c == '*' && i + 1 < markdown.size() && markdown[i + 1] == '*') {
      ++i;
      continue;
    }
    if (c == ']' && i + 1 < markdown.size() && markdown[i + 1] == '(') {
      const auto close = markdown.find(')', i);
      if (close != std::string_view::npos) {
        i = close;
        continue;
      }
    }
    if (c == '[' && markdown.find("](", i) != std::string_view::npos) {
      continue;
    }
    out += c;
  }
  return out;
}

FindingsReference FindingsReference::parse(std::string_view markdown) {
  FindingsReference reference;
  std::map<std::string, std::string> sections;  // anchor -> body
  std::istringstream in{std::string(markdown)};
  std::string line;
  std::string anchor;
  std::string body;
  auto closeSection = [&]() {
    if (!anchor.empty()) {
      sections[anchor] = trim(body.substr(0, body.find_last_not_of('\n') + 1));
      while (!sections[anchor].empty() && sections[anchor].front() == '\n') {
        sections[anchor].erase(0, 1);
      }
    }
    anchor.clear();
    body.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.rfind("## ", 0) == 0 || line.rfind("# ", 0) == 0) {
      closeSection();
      if (line.rfind("## ", 0) == 0) {
        anchor = headingAnchor(line.substr(3));
      }
      continue;
    }
    // Rows count wherever the table stands (under a heading of its own, say); the document
    // may hold any other prose and sections besides.
    RuleHelp rule;
    if (parseRow(line, rule)) {
      reference.rules_.push_back(std::move(rule));
    } else if (!anchor.empty()) {
      body += line + "\n";
    }
  }
  closeSection();
  for (auto& rule : reference.rules_) {
    if (auto it = sections.find(rule.anchor); it != sections.end()) {
      rule.markdown = unwrapParagraphs(it->second);
    } else {
      rule.anchor.clear();  // a row without a section: link to the page, not a dead anchor
    }
  }
  return reference;
}

RuleHelp FindingsReference::lookup(const std::string& code) const {
  const RuleHelp* family = nullptr;
  for (const auto& rule : rules_) {
    if (!rule.family && rule.code == code) {
      return rule;
    }
    if (rule.family && code.rfind(rule.code, 0) == 0 &&
        (family == nullptr || rule.code.size() > family->code.size())) {
      family = &rule;
    }
  }
  if (family != nullptr) {
    RuleHelp rule = *family;
    rule.code = code;
    rule.family = false;
    return rule;
  }
  RuleHelp generic;
  generic.code = code;
  generic.name = code;
  generic.documented = false;
  generic.summary = "Finding " + code + " (not in the findings reference yet).";
  generic.markdown = "The findings reference has no entry for `" + code +
                     "` yet: the finding's message and recommendation say what to do.";
  return generic;
}

const FindingsReference& builtinFindingsReference() {
  static const FindingsReference kReference = FindingsReference::parse(findingsDocument());
  return kReference;
}

}  // namespace alembic_sidecar::report
