#include "controller/metrics.h"

#include <sstream>

namespace alembic_sidecar::controller {

Metrics::Metrics() : bounds_{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600} {}

void Metrics::runFinished(const std::string& action, const std::string& phase) {
  std::lock_guard lock(mutex_);
  ++runs_[{action, phase}];
}

void Metrics::stepDuration(const std::string& step, double seconds) {
  std::lock_guard lock(mutex_);
  auto& h = steps_[step];
  if (h.buckets.empty()) {
    h.buckets.assign(bounds_.size(), 0);
  }
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (seconds <= bounds_[i]) {
      ++h.buckets[i];
    }
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::apiError() {
  std::lock_guard lock(mutex_);
  ++apiErrors_;
}

void Metrics::setRunsInProgress(int n) {
  std::lock_guard lock(mutex_);
  inProgress_ = n;
}

void Metrics::setWatchRestarts(uint64_t n) {
  std::lock_guard lock(mutex_);
  watchRestarts_ = n;
}

void Metrics::setWatchRelists(uint64_t n) {
  std::lock_guard lock(mutex_);
  watchRelists_ = n;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  out << "# HELP alembic_sidecar_runs_total MigrationRuns finished, by action and phase.\n"
      << "# TYPE alembic_sidecar_runs_total counter\n";
  for (const auto& [key, n] : runs_) {
    out << "alembic_sidecar_runs_total{action=\"" << key.first << "\",phase=\"" << key.second
        << "\"} " << n << "\n";
  }
  out << "# HELP alembic_sidecar_step_duration_seconds Time spent in each pipeline step.\n"
      << "# TYPE alembic_sidecar_step_duration_seconds histogram\n";
  for (const auto& [step, h] : steps_) {
    for (size_t i = 0; i < bounds_.size(); ++i) {
      out << "alembic_sidecar_step_duration_seconds_bucket{step=\"" << step << "\",le=\""
          << bounds_[i] << "\"} " << h.buckets[i] << "\n";
    }
    out << "alembic_sidecar_step_duration_seconds_bucket{step=\"" << step << "\",le=\"+Inf\"} "
        << h.count << "\n"
        << "alembic_sidecar_step_duration_seconds_sum{step=\"" << step << "\"} " << h.sum << "\n"
        << "alembic_sidecar_step_duration_seconds_count{step=\"" << step << "\"} " << h.count
        << "\n";
  }
  out << "# HELP alembic_sidecar_watch_restarts_total Watches re-opened after they ended or broke.\n"
      << "# TYPE alembic_sidecar_watch_restarts_total counter\n"
      << "alembic_sidecar_watch_restarts_total " << watchRestarts_ << "\n"
      << "# HELP alembic_sidecar_watch_relists_total Relists after 410 Gone.\n"
      << "# TYPE alembic_sidecar_watch_relists_total counter\n"
      << "alembic_sidecar_watch_relists_total " << watchRelists_ << "\n"
      << "# HELP alembic_sidecar_api_errors_total Failed Kubernetes API calls of the controller.\n"
      << "# TYPE alembic_sidecar_api_errors_total counter\n"
      << "alembic_sidecar_api_errors_total " << apiErrors_ << "\n"
      << "# HELP alembic_sidecar_runs_in_progress Runs this sidecar is executing now.\n"
      << "# TYPE alembic_sidecar_runs_in_progress gauge\n"
      << "alembic_sidecar_runs_in_progress " << inProgress_ << "\n";
  return out.str();
}

}  // namespace alembic_sidecar::controller
