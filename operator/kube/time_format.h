#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace alembic_sidecar::kube {

/** metav1.Time: RFC 3339 in UTC with whole seconds, "2024-05-01T10:00:00Z". */
std::string formatTime(std::chrono::system_clock::time_point time);
/** metav1.MicroTime: RFC 3339 in UTC with microseconds, "2024-05-01T10:00:00.123456Z". */
std::string formatMicroTime(std::chrono::system_clock::time_point time);
/** Parses either form (and any fraction length, "Z" or an offset). */
std::optional<std::chrono::system_clock::time_point> parseTime(std::string_view text);

}  // namespace alembic_sidecar::kube
