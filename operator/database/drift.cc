#include "database/drift.h"

#include "core/reasons.h"

namespace alembic_sidecar::database {
namespace {

std::string kindOf(const std::string& object) { return object.substr(0, object.find(' ')); }

std::string recommendationFor(const FingerprintDifference& d) {
  std::string kind = kindOf(d.object);
  if (kind == "view" || kind == "materialized-view" || kind == "function" || kind == "trigger") {
    return "manage it in code with alembic-utils (declare a PGView / PGFunction / PGTrigger and "
           "register it in env.py with register_entities) so autogenerate tracks it, or drop it";
  }
  if (!d.after) {
    return "it was created by hand: add it to the models and generate a revision that records "
           "it, or drop it from the database";
  }
  if (!d.before) {
    return "the migrations create it but the live database lacks it (dropped by hand?): "
           "restore it, or change the models and generate a revision that drops it";
  }
  return "the live definition differs from what the migrations create: bring the database back "
         "in line, or change the models and generate a revision for the new definition";
}

}  // namespace

std::vector<core::Finding> driftFindings(const SchemaFingerprint& live,
                                         const SchemaFingerprint& history, size_t limit) {
  std::vector<core::Finding> findings;
  // "before" = live database, "after" = the history's schema.
  auto diffs = diffFingerprints(live, history);
  for (size_t i = 0; i < diffs.size() && i < limit; ++i) {
    findings.push_back(core::Finding{
        core::finding::kDatabaseDrift, core::severity::kEscalation,
        describeDifference(diffs[i], "in the live database", "in the migration history"),
        recommendationFor(diffs[i]), "", 0});
  }
  if (diffs.size() > limit) {
    findings.push_back(core::Finding{core::finding::kDatabaseDrift, core::severity::kEscalation,
                                     std::to_string(diffs.size() - limit) +
                                         " more object(s) differ between the live database and "
                                         "the migration history",
                                     "compare the two schemas with pg_dump --schema-only", "", 0});
  }
  return findings;
}

}  // namespace alembic_sidecar::database
