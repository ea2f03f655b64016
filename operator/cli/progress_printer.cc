#include "cli/progress_printer.h"

#include <string>

namespace alembic_sidecar::cli {

void ProgressPrinter::stepStarted(const std::string& conditionType) {
  std::string line = "... " + conditionType + "\n";
  std::fputs(line.c_str(), out_);
  std::fflush(out_);
}

void ProgressPrinter::stepFinished(const core::Condition& condition, const core::Report&) {
  const char* mark = condition.status == "True" ? "ok " : condition.status == "False" ? "ERR" : "-- ";
  std::string message = condition.message.substr(0, condition.message.find('\n'));
  std::string line = std::string(mark) + " " + condition.type + " (" + condition.reason + ")" +
                     (message.empty() ? "" : ": " + message) + "\n";
  std::fputs(redactor_->scrub(line).c_str(), out_);
  std::fflush(out_);
}

}  // namespace alembic_sidecar::cli
