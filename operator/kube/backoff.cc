#include "kube/backoff.h"

#include <algorithm>

namespace alembic_sidecar::kube {

JitteredBackoff::JitteredBackoff(BackoffPolicy policy, RandomSource random)
    : policy_(policy), random_(std::move(random)) {}

std::chrono::milliseconds JitteredBackoff::delay(int retry) const {
  const auto cap = std::max(policy_.max, std::chrono::milliseconds(1));
  auto ceiling = std::max(policy_.base, std::chrono::milliseconds(1));
  for (int i = 0; i < retry && ceiling < cap; ++i) {
    ceiling *= 2;
  }
  ceiling = std::min(ceiling, cap);
  const double fraction = random_ ? std::clamp(random_(), 0.0, 1.0) : 1.0;
  const auto half = ceiling.count() / 2.0;
  return std::chrono::milliseconds(static_cast<long long>(half + fraction * half));
}

std::chrono::milliseconds JitteredBackoff::retryAfterDelay(std::chrono::seconds retryAfter) const {
  return std::min<std::chrono::milliseconds>(retryAfter, policy_.maxRetryAfter);
}

}  // namespace alembic_sidecar::kube
