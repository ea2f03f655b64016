#include "kube/time_format.h"

#include <cstdio>
#include <ctime>

namespace alembic_sidecar::kube {
namespace {

bool digits(std::string_view text, size_t pos, size_t count, int& out) {
  if (pos + count > text.size()) {
    return false;
  }
  out = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

std::string formatWith(std::chrono::system_clock::time_point time, bool micros) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(time);
  const auto fraction =
      std::chrono::duration_cast<std::chrono::microseconds>(time - seconds).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[96];
  if (micros) {
    std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
                  utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                  utc.tm_sec, static_cast<long long>(fraction));
  } else {
    std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
  }
  return buffer;
}

}  // namespace

std::string formatTime(std::chrono::system_clock::time_point time) {
  return formatWith(time, false);
}

std::string formatMicroTime(std::chrono::system_clock::time_point time) {
  return formatWith(time, true);
}

std::optional<std::chrono::system_clock::time_point> parseTime(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(text, 0, 4, year) || text.size() < 20 || text[4] != '-' ||
      !digits(text, 5, 2, month) || text[7] != '-' || !digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't') || !digits(text, 11, 2, hour) || text[13] != ':' ||
      !digits(text, 14, 2, minute) || text[16] != ':' || !digits(text, 17, 2, second)) {
    return std::nullopt;
  }
  size_t pos = 19;
  long long micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int count = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (count < 6) {
        micros = micros * 10 + (text[pos] - '0');
      }
      ++count;
      ++pos;
    }
    if (count == 0) {
      return std::nullopt;
    }
    for (int i = count; i < 6; ++i) {
      micros *= 10;
    }
  }
  int offsetMinutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int offHour = 0, offMinute = 0;
    if (!digits(text, pos + 1, 2, offHour) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !digits(text, pos + 4, 2, offMinute)) {
      return std::nullopt;
    }
    offsetMinutes = (offHour * 60 + offMinute) * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  auto time = std::chrono::sys_days(date) + std::chrono::hours(hour) +
              std::chrono::minutes(minute) + std::chrono::seconds(second) +
              std::chrono::microseconds(micros) - std::chrono::minutes(offsetMinutes);
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(time);
}

}  // namespace alembic_sidecar::kube
