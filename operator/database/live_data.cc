#include "database/live_data.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/reasons.h"

namespace alembic_sidecar::database {

std::vector<core::Finding> checkLiveData(Database& db, const std::string& liveDatabase,
                                         const alembic::ParsedRevision& revision,
                                         alembic::AnalysisContext& context,
                                         const LiveCheckLimits& limits) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<core::Finding> findings;
  auto refs = tablesToInspect(revision);
  if (refs.empty()) {
    return findings;  // only new tables (or none): no live row can be affected
  }
  auto catalog = db.queryReadOnly(liveDatabase, {catalogQuery(refs)}, limits.query);
  if (!catalog || catalog->empty() || !catalog->front()) {
    std::string why = !catalog           ? catalog.error().message
                      : catalog->empty() ? std::string("no answer")
                                         : catalog->front().error().message;
    findings.push_back(core::Finding{
        core::finding::kLiveChecksSkipped, core::severity::kInfo,
        "live-data checks skipped: the live database " + liveDatabase +
            " could not be read read-only: " + why,
        "the revision was judged without the live rows" +
            (context.roundTripDatabase.empty() ? std::string()
                                               : " (on " + context.roundTripDatabase + ")") +
            "; run it where the app's database is reachable to learn what it does to the "
            "existing rows",
        context.file, 0});
    return findings;
  }
  auto tables = readCatalog(refs, *catalog->front());

  // Row counts: exact up to the limit, pg_class.reltuples beyond it.
  const int64_t countLimit = std::max(limits.exactCountLimit, context.largeTableRows);
  std::vector<ReadOnlyQuery> queries;
  std::vector<const TableRef*> counted;
  for (const auto& [ref, table] : tables) {
    if (table.reltuples > countLimit) {
      context.liveRowCounts[ref.name] = table.reltuples;
      context.liveRowEstimates.insert(ref.name);
    } else {
      queries.push_back(rowCountQuery(table, countLimit));
      counted.push_back(&ref);
    }
  }
  auto plan = planLiveChecks(revision, tables, limits, context.file);
  for (const auto& check : plan.checks) {
    queries.push_back(check.query);
  }
  findings = std::move(plan.skipped);
  if (queries.empty()) {
    return findings;
  }
  auto answers = db.queryReadOnly(liveDatabase, queries, limits.query);
  if (!answers || answers->size() != queries.size()) {
    std::string why = answers ? "an incomplete answer" : answers.error().message;
    for (const auto& check : plan.checks) {
      findings.push_back(liveCheckIncomplete(
          check, core::Error::terminal(core::reason::kDatabaseUnavailable, why), context.file));
    }
    return findings;
  }
  for (size_t i = 0; i < counted.size(); ++i) {
    const auto& answer = (*answers)[i];
    if (!answer || answer->empty() || answer->front().empty() || !answer->front()[0]) {
      continue;  // no count: the checks that need one stay quiet, as before
    }
    int64_t rows = std::stoll(*answer->front()[0]);
    const auto& name = counted[i]->name;
    if (rows > countLimit) {
      rows = std::max(rows, tables.at(*counted[i]).reltuples);
      context.liveRowEstimates.insert(name);
    }
    context.liveRowCounts[name] = rows;
  }
  for (size_t i = 0; i < plan.checks.size(); ++i) {
    const auto& check = plan.checks[i];
    const auto& answer = (*answers)[counted.size() + i];
    if (!answer) {
      findings.push_back(liveCheckIncomplete(check, answer.error(), context.file));
      continue;
    }
    spdlog::debug("Live check table={} code={} rows={}", check.table, check.code,
                  answer->empty() || answer->front().empty() || !answer->front()[0]
                      ? std::string("?")
                      : *answer->front()[0]);
    if (auto finding = liveCheckFinding(check, *answer, limits, context.file)) {
      findings.push_back(std::move(*finding));
    }
  }
  spdlog::debug("Live data checks done database={} tables={} checks={} ms={}", liveDatabase,
                tables.size(), plan.checks.size(),
                std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - started)
                    .count());
  return findings;
}

}  // namespace alembic_sidecar::database
