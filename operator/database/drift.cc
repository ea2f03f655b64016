#include "database/drift.h"

#include "core/reasons.h"

namespace alembic_sidecar::database {
namespace {

std::string kindOf(const std::string& object) { return object.substr(0, object.find(' ')); }
std::string keyOf(const std::string& object) { return object.substr(object.find(' ') + 1); }

/** "table schema.table" of a table member's object ("column public.t.c" -> "table public.t"). */
std::string tableOf(const std::string& object) {
  const std::string kind = kindOf(object);
  if (kind != "column" && kind != "index" && kind != "constraint" && kind != "trigger") {
    return {};
  }
  const std::string key = keyOf(object);
  auto last = key.rfind('.');
  return last == std::string::npos ? std::string() : "table " + key.substr(0, last);
}

bool isCode(const std::string& kind) {
  return kind == "view" || kind == "materialized-view" || kind == "function" || kind == "trigger";
}

/** In the live database and the models, in no migration: the history has a gap. */
bool inModels(const std::string& object, const ModelObjects& models) {
  return models.tables.count(object) > 0 || models.objects.count(object) > 0;
}

constexpr char kGapAdvice[] =
    "a revision that creates it would fail on this database, where it already exists. Run with "
    "--baseline live-schema (the scratch database then starts as a copy of the live schema), or "
    "add a baseline revision at the root of the history that creates what create_all() made, "
    "so that `alembic upgrade head` builds the database (docs/baselines.md)";

std::string handMadeAdvice(const std::string& kind, size_t members) {
  if (isCode(kind)) {
    return "manage it in code with alembic-utils (declare a PGView / PGMaterializedView / "
           "PGFunction / PGTrigger and register it in env.py with register_entities) so "
           "autogenerate tracks it, or leave it out of autogenerate with include_object in env.py";
  }
  if (kind == "table" || kind == "column") {
    return std::string("it may hold data") +
           (members > 0 ? " (with its " + std::to_string(members) +
                              " column(s), indexes and "
                              "constraints)"
                        : "") +
           ": add it to the models (and record it with --baseline live-schema or a baseline "
           "revision), or leave it out of autogenerate with include_object in env.py. Dropping "
           "it deletes that data; do it only on purpose";
  }
  return "add it to the models (Index(...), __table_args__, a named constraint), or leave it out "
         "of autogenerate with include_object in env.py; dropping it deletes no row but may slow "
         "queries or remove a guarantee the data relies on";
}

core::Finding finding(std::string message, std::string recommendation) {
  return core::Finding{core::finding::kDatabaseDrift,
                       core::severity::kEscalation,
                       std::move(message),
                       std::move(recommendation),
                       "",
                       0};
}

}  // namespace

std::vector<core::Finding> driftFindings(const SchemaFingerprint& live,
                                         const SchemaFingerprint& history, size_t limit,
                                         const ModelObjects& models) {
  // "before" = live database, "after" = the history's schema.
  auto diffs = diffFingerprints(live, history);
  // Tables only the live database has: their members are told with them.
  std::set<std::string> liveOnlyTables;
  for (const auto& d : diffs) {
    if (kindOf(d.object) == "table" && !d.after) {
      liveOnlyTables.insert(d.object);
    }
  }
  std::vector<core::Finding> findings;
  size_t told = 0;
  size_t remaining = 0;
  for (const auto& d : diffs) {
    const std::string table = tableOf(d.object);
    if (!d.after && !table.empty() && liveOnlyTables.count(table) > 0) {
      continue;
    }
    if (told >= limit) {
      ++remaining;
      continue;
    }
    ++told;
    const std::string kind = kindOf(d.object);
    if (!d.after) {
      size_t members = 0;
      if (kind == "table") {
        for (const auto& m : diffs) {
          members += !m.after && kindOf(m.object) == "column" && tableOf(m.object) == d.object;
        }
      }
      if (inModels(d.object, models)) {
        findings.push_back(finding(
            d.object + " exists in the live database but not in the migration history, though "
                       "the models have it: a gap in the history (the database was built "
                       "outside alembic, e.g. create_all() then `alembic stamp head`)",
            kGapAdvice));
      } else {
        findings.push_back(
            finding(d.object + " exists in the live database but not in the migration history" +
                        (models.tables.empty() ? std::string() : ", and no model has it") +
                        (isCode(kind) ? "" : " (made by hand?)"),
                    handMadeAdvice(kind, members)));
      }
      continue;
    }
    if (!d.before) {
      findings.push_back(finding(
          describeDifference(d, "in the live database", "in the migration history"),
          "the migrations create it but the live database lacks it (dropped by hand?): restore "
          "it, or change the models and generate a revision that drops it"));
      continue;
    }
    findings.push_back(finding(
        describeDifference(d, "in the live database", "in the migration history"),
        isCode(kind)
            ? handMadeAdvice(kind, 0)
            : "the live definition differs from what the migrations create: bring the database "
              "back in line, or change the models and generate a revision for the new "
              "definition"));
  }
  if (remaining > 0) {
    findings.push_back(finding(std::to_string(remaining) +
                                   " more object(s) differ between the live database and the "
                                   "migration history",
                               "compare the two schemas with pg_dump --schema-only"));
  }
  return findings;
}

}  // namespace alembic_sidecar::database
