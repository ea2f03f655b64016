#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "database/database.h"

namespace alembic_sidecar::database {

/**
 * Unmarked scratch databases (no owner to ask) older than this are leftovers of crashed
 * runs (longest run: 1 h). Marked ones are dropped as soon as their owner is gone.
 */
inline constexpr std::chrono::hours kScratchMaxAge{3};
/** First key of every scratch lease's advisory lock ("alsc"), so they never meet the app's. */
inline constexpr int32_t kScratchLockClass = 0x616c7363;
/** What every owner mark starts with, so `\l+` tells people what the database is. */
inline constexpr char kScratchMarkPrefix[] = "alembic-sidecar scratch database ";

/** "<db>_autogen_": what every scratch database of `base` starts with (<= 63 bytes total). */
std::string scratchPrefix(const std::string& base);
/** "<db>_autogen_<unix seconds>_<suffix>". */
std::string scratchDatabaseName(const std::string& base, std::chrono::system_clock::time_point now,
                                const std::string& suffix);
/** When a scratch database of `base` was made, from its name; nullopt if not one of ours. */
std::optional<std::chrono::system_clock::time_point> scratchCreatedAt(const std::string& name,
                                                                      const std::string& base);

/** Second key of the lease's lock for the scratch database `name`: 31 bits of its SHA-256. */
int32_t scratchLockKey(const std::string& name);
/** The COMMENT ON DATABASE text: kScratchMarkPrefix + a JSON object of the owner. */
std::string formatScratchMark(const ScratchOwner& owner);
/** The owner in a database comment; nullopt when the comment is not a mark of ours. */
std::optional<ScratchOwner> parseScratchMark(std::string_view comment);

/** What a sweep found about one scratch database and what it did. */
struct SweepEntry {
  enum class Verdict {
    kOwnerGone,          // marked, the owner's lock is free: dropped at once
    kUnmarkedAndOld,     // no mark, older than kScratchMaxAge: dropped
    kOwnerAlive,         // marked, the owner's lock is held: kept
    kUnmarkedAndRecent,  // no mark, younger than kScratchMaxAge: kept (no owner to ask)
  };
  std::string name;
  Verdict verdict = Verdict::kOwnerAlive;
  std::optional<ScratchOwner> owner;
  /** Why, for people: "owner gone (host h pid 12 since ...)". */
  std::string why;
  bool dropped = false;
  /** Set when the drop failed. */
  std::string error;

  bool orphan() const {
    return verdict == Verdict::kOwnerGone || verdict == Verdict::kUnmarkedAndOld;
  }
};

/** The verdict's name in `sweep --json` (reasons.h: OwnerGone, UnmarkedAndOld, ...). */
const char* toString(SweepEntry::Verdict verdict);

/**
 * Decides, without I/O, which of `found` (the scratch databases of `base`) are orphans.
 * Databases whose name is not a scratch name of `base` and that carry no mark are left out.
 */
std::vector<SweepEntry> classifyScratch(const std::vector<ScratchDatabase>& found,
                                        const std::string& base,
                                        std::chrono::system_clock::time_point now);

struct SweepResult {
  std::vector<SweepEntry> entries;
  /** Set when the databases could not be listed (then entries is empty). */
  std::optional<core::Error> error;

  int dropped() const;
  int failed() const;
};

/**
 * Drops the orphaned scratch databases of `base` (classifyScratch): at once when the owner
 * is provably gone, after kScratchMaxAge when unmarked. `dryRun` drops nothing.
 */
SweepResult sweepScratchDatabases(Database& db, const std::string& base,
                                  std::chrono::system_clock::time_point now, bool dryRun = false);

}  // namespace alembic_sidecar::database
