#include "database/live_data.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "core/reasons.h"

namespace alembic_sidecar::database {
namespace {

std::string joined(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : sep) + i;
  }
  return out;
}

}  // namespace

std::vector<core::Finding> checkLiveData(Database& db, const std::string& liveDatabase,
                                         const alembic::ParsedRevision& revision,
                                         alembic::AnalysisContext& context,
                                         const LiveCheckLimits& limits,
                                         std::string_view upgradeSql) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<core::Finding> findings;
  auto refs = tablesToInspect(revision);
  if (refs.empty()) {
    return findings;  // only new tables (or none): no live row can be affected
  }
  const auto alters = alterTypeStatements(upgradeSql);
  // The catalog question is no check of rows: it gets at least the default time.
  ReadOnlyLimits catalogLimits = limits.query;
  catalogLimits.statementTimeout =
      std::max(catalogLimits.statementTimeout, ReadOnlyLimits{}.statementTimeout);
  auto catalog = db.queryReadOnly(liveDatabase, {catalogQuery(refs)}, catalogLimits);
  if (!catalog || catalog->empty() || !catalog->front()) {
    // Nothing is known about the live rows: every data-dependent operation is unverified.
    std::string why = !catalog           ? catalog.error().message
                      : catalog->empty() ? std::string("no answer")
                                         : catalog->front().error().message;
    why = "the live database " + liveDatabase + " could not be read read-only (" +
          serverMessage(why) + ")";
    for (const auto& op : dataOps(revision, alters)) {
      findings.push_back(unverifiedFinding(op, why, limits, context.file));
    }
    return findings;
  }
  auto tables = readCatalog(refs, *catalog->front());

  // Row counts: exact up to the limit, pg_class.reltuples beyond it.
  const int64_t countLimit = std::max(limits.exactCountLimit, context.largeTableRows);
  std::vector<ReadOnlyQuery> queries;
  std::vector<TableRef> counted;
  for (const auto& [ref, table] : tables) {
    if (table.reltuples > countLimit) {
      context.liveRowCounts[ref.name] = table.reltuples;
      context.liveRowEstimates.insert(ref.name);
    } else {
      queries.push_back(rowCountQuery(table, countLimit));
      counted.push_back(ref);
    }
  }
  auto plan = planLiveChecks(revision, tables, limits, context.file, alters);
  for (const auto& check : plan.checks) {
    queries.push_back(check.query);
  }
  findings = std::move(plan.skipped);
  for (auto& f : plan.unverified) {
    findings.push_back(std::move(f));
  }
  if (queries.empty()) {
    return findings;
  }
  auto answers = db.queryReadOnly(liveDatabase, queries, limits.query);
  // Why each op is unverified (several checks of one op may fail).
  std::map<size_t, std::set<std::string>> failed;
  std::map<TableRef, std::string> countErrors;
  if (!answers || answers->size() != queries.size()) {
    std::string why =
        "the live database " + liveDatabase + " stopped answering (" +
        (answers ? std::string("an incomplete answer") : serverMessage(answers.error().message)) +
        ")";
    for (const auto& check : plan.checks) {
      failed[check.op].insert(why);
    }
    for (const auto& ref : counted) {
      countErrors[ref] = why;
    }
  } else {
    for (size_t i = 0; i < counted.size(); ++i) {
      const auto& answer = (*answers)[i];
      if (!answer || answer->empty() || answer->front().empty() || !answer->front()[0]) {
        countErrors[counted[i]] = answer ? std::string("no count")
                                         : unverifiedReason(answer.error(), counted[i].display());
        continue;
      }
      int64_t rows = std::stoll(*answer->front()[0]);
      const auto& name = counted[i].name;
      if (rows > countLimit) {
        rows = std::max(rows, tables.at(counted[i]).reltuples);
        context.liveRowEstimates.insert(name);
      }
      context.liveRowCounts[name] = rows;
    }
    std::vector<std::pair<const LiveCheck*, ConversionFailure>> conversions;
    std::set<size_t> doesNotFit;
    for (size_t i = 0; i < plan.checks.size(); ++i) {
      const auto& check = plan.checks[i];
      const auto& answer = (*answers)[counted.size() + i];
      if (!answer) {
        if (check.kind == LiveCheck::Kind::kConversion) {
          if (auto failure = parseConversionFailure(answer.error().message)) {
            conversions.emplace_back(&check, std::move(*failure));
            continue;
          }
        }
        failed[check.op].insert(unverifiedReason(answer.error(), check.table));
        continue;
      }
      spdlog::debug("Live check table={} code={} rows={}", check.table, check.code,
                    answer->empty() || answer->front().empty() || !answer->front()[0]
                        ? std::string("?")
                        : *answer->front()[0]);
      if (auto finding = liveCheckFinding(check, *answer, limits, context.file)) {
        if (check.kind == LiveCheck::Kind::kDoesNotFit) {
          doesNotFit.insert(check.op);
        }
        findings.push_back(std::move(*finding));
      }
    }
    for (const auto& [check, failure] : conversions) {
      // The counted offenders already say the upgrade fails on these rows.
      if (failure.stage != "back" && doesNotFit.count(check->op)) {
        continue;
      }
      findings.push_back(conversionFinding(*check, failure, context.file));
    }
  }
  for (const auto& c : plan.counted) {
    auto rows = context.liveRowCounts.find(c.table.name);
    if (rows == context.liveRowCounts.end()) {
      auto error = countErrors.find(c.table);
      failed[c.op].insert("the rows of " + c.table.display() + " could not be counted (" +
                          (error == countErrors.end() ? std::string("no count") : error->second) +
                          ")");
    } else if (c.maxRows && rows->second > *c.maxRows) {
      failed[c.op].insert(c.beyondMax);
    }
  }
  for (const auto& [index, reasons] : failed) {
    findings.push_back(unverifiedFinding(
        plan.ops[index], joined({reasons.begin(), reasons.end()}, "; "), limits, context.file));
  }
  spdlog::debug("Live data checks done database={} tables={} checks={} unverified={} ms={}",
                liveDatabase, tables.size(), plan.checks.size(), failed.size(),
                std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - started)
                    .count());
  return findings;
}

}  // namespace alembic_sidecar::database
