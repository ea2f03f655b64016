#include <algorithm>
#include <sstream>

#include "core/reasons.h"
#include "report/renderers.h"

namespace alembic_sidecar::report {
namespace {

/** Text in a Markdown paragraph or list item: no HTML, no line breaks. */
std::string inlineText(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '\r':
        break;
      case '\n':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

/** Text in a table cell: as inline text, and '|' cannot end the cell. */
std::string cell(const std::string& text) {
  std::string out;
  for (char c : inlineText(text)) {
    if (c == '|') {
      out += "\\|";
    } else {
      out += c;
    }
  }
  return out;
}

/** A code span that holds any text (a longer fence when the text has backticks). */
std::string code(const std::string& text) {
  if (text.empty()) {
    return "";
  }
  std::string fence = "`";
  while (text.find(fence) != std::string::npos) {
    fence += '`';
  }
  const bool pad = text.front() == '`' || text.back() == '`';
  std::string body;
  for (char c : text) {
    body += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return fence + (pad ? " " : "") + body + (pad ? " " : "") + fence;
}

std::string mark(const core::Condition& c) {
  if (c.status == "True") {
    return ":white_check_mark:";
  }
  if (c.status == "False") {
    return ":x:";
  }
  return ":heavy_minus_sign:";
}

std::string verdictMark(const std::string& phase) {
  if (phase == core::phase::kSucceeded) {
    return ":white_check_mark:";
  }
  if (phase == core::phase::kEscalated) {
    return ":warning:";
  }
  return ":x:";
}

struct Group {
  const char* severity;
  const char* title;
};
constexpr Group kGroups[] = {{core::severity::kError, "Errors"},
                             {core::severity::kEscalation, "Escalations: a human decides"},
                             {core::severity::kWarning, "Warnings"},
                             {core::severity::kInfo, "Info"}};

/** The revision shown in a comment at most: GitHub takes comments up to 65536 characters. */
constexpr size_t kMaxRevisionChars = 30000;

}  // namespace

std::string markdownMarker(const std::string& action) {
  return "<!-- alembic-sidecar:report " + action + " -->";
}

std::string renderMarkdown(const core::Report& report, const RenderContext& context) {
  std::ostringstream out;
  out << markdownMarker(report.action) << "\n";
  out << "### " << verdictMark(report.phase) << " alembic-sidecar " << inlineText(report.action)
      << ": " << inlineText(report.phase);
  if (!report.reason.empty()) {
    out << " (" << code(report.reason) << ")";
  }
  out << "\n\n";
  if (!report.message.empty()) {
    out << inlineText(report.message) << "\n\n";
  }

  if (!report.conditions.empty()) {
    out << "| Step | | Reason | Detail |\n| --- | --- | --- | --- |\n";
    for (const auto& c : report.conditions) {
      std::string detail = c.type == core::condition::kReady ? "" : c.message;
      detail = detail.substr(0, detail.find('\n'));
      out << "| " << cell(c.type) << " | " << mark(c) << " | " << cell(c.reason) << " | "
          << cell(detail) << " |\n";
    }
    out << "\n";
  }

  if (report.revision) {
    out << "**Revision** " << code(report.revision->id);
    if (!report.revision->downRevision.empty()) {
      out << " (down " << code(report.revision->downRevision) << ")";
    }
    if (auto path = revisionPath(report, context); !path.empty()) {
      out << " in " << code(path);
    }
    out << "\n\n";
  }

  if (!report.operations.empty()) {
    out << "#### Operations\n\n| # | Operation | Table | Column | Name |\n"
        << "| ---: | --- | --- | --- | --- |\n";
    int n = 0;
    for (const auto& op : report.operations) {
      out << "| " << ++n << " | " << cell(code(op.op)) << " | " << cell(code(op.table)) << " | "
          << cell(code(op.column)) << " | " << cell(code(op.name)) << " |\n";
    }
    out << "\n";
  }

  if (!report.findings.empty()) {
    out << "#### Findings\n\n";
    for (const auto& group : kGroups) {
      std::vector<const core::Finding*> members;
      for (const auto& f : report.findings) {
        if (f.severity == group.severity) {
          members.push_back(&f);
        }
      }
      if (members.empty()) {
        continue;
      }
      // Info notes are context, not verdicts: folded so they do not crowd the review.
      const bool folded = std::string(group.severity) == core::severity::kInfo;
      if (folded) {
        out << "<details>\n<summary>" << group.title << " (" << members.size() << ")</summary>\n\n";
      } else {
        out << "**" << group.title << " (" << members.size() << ")**\n\n";
      }
      for (const auto* f : members) {
        const auto at = locate(*f, report, context);
        const auto rule = context.findings().lookup(f->code);
        out << "- [" << code(f->code) << "](" << context.helpUri(rule) << ")";
        if (!at.path.empty() && !f->file.empty()) {
          out << " " << code(at.path + (at.line > 0 ? ":" + std::to_string(at.line) : ""));
        }
        out << ": " << inlineText(f->message) << "\n";
        if (!f->recommendation.empty()) {
          out << "  - Fix: " << inlineText(f->recommendation) << "\n";
        }
      }
      out << (folded ? "\n</details>\n\n" : "\n");
    }
  }

  const auto& rt = report.roundTrip;
  out << "**Round trip:** upgrade " << rt.upgrade << ", downgrade " << rt.downgrade
      << ", re-upgrade " << rt.reupgrade << "; schema "
      << (rt.schemaRestored ? "restored" : "not verified") << "\n";

  if (!context.revisionText.empty()) {
    // GitHub refuses comments over 65536 characters: a very long revision is cut at a line.
    std::string text = context.revisionText;
    if (text.size() > kMaxRevisionChars) {
      auto cut = text.rfind('\n', kMaxRevisionChars);
      if (cut == std::string::npos) {
        cut = kMaxRevisionChars;
      }
      const auto rest =
          std::count(text.begin() + static_cast<std::ptrdiff_t>(cut), text.end(), '\n');
      text = text.substr(0, cut + 1) + "# ... " + std::to_string(rest) +
             " more line(s) not shown: the whole file is in the run's report files\n";
    }
    std::string fence = "```";
    while (text.find(fence) != std::string::npos) {
      fence += '`';
    }
    out << "\n<details>\n<summary>Generated revision";
    if (auto path = revisionPath(report, context); !path.empty()) {
      out << " <code>" << inlineText(path) << "</code>";
    }
    out << "</summary>\n\n" << fence << "python\n" << text;
    if (text.back() != '\n') {
      out << "\n";
    }
    out << fence << "\n\n</details>\n";
  }
  return out.str();
}

}  // namespace alembic_sidecar::report
