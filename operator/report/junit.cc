#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "core/reasons.h"
#include "report/renderers.h"

namespace alembic_sidecar::report {
namespace {

/** XML 1.0 text: the five entities escaped, control characters it cannot carry dropped. */
std::string xml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t' || c == '\r') {
          out += c;
        }
    }
  }
  return out;
}

std::string seconds(int64_t ms) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3f", static_cast<double>(ms) / 1000.0);
  return buffer;
}

std::string firstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

enum class State { kPassed, kFailed, kSkipped };

struct Case {
  std::string name;
  std::string file;
  int line = 0;
  State state = State::kPassed;
  std::string type;     // failure type
  std::string message;  // failure / skipped message
  std::string body;     // failure text
  std::string out;      // system-out
};

struct Suite {
  std::string name;
  const core::Condition* condition = nullptr;
  int64_t ms = 0;
  std::vector<Case> cases;
};

bool notRun(const core::Condition* c) {
  return c == nullptr || c->status == "Unknown" || c->reason == core::reason::kNotRun;
}

/** The case that says how the step itself went. */
Case stepCase(std::string name, const core::Condition* c, const core::Report& report) {
  Case out;
  out.name = std::move(name);
  if (notRun(c)) {
    out.state = State::kSkipped;
    out.message =
        (c ? c->type : out.name) + " did not run: the run ended before it (" + report.reason + ")";
  } else if (c->status == "False") {
    out.state = State::kFailed;
    out.type = c->reason;
    out.message = c->reason + ": " + firstLine(c->message);
    out.body = c->message;
  } else {
    out.out = c->reason + (c->message.empty() ? "" : ": " + c->message);
  }
  return out;
}

Case findingCase(const core::Finding& f, const RuleHelp& rule, const SourceLocation& at) {
  Case out;
  out.name = f.code;
  if (!at.path.empty()) {
    out.name += " at " + at.path + (at.line > 0 ? ":" + std::to_string(at.line) : "");
  }
  out.file = at.path;
  out.line = at.line;
  std::string text = f.message;
  if (!f.recommendation.empty()) {
    text += "\nRecommendation: " + f.recommendation;
  }
  if (!at.path.empty()) {
    text += "\nFile: " + at.path + (at.line > 0 ? ":" + std::to_string(at.line) : "");
  }
  if (blocking(f.severity)) {
    out.state = State::kFailed;
    out.type = f.code + " (" + f.severity + ")";
    out.message = f.message;
    out.body = text;
  } else if (rule.skipNote) {
    out.state = State::kSkipped;
    out.message = f.message;
  } else {
    out.out = "[" + f.severity + "] " + text;
  }
  return out;
}

/** The key a finding is counted under: its code, or its family's name (`Lint<Rule>`). */
std::string ruleKey(const RuleHelp& rule, const std::string& code) {
  return rule.documented ? rule.name : code;
}

void writeCase(std::ostringstream& xmlOut, const Case& c, const std::string& classname) {
  xmlOut << "    <testcase name=\"" << xml(c.name) << "\" classname=\"" << xml(classname)
         << "\" time=\"0.000\"";
  if (!c.file.empty()) {
    xmlOut << " file=\"" << xml(c.file) << "\"";
  }
  if (c.line > 0) {
    xmlOut << " line=\"" << c.line << "\"";
  }
  if (c.state == State::kPassed && c.out.empty()) {
    xmlOut << "/>\n";
    return;
  }
  xmlOut << ">\n";
  if (c.state == State::kFailed) {
    xmlOut << "      <failure type=\"" << xml(c.type) << "\" message=\"" << xml(c.message) << "\">"
           << xml(c.body) << "</failure>\n";
  } else if (c.state == State::kSkipped) {
    xmlOut << "      <skipped message=\"" << xml(c.message) << "\"/>\n";
  }
  if (!c.out.empty()) {
    xmlOut << "      <system-out>" << xml(c.out) << "</system-out>\n";
  }
  xmlOut << "    </testcase>\n";
}

}  // namespace

std::string renderJunit(const core::Report& report, const RenderContext& context) {
  const auto& reference = context.findings();
  std::vector<Suite> suites;
  for (const auto& c : report.conditions) {
    suites.push_back(Suite{c.type, &c, 0, {}});
  }
  if (suites.empty()) {
    suites.push_back(Suite{core::condition::kReady, nullptr, 0, {}});
  }
  auto suiteIndex = [&](const RuleHelp& rule) -> int {
    for (const auto& step : rule.steps) {
      for (size_t i = 0; i < suites.size(); ++i) {
        if (suites[i].name == step) {
          return static_cast<int>(i);
        }
      }
    }
    return -1;
  };

  // Findings by rule key, in report order; rules the reference does not know go last.
  std::map<std::string, std::vector<const core::Finding*>> byKey;
  std::vector<std::string> unknownKeys;
  std::map<std::string, RuleHelp> helpByKey;
  for (const auto& f : report.findings) {
    RuleHelp rule = reference.lookup(f.code);
    std::string key = ruleKey(rule, f.code);
    if (!helpByKey.count(key)) {
      helpByKey.emplace(key, rule);
      if (!rule.documented || suiteIndex(rule) < 0) {
        unknownKeys.push_back(key);
      }
    }
    byKey[key].push_back(&f);
  }

  // The step cases: one per revision checked where the step checks revisions.
  for (auto& suite : suites) {
    const bool perRevision = suite.name == core::condition::kValidated ||
                             suite.name == core::condition::kRoundTripPassed;
    std::vector<std::string> revisions;
    if (perRevision) {
      if (auto path = revisionPath(report, context); !path.empty()) {
        revisions.push_back(path);
      }
      for (const auto& f : report.findings) {
        RuleHelp rule = reference.lookup(f.code);
        int index = suiteIndex(rule);
        auto at = locate(f, report, context);
        if (index >= 0 && suites[index].name == suite.name && !at.path.empty() &&
            std::find(revisions.begin(), revisions.end(), at.path) == revisions.end()) {
          revisions.push_back(at.path);
        }
      }
    }
    if (revisions.empty()) {
      suite.cases.push_back(stepCase(suite.name, suite.condition, report));
    }
    for (const auto& path : revisions) {
      Case c = stepCase("revision " + path, suite.condition, report);
      c.file = path;
      suite.cases.push_back(std::move(c));
    }
    if (suite.name == core::condition::kRoundTripPassed) {
      suite.ms = report.roundTrip.durationMs;
    }
  }

  // One case per rule of each step, or one per finding of it.
  auto addRule = [&](Suite& suite, const std::string& key, const RuleHelp& rule) {
    auto it = byKey.find(key);
    if (it == byKey.end()) {
      Case c;
      c.name = key;
      if (notRun(suite.condition)) {
        c.state = State::kSkipped;
        c.message = suite.name + " did not run, so " + key + " was not checked";
      }
      suite.cases.push_back(std::move(c));
      return;
    }
    for (const auto* f : it->second) {
      suite.cases.push_back(findingCase(*f, rule, locate(*f, report, context)));
    }
  };
  for (const auto& rule : reference.rules()) {
    int index = suiteIndex(rule);
    if (index < 0) {
      continue;
    }
    addRule(suites[index], rule.name, rule);
  }
  if (!unknownKeys.empty()) {
    Suite other{"Findings", nullptr, 0, {}};
    for (const auto& key : unknownKeys) {
      for (const auto* f : byKey[key]) {
        other.cases.push_back(findingCase(*f, helpByKey[key], locate(*f, report, context)));
      }
    }
    suites.push_back(std::move(other));
  }

  int tests = 0;
  int failures = 0;
  std::ostringstream body;
  for (const auto& suite : suites) {
    int suiteFailures = 0;
    int skipped = 0;
    for (const auto& c : suite.cases) {
      suiteFailures += c.state == State::kFailed;
      skipped += c.state == State::kSkipped;
    }
    tests += static_cast<int>(suite.cases.size());
    failures += suiteFailures;
    body << "  <testsuite name=\"" << xml(suite.name) << "\" tests=\"" << suite.cases.size()
         << "\" failures=\"" << suiteFailures << "\" errors=\"0\" skipped=\"" << skipped
         << "\" time=\"" << seconds(suite.ms) << "\">\n";
    if (suite.condition != nullptr) {
      body << "    <properties>\n"
           << "      <property name=\"status\" value=\"" << xml(suite.condition->status) << "\"/>\n"
           << "      <property name=\"reason\" value=\"" << xml(suite.condition->reason)
           << "\"/>\n";
      if (suite.name == core::condition::kReady) {
        body << "      <property name=\"phase\" value=\"" << xml(report.phase) << "\"/>\n";
      }
      body << "    </properties>\n";
    }
    const std::string classname = "alembic-sidecar." + report.action + "." + suite.name;
    for (const auto& c : suite.cases) {
      writeCase(body, c, classname);
    }
    body << "  </testsuite>\n";
  }
  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<testsuites name=\"alembic-sidecar " << xml(report.action) << "\" tests=\"" << tests
      << "\" failures=\"" << failures << "\" errors=\"0\" time=\"" << seconds(report.durationMs)
      << "\">\n"
      << body.str() << "</testsuites>\n";
  return out.str();
}

}  // namespace alembic_sidecar::report
