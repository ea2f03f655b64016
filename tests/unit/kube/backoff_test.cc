#include "kube/backoff.h"

#include <gtest/gtest.h>

namespace alembic_sidecar::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(JitteredBackoff, DoublesFromBaseUpToTheCap) {
  JitteredBackoff backoff({milliseconds(100), milliseconds(1000), 10, seconds(60)},
                          [] { return 0.999999; });
  EXPECT_EQ(backoff.delay(0), milliseconds(99));
  EXPECT_EQ(backoff.delay(1), milliseconds(199));
  EXPECT_EQ(backoff.delay(2), milliseconds(399));
  EXPECT_EQ(backoff.delay(3), milliseconds(799));
  EXPECT_EQ(backoff.delay(4), milliseconds(999));
  EXPECT_EQ(backoff.delay(30), milliseconds(999));
}

TEST(JitteredBackoff, JitterStaysInTheUpperHalf) {
  JitteredBackoff low({milliseconds(100), milliseconds(1000), 10, seconds(60)}, [] { return 0.0; });
  EXPECT_EQ(low.delay(0), milliseconds(50));
  EXPECT_EQ(low.delay(3), milliseconds(400));
  JitteredBackoff mid({milliseconds(100), milliseconds(1000), 10, seconds(60)}, [] { return 0.5; });
  EXPECT_EQ(mid.delay(1), milliseconds(150));
}

TEST(JitteredBackoff, RetryAfterIsHonouredUpToItsCap) {
  JitteredBackoff backoff({milliseconds(100), milliseconds(1000), 10, seconds(30)},
                          [] { return 0.0; });
  EXPECT_EQ(backoff.retryAfterDelay(seconds(3)), milliseconds(3000));
  EXPECT_EQ(backoff.retryAfterDelay(seconds(300)), milliseconds(30000));
  EXPECT_EQ(backoff.retryAfterDelay(seconds(0)), milliseconds(0));
}

}  // namespace
}  // namespace alembic_sidecar::kube
