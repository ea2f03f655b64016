#pragma once

#include <cstdio>

#include "pipeline/pipeline.h"

namespace alembic_sidecar::cli {

/** Prints one line per step to stderr as the step finishes, already scrubbed of secrets. */
class ProgressPrinter : public pipeline::ProgressSink {
 public:
  explicit ProgressPrinter(core::RedactorPtr redactor, std::FILE* out = stderr)
      : redactor_(std::move(redactor)), out_(out) {}

  void stepStarted(const std::string& conditionType) override;
  void stepFinished(const core::Condition& condition, const core::Report& report) override;

 private:
  core::RedactorPtr redactor_;
  std::FILE* out_;
};

}  // namespace alembic_sidecar::cli
