#include "database/scratch.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "core/hash.h"
#include "core/reasons.h"

namespace alembic_sidecar::database {
namespace {

constexpr size_t kMaxIdentifier = 63;
constexpr char kMarker[] = "_autogen_";
// Room for "<10-digit seconds>_<6-char suffix>".
constexpr size_t kTailLength = 10 + 1 + 6;

std::string describeOwner(const ScratchOwner& owner) {
  return "host " + owner.host + " pid " + std::to_string(owner.pid) + " since " + owner.started;
}

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

int32_t scratchLockKey(const std::string& name) {
  std::string hex = core::sha256Hex(name).substr(0, 8);
  uint32_t value = 0;
  std::from_chars(hex.data(), hex.data() + hex.size(), value, 16);
  return static_cast<int32_t>(value & 0x7fffffffu);
}

std::string formatScratchMark(const ScratchOwner& owner) {
  nlohmann::json mark = {
      {"lock",
       {{"database", owner.lockDatabase}, {"class", owner.lockClass}, {"key", owner.lockKey}}},
      {"host", owner.host},
      {"pid", owner.pid},
      {"started", owner.started},
  };
  return kScratchMarkPrefix + mark.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<ScratchOwner> parseScratchMark(std::string_view comment) {
  const std::string_view prefix = kScratchMarkPrefix;
  if (comment.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  auto mark = nlohmann::json::parse(comment.substr(prefix.size()), nullptr, false);
  if (!mark.is_object() || !mark.contains("lock") || !mark["lock"].is_object()) {
    return std::nullopt;
  }
  const auto& lock = mark["lock"];
  if (!lock.contains("database") || !lock["database"].is_string() || !lock.contains("class") ||
      !lock["class"].is_number_integer() || !lock.contains("key") ||
      !lock["key"].is_number_integer()) {
    return std::nullopt;
  }
  ScratchOwner owner;
  owner.lockDatabase = lock["database"].get<std::string>();
  owner.lockClass = lock["class"].get<int32_t>();
  owner.lockKey = lock["key"].get<int32_t>();
  if (mark.contains("host") && mark["host"].is_string()) {
    owner.host = mark["host"].get<std::string>();
  }
  if (mark.contains("pid") && mark["pid"].is_number_integer()) {
    owner.pid = mark["pid"].get<int64_t>();
  }
  if (mark.contains("started") && mark["started"].is_string()) {
    owner.started = mark["started"].get<std::string>();
  }
  return owner;
}

const char* toString(SweepEntry::Verdict verdict) {
  switch (verdict) {
    case SweepEntry::Verdict::kOwnerGone:
      return core::reason::kOwnerGone;
    case SweepEntry::Verdict::kUnmarkedAndOld:
      return core::reason::kUnmarkedAndOld;
    case SweepEntry::Verdict::kOwnerAlive:
      return core::reason::kOwnerAlive;
    case SweepEntry::Verdict::kUnmarkedAndRecent:
      return core::reason::kUnmarkedAndRecent;
  }
  return "Unknown";
}

std::vector<SweepEntry> classifyScratch(const std::vector<ScratchDatabase>& found,
                                        const std::string& base,
                                        std::chrono::system_clock::time_point now) {
  std::vector<SweepEntry> entries;
  for (const auto& db : found) {
    SweepEntry entry;
    entry.name = db.name;
    entry.owner = db.owner;
    if (db.owner) {
      entry.verdict =
          db.ownerAlive ? SweepEntry::Verdict::kOwnerAlive : SweepEntry::Verdict::kOwnerGone;
      entry.why =
          std::string(db.ownerAlive ? "in use by " : "owner gone: ") + describeOwner(*db.owner);
    } else {
      auto created = scratchCreatedAt(db.name, base);
      if (!created) {
        continue;  // not a scratch name and no mark: not ours
      }
      auto ageMinutes = std::chrono::duration_cast<std::chrono::minutes>(now - *created).count();
      bool expired = now - *created >= kScratchMaxAge;
      entry.verdict =
          expired ? SweepEntry::Verdict::kUnmarkedAndOld : SweepEntry::Verdict::kUnmarkedAndRecent;
      entry.why = "no owner mark, created " + std::to_string(ageMinutes) + " min ago" +
                  (expired ? "" : " (kept until it is 3 h old)");
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

int SweepResult::dropped() const {
  int n = 0;
  for (const auto& e : entries) {
    n += e.dropped ? 1 : 0;
  }
  return n;
}

int SweepResult::failed() const {
  int n = 0;
  for (const auto& e : entries) {
    n += e.error.empty() ? 0 : 1;
  }
  return n;
}

SweepResult sweepScratchDatabases(Database& db, const std::string& base,
                                  std::chrono::system_clock::time_point now, bool dryRun) {
  SweepResult result;
  auto found = db.listScratch(scratchPrefix(base));
  if (!found) {
    result.error = found.error();
    return result;
  }
  result.entries = classifyScratch(*found, base, now);
  for (auto& entry : result.entries) {
    if (!entry.orphan() || dryRun) {
      continue;
    }
    if (auto dropped = db.dropDatabase(entry.name); dropped) {
      entry.dropped = true;
      spdlog::info("Swept orphaned scratch database name={} verdict={} why={}", entry.name,
                   toString(entry.verdict), entry.why);
    } else {
      entry.error = dropped.error().message;
      spdlog::warn("Cannot drop orphaned scratch database name={} error={}", entry.name,
                   entry.error);
    }
  }
  return result;
}

}  // namespace alembic_sidecar::database
