#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "database/database.h"

namespace alembic_sidecar::database {

/** Scratch databases older than this are leftovers of crashed runs (longest run: 1 h). */
inline constexpr std::chrono::hours kScratchMaxAge{3};

/** "<db>_autogen_": what every scratch database of `base` starts with (<= 63 bytes total). */
std::string scratchPrefix(const std::string& base);
/** "<db>_autogen_<unix seconds>_<suffix>". */
std::string scratchDatabaseName(const std::string& base, std::chrono::system_clock::time_point now,
                                const std::string& suffix);
/** When a scratch database of `base` was made, from its name; nullopt if not one of ours. */
std::optional<std::chrono::system_clock::time_point> scratchCreatedAt(const std::string& name,
                                                                      const std::string& base);
/** Drops scratch databases of `base` older than kScratchMaxAge; returns how many. */
int sweepScratchDatabases(Database& db, const std::string& base,
                          std::chrono::system_clock::time_point now);

}  // namespace alembic_sidecar::database
