#include "kube/time_format.h"

#include <gtest/gtest.h>

namespace alembic_sidecar::kube {
namespace {

using std::chrono::system_clock;

system_clock::time_point at(long long micros) {
  return system_clock::time_point(std::chrono::microseconds(micros));
}

TEST(TimeFormat, MicroTimeHasSixFractionDigits) {
  EXPECT_EQ(formatMicroTime(at(1714557600000000LL + 123456)), "2024-05-01T10:00:00.123456Z");
  EXPECT_EQ(formatMicroTime(at(1714557600000000LL + 7)), "2024-05-01T10:00:00.000007Z");
  EXPECT_EQ(formatTime(at(1714557600999999LL)), "2024-05-01T10:00:00Z");
}

TEST(TimeFormat, ParsesWhatItWritesAndOffsets) {
  const auto t = at(1714557600000000LL + 123456);
  EXPECT_EQ(parseTime(formatMicroTime(t)).value(), t);
  EXPECT_EQ(parseTime("2024-05-01T12:00:00+02:00").value(), at(1714557600000000LL));
  EXPECT_EQ(parseTime("2024-05-01T10:00:00.5Z").value(), at(1714557600500000LL));
  EXPECT_FALSE(parseTime("2024-05-01 10:00:00Z"));
  EXPECT_FALSE(parseTime("2024-13-01T10:00:00Z"));
  EXPECT_FALSE(parseTime("2024-05-01T10:00:00"));
  EXPECT_FALSE(parseTime("yesterday"));
}

}  // namespace
}  // namespace alembic_sidecar::kube
