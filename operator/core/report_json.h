#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "core/report.h"

namespace alembic_sidecar::core {

// The JSON shape of a report is a public contract (CLI --json, CR status, request --json).
// Empty optional fields (finding file/line, operation column/name) are omitted.

nlohmann::json toJson(const Report& report);
nlohmann::json toJson(const Finding& finding);
nlohmann::json toJson(const Operation& op);
nlohmann::json toJson(const RoundTripInfo& roundTrip);
nlohmann::json toJson(const DatabaseInfo& database);
nlohmann::json toJson(const RevisionInfo& revision);
nlohmann::json toJson(const BaselineInfo& baseline);

/** Reads a report back (from a CR status or a --json output); missing fields stay default. */
Report reportFromJson(const nlohmann::json& json);

/** The human report: one line per step, then findings. */
std::string renderText(const Report& report);

}  // namespace alembic_sidecar::core
