#pragma once

#include <chrono>

#include "kube/clock.h"

namespace alembic_sidecar::kube {

/** How requests that failed for a transient reason (connection, 429, 5xx) are retried. */
struct BackoffPolicy {
  std::chrono::milliseconds base{250};
  std::chrono::milliseconds max{8000};
  /** Total tries, the first one included. 1 disables retries. */
  int attempts = 5;
  /** A server's Retry-After is honoured up to this long. */
  std::chrono::milliseconds maxRetryAfter{60000};
};

/**
 * Capped exponential backoff with jitter (Envoy's JitteredExponentialBackOffStrategy):
 * retry n waits a random time in [d/2, d] where d = min(max, base * 2^n), so that many
 * clients failing together do not come back together.
 */
class JitteredBackoff {
 public:
  JitteredBackoff(BackoffPolicy policy, RandomSource random);

  /** The delay before retry `retry` (0 for the first retry). */
  std::chrono::milliseconds delay(int retry) const;
  /** The delay when the server sent Retry-After: that value, capped by maxRetryAfter. */
  std::chrono::milliseconds retryAfterDelay(std::chrono::seconds retryAfter) const;
  const BackoffPolicy& policy() const { return policy_; }

 private:
  BackoffPolicy policy_;
  RandomSource random_;
};

}  // namespace alembic_sidecar::kube
