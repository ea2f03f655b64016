#include "database/live_check_findings.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "core/reasons.h"

namespace alembic_sidecar::database {
namespace {

namespace sev = core::severity;
namespace code = core::finding;
using Kind = LiveCheck::Kind;

constexpr size_t kMaxKeyText = 64;

std::string joined(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : sep) + i;
  }
  return out;
}

/** Keys from array_to_json text: ["1","2"] or, for duplicate groups, [["1","3"],["2","4"]]. */
std::string sampleKeys(const std::optional<std::string>& json) {
  auto j = nlohmann::json::parse(json.value_or("[]"), nullptr, false);
  if (!j.is_array()) {
    return {};
  }
  auto text = [](const nlohmann::json& v) {
    std::string s = v.is_string() ? v.get<std::string>() : v.dump();
    return s.size() > kMaxKeyText ? s.substr(0, kMaxKeyText) + "..." : s;
  };
  std::vector<std::string> out;
  bool groups = false;
  for (const auto& item : j) {
    if (item.is_array()) {
      groups = true;
      std::vector<std::string> pair;
      for (const auto& k : item) {
        pair.push_back(text(k));
      }
      out.push_back(joined(pair, " and "));
    } else {
      out.push_back(text(item));
    }
  }
  return joined(out, groups ? "; " : ", ");
}

}  // namespace

std::optional<core::Finding> liveCheckFinding(const LiveCheck& check, const QueryRows& rows,
                                              const LiveCheckLimits& limits,
                                              const std::string& file) {
  if (rows.empty()) {
    return std::nullopt;
  }
  const auto& row = rows.front();
  bool groups = check.kind == Kind::kDuplicates;
  int64_t count = row.empty() ? 0 : integerField(row[0]).value_or(0);
  if (count <= 0) {
    return std::nullopt;
  }
  auto bounded = [&](int64_t n) {
    return n > limits.maxOffenders ? "more than " + std::to_string(limits.maxOffenders) +
                                         " (the check stops counting there)"
                                   : std::to_string(n);
  };
  std::string keys =
      check.showKeys
          ? sampleKeys(row.size() > (groups ? 2u : 1u) ? row[groups ? 2 : 1] : std::nullopt)
          : std::string();
  std::string which = !check.showKeys ? " (" + check.keyLabel + ")"
                      : keys.empty()  ? ""
                                      : " (" + check.keyLabel + ": " + keys +
                                           (count > limits.sampleKeys ? ", ..." : "") + ")";
  std::string message;
  std::string recommendation;
  const std::string dataMigration =
      "a data migration that runs before this revision (a script, or a revision approved for "
      "raw SQL with --approve raw-sql)";
  switch (check.kind) {
    case Kind::kDuplicates: {
      int64_t inRows = row.size() > 1 ? integerField(row[1]).value_or(0) : 0;
      message = check.subject + " cannot be built on the live database: " + bounded(count) +
                " value(s) occur more than once, in " +
                (count > limits.maxOffenders ? "at least " : "") + std::to_string(inRows) +
                " row(s)" + which + "; the upgrade fails with a unique violation";
      recommendation = "remove the duplicates first with " + dataMigration +
                       ", then generate again; or leave unique=True out of the model until "
                       "the data is clean";
      break;
    }
    case Kind::kNulls:
      message = check.subject + " fails on the live database: " + bounded(count) +
                " row(s) hold NULL" + which;
      recommendation = "backfill the NULLs first with " + dataMigration +
                       ", or keep the field Optional until then; a server_default alone does "
                       "not fill rows that already hold NULL";
      break;
    case Kind::kDoesNotFit:
      message = check.subject + " fails on the live database: " + bounded(count) +
                " row(s) hold values that do not fit or do not convert" + which;
      recommendation = "shorten or clean those values first with " + dataMigration +
                       ", or keep the wider type in the model; for a conversion add a new "
                       "column, backfill it and drop the old one, or set postgresql_using "
                       "through a process_revision_directives hook";
      break;
    case Kind::kRounded:
      message = check.subject + " loses data on the live database: " + bounded(count) +
                " row(s) hold values the new type rounds" + which;
      recommendation =
          "keep the scale in the model, or round the values deliberately first "
          "with " +
          dataMigration;
      break;
    case Kind::kOrphans:
      message = check.subject + " cannot be added on the live database: " + bounded(count) +
                " row(s) reference no existing row" + which;
      recommendation = "delete, repair or set to NULL the orphan rows first with " + dataMigration +
                       "; the constraint can then be added as generated";
      break;
    case Kind::kConversion:
      return std::nullopt;  // a trial answers with an error, not rows (conversionFinding)
    case Kind::kViolations:
      message = check.subject + " cannot be added on the live database: " + bounded(count) +
                " row(s) violate it" + which;
      recommendation =
          "fix those rows first with " + dataMigration + ", or relax the condition in the model";
      break;
  }
  return core::Finding{check.code, sev::kEscalation, message, recommendation, file, check.line};
}

core::Finding conversionFinding(const LiveCheck& check, const ConversionFailure& failure,
                                const std::string& file) {
  std::string where = "row " + std::to_string(failure.row) + " in primary-key order";
  if (failure.key) {
    where = check.keyLabel + " " + *failure.key;
  } else if (!check.showKeys) {
    where += " (" + check.keyLabel + ")";
  }
  std::string error =
      failure.error + (failure.sqlstate.empty() ? "" : " (SQLSTATE " + failure.sqlstate + ")");
  if (failure.stage == "back") {
    return core::Finding{
        code::kDowngradeConversionFails,
        sev::kEscalation,
        "the downgrade of " + check.subject +
            " fails on the live rows once they are upgraded: "
            "converting the first failing value back, at " +
            where + ", PostgreSQL says: " + error,
        "the upgrade converts values the downgrade cannot take back: keep the wider type, or "
        "accept that this revision cannot be rolled back once data is written (and say so in "
        "its downgrade)",
        file,
        check.line};
  }
  std::string what = failure.stage == "assign" ? "the converted value does not fit the new type"
                                               : "the conversion raises an error";
  return core::Finding{
      code::kConversionFailsOnLiveRows,
      sev::kEscalation,
      check.subject + " fails on the live database: tried read-only over the live rows of " +
          check.table + ", " + what + " first at " + where + "; PostgreSQL says: " + error,
      "clean or convert those rows first with a data migration that runs before this revision "
      "(a script, or a revision approved for raw SQL with --approve raw-sql), or change the "
      "conversion: set postgresql_using through a process_revision_directives hook in env.py, "
      "or add a new column, backfill it and drop the old one",
      file,
      check.line};
}

core::Finding unverifiedFinding(const DataOp& op, const std::string& why,
                                const LiveCheckLimits& limits, const std::string& file) {
  const auto ms = limits.query.statementTimeout.count();
  const std::string seconds =
      ms % 1000 == 0 ? std::to_string(ms / 1000) : std::to_string(ms / 1000.0).substr(0, 5);
  return core::Finding{
      code::kLiveCheckIncomplete,
      sev::kEscalation,
      op.subject + " could not be verified against the live rows of " + op.table.display() + ": " +
          why,
      "verify it before the upgrade runs on the live database: run alembic-sidecar again where "
      "the check can finish (--live-check-timeout SECONDS gives each check more than its " +
          seconds +
          " s; --live-role ROLE runs the checks as a role without superuser that can read " +
          op.table.display() + "), or run this read-only query by hand: " + handQuery(op),
      file,
      op.line};
}

std::string serverMessage(std::string_view message) {
  // The first line of PostgreSQL's error; the rest (LINE 1: ..., a caret) quotes the query.
  std::string out(message.substr(0, message.find('\n')));
  for (size_t at; (at = out.find("ERROR:  ")) != std::string::npos;) {
    out.erase(at, 8);
  }
  return withoutValues(out);
}

std::string unverifiedReason(const core::Error& error, const std::string& table) {
  const std::string message = serverMessage(error.message);
  if (error.reason == core::reason::kTimeout) {
    if (message.find("lock_timeout") != std::string::npos) {
      return "another session holds a lock on " + table +
             " that the check could not share; it gave up instead of waiting (" + message + ")";
    }
    return "the check did not finish in time (" + message + ")";
  }
  if (message.find("permission denied") != std::string::npos) {
    return "the check is not allowed to read it (" + message + ")";
  }
  return "the check failed (" + message + ")";
}

}  // namespace alembic_sidecar::database
