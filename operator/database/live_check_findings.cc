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
      sampleKeys(row.size() > (groups ? 2u : 1u) ? row[groups ? 2 : 1] : std::nullopt);
  std::string which = keys.empty() ? ""
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
    case Kind::kViolations:
      message = check.subject + " cannot be added on the live database: " + bounded(count) +
                " row(s) violate it" + which;
      recommendation =
          "fix those rows first with " + dataMigration + ", or relax the condition in the model";
      break;
  }
  return core::Finding{check.code, sev::kEscalation, message, recommendation, file, check.line};
}

core::Finding liveCheckIncomplete(const LiveCheck& check, const core::Error& error,
                                  const std::string& file) {
  return core::Finding{
      code::kLiveCheckIncomplete,
      sev::kWarning,
      check.subject + " could not be checked against the live rows of " + check.table + ": " +
          error.message,
      "the verdict is unknown: check the data by hand before the upgrade runs in production, "
      "or run again when the table is less busy (the checks are read-only and give up after "
      "statement_timeout / lock_timeout)",
      file,
      check.line};
}

}  // namespace alembic_sidecar::database
