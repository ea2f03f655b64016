#include "database/scratch.h"

#include <spdlog/spdlog.h>

#include <charconv>

namespace alembic_sidecar::database {
namespace {

constexpr size_t kMaxIdentifier = 63;
constexpr char kMarker[] = "_autogen_";
// Room for "<10-digit seconds>_<6-char suffix>".
constexpr size_t kTailLength = 10 + 1 + 6;

}  // namespace

std::string scratchPrefix(const std::string& base) {
  size_t room = kMaxIdentifier - kTailLength - (sizeof(kMarker) - 1);
  return base.substr(0, room) + kMarker;
}

std::string scratchDatabaseName(const std::string& base, std::chrono::system_clock::time_point now,
                                const std::string& suffix) {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return scratchPrefix(base) + std::to_string(seconds) + "_" + suffix.substr(0, 6);
}

std::optional<std::chrono::system_clock::time_point> scratchCreatedAt(const std::string& name,
                                                                      const std::string& base) {
  std::string prefix = scratchPrefix(base);
  if (name.rfind(prefix, 0) != 0) {
    return std::nullopt;
  }
  std::string_view rest = std::string_view(name).substr(prefix.size());
  int64_t seconds = 0;
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), seconds);
  if (ec != std::errc() || ptr == rest.data() || ptr == rest.data() + rest.size() || *ptr != '_') {
    return std::nullopt;
  }
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

int sweepScratchDatabases(Database& db, const std::string& base,
                          std::chrono::system_clock::time_point now) {
  auto names = db.listDatabases(scratchPrefix(base));
  if (!names) {
    return 0;
  }
  int dropped = 0;
  for (const auto& name : *names) {
    auto created = scratchCreatedAt(name, base);
    if (!created || now - *created < kScratchMaxAge) {
      continue;
    }
    if (db.dropDatabase(name)) {
      spdlog::info("Swept leftover scratch database name={}", name);
      ++dropped;
    }
  }
  return dropped;
}

}  // namespace alembic_sidecar::database
