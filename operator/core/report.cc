#include "core/report.h"

#include <algorithm>

#include "core/reasons.h"

namespace alembic_sidecar::core {

bool Report::hasEscalation() const {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return f.severity == severity::kEscalation; });
}

void Report::setCondition(Condition c) {
  for (auto& existing : conditions) {
    if (existing.type == c.type) {
      existing = std::move(c);
      return;
    }
  }
  conditions.push_back(std::move(c));
}

const Condition* Report::condition(const std::string& type) const {
  for (const auto& c : conditions) {
    if (c.type == type) {
      return &c;
    }
  }
  return nullptr;
}

int exitCodeFor(const Report& report) {
  if (report.phase == phase::kSucceeded) {
    return kExitSucceeded;
  }
  if (report.phase == phase::kEscalated) {
    return kExitEscalated;
  }
  return kExitFailed;
}

}  // namespace alembic_sidecar::core
