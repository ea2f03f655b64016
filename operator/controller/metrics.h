#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace alembic_sidecar::controller {

/** The sidecar's Prometheus metrics, rendered in the text exposition format. Thread-safe. */
class Metrics {
 public:
  Metrics();

  void runFinished(const std::string& action, const std::string& phase);
  void stepDuration(const std::string& step, double seconds);
  void apiError();
  void setRunsInProgress(int n);
  /** Read from the informer at scrape time. */
  void setWatchRestarts(uint64_t n);
  void setWatchRelists(uint64_t n);

  /** text/plain; version=0.0.4 */
  std::string render() const;

 private:
  struct Histogram {
    std::vector<uint64_t> buckets;  // cumulative counts per bound
    uint64_t count = 0;
    double sum = 0;
  };

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, uint64_t> runs_;
  std::map<std::string, Histogram> steps_;
  std::vector<double> bounds_;
  uint64_t apiErrors_ = 0;
  uint64_t watchRestarts_ = 0;
  uint64_t watchRelists_ = 0;
  int inProgress_ = 0;
};

}  // namespace alembic_sidecar::controller
