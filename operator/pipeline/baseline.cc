// Where the scratch database starts (docs/baselines.md): `upgrade head` from an empty database
// when the history builds the schema, or a schema-only copy of the live database at its
// revision when it does not (apps that build new databases with create_all() and
// `alembic stamp head`). `auto` tries the history first and says why it chose.

#include <regex>

#include "core/reasons.h"
#include "database/live_schema.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

namespace sev = core::severity;

constexpr size_t kMaxListed = 10;

std::string joined(const std::vector<std::string>& items, const std::string& separator = ", ",
                   size_t limit = kMaxListed) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < limit; ++i) {
    out += (out.empty() ? "" : separator) + items[i];
  }
  if (items.size() > limit) {
    out += separator + "and " + std::to_string(items.size() - limit) + " more";
  }
  return out;
}

/**
 * The revision an upgrade failed in: alembic logs "Running upgrade A -> B" before each one
 * (the last such line), else the traceback passes through the revision file. Nullptr when
 * neither says (env.py without logging, an error before the first revision).
 */
const alembic::HistoryEntry* failingRevision(const alembic::OpOutcome& outcome,
                                             const alembic::HistoryOutcome& history) {
  const std::string text = outcome.output + "\n" + outcome.tail;
  static const std::regex kRunning(R"(Running upgrade [^\n]*?-> ([0-9A-Za-z_]+))");
  std::string id;
  for (std::sregex_iterator it(text.begin(), text.end(), kRunning), end; it != end; ++it) {
    id = (*it)[1].str();
  }
  static const std::regex kFrame(R"re(File "([^"]+)", line \d+, in (upgrade|downgrade))re");
  std::string file;
  for (std::sregex_iterator it(text.begin(), text.end(), kFrame), end; it != end; ++it) {
    file = (*it)[1].str();
  }
  for (const auto& entry : history.revisions) {
    if (!id.empty() && entry.revision == id) {
      return &entry;
    }
  }
  for (const auto& entry : history.revisions) {
    if (!file.empty() && !entry.path.empty() &&
        (file == entry.path || (file.size() > entry.path.size() &&
                                file.compare(file.size() - entry.path.size() - 1, std::string::npos,
                                             "/" + entry.path) == 0))) {
      return &entry;
    }
  }
  return nullptr;
}

/** "at revision X (path): error" for messages; `tailLines` of alembic's output after it. */
std::string describeFailure(const RunState& state, const alembic::OpOutcome& outcome,
                            size_t tailLines = 3) {
  const auto* failed = state.history ? failingRevision(outcome, *state.history) : nullptr;
  std::string where = failed == nullptr
                          ? std::string()
                          : " at revision " + failed->revision +
                                (failed->path.empty() ? "" : " (" + failed->path + ")");
  return where + ": " + outcome.describe(tailLines);
}

std::string versionsText(const std::vector<std::string>& versions) {
  return versions.empty() ? std::string("base") : joined(versions, ",", 100);
}

/** The live database's version rows and tables, read-only and bounded. */
struct LiveState {
  std::vector<std::string> versions;
  std::set<std::string> tables;  // "schema.table"
  bool versionTableExists = false;
};

core::Result<LiveState> readLiveState(RunState& state) {
  const std::string live = state.resolved->connection.database;
  auto answers = state.db->queryReadOnly(live, {database::liveTablesQuery()}, {});
  if (!answers) {
    return answers.error();
  }
  if (answers->empty() || !answers->front()) {
    return answers->empty() ? core::Error::terminal(core::reason::kInternalError, "no answer")
                            : answers->front().error();
  }
  LiveState out;
  for (const auto& row : *answers->front()) {
    if (!row.empty() && row[0]) {
      out.tables.insert(*row[0]);
    }
  }
  const std::string qualified = state.versionTable.find('.') == std::string::npos
                                    ? "public." + state.versionTable
                                    : state.versionTable;
  out.versionTableExists = out.tables.count(qualified) > 0;
  if (!out.versionTableExists) {
    return out;
  }
  auto rows = state.db->queryReadOnly(live, {database::versionRowsQuery(state.versionTable)}, {});
  if (!rows) {
    return rows.error();
  }
  if (rows->empty() || !rows->front()) {
    return rows->empty() ? core::Error::terminal(core::reason::kInternalError, "no answer")
                         : rows->front().error();
  }
  for (const auto& row : *rows->front()) {
    if (!row.empty() && row[0]) {
      out.versions.push_back(*row[0]);
    }
  }
  return out;
}

/** "schema.table" of a target_metadata key (`table` is in public). */
std::string qualifiedTable(const std::string& key) {
  return key.find('.') == std::string::npos ? "public." + key : key;
}

/**
 * Tables the models have and the live database has, that the history's schema at head lacks:
 * the history does not build the database (create_all() made them).
 */
std::vector<std::string> historyGap(const RunState& state, const LiveState& live) {
  std::vector<std::string> gap;
  for (const auto& key : state.modelTables) {
    const std::string table = qualifiedTable(key);
    if (live.tables.count(table) > 0 && state.baseline &&
        state.baseline->objects().count("table " + table) == 0) {
      gap.push_back(table);
    }
  }
  return gap;
}

/**
 * Drops the scratch database and creates it again, empty (same name, same owner mark). The
 * new database has a new identity: the driver's target (what its fence admits) follows it.
 */
core::Status resetScratch(RunState& state) {
  if (auto dropped = state.db->dropDatabase(state.scratchName); !dropped) {
    return dropped;
  }
  if (auto created = state.db->createDatabase(state.scratchName); !created) {
    return created;
  }
  auto target = targetFor(state, state.target.connection);
  if (!target) {
    return target.error();
  }
  state.target = *target;
  return {};
}

/** The live database's fingerprint through the read-only, bounded path. */
core::Result<database::SchemaFingerprint> liveFingerprint(RunState& state) {
  auto answers = state.db->queryReadOnly(state.resolved->connection.database,
                                         {{database::fingerprintStatement(), {}}}, {});
  if (!answers) {
    return answers.error();
  }
  if (answers->empty() || !answers->front()) {
    return answers->empty() ? core::Error::terminal(core::reason::kInternalError, "no answer")
                            : answers->front().error();
  }
  std::vector<database::CatalogObject> objects;
  for (const auto& row : *answers->front()) {
    if (row.size() >= 3 && row[0] && row[1]) {
      objects.push_back({*row[0], *row[1], row[2] ? *row[2] : ""});
    }
  }
  return withoutVersionTable(state, database::SchemaFingerprint::fromCatalog(objects));
}

/** Why the copy failed, in words a person can act on. */
std::string copyError(const core::Error& error) {
  if (error.reason == core::reason::kTimeout) {
    return error.message +
           ". Another session holds a lock on a live table (a migration or maintenance in "
           "progress?): the copy takes only the lock a catalog read takes and gives up instead "
           "of waiting; run again once it is done";
  }
  return error.message;
}

/** Why auto mode turned to the live schema, for the message when that fails too. */
struct Fallback {
  std::string from;            // empty: --baseline live-schema was asked for
  bool historyFailed = false;  // `upgrade head` from empty failed (else it built too little)
};

/**
 * The scratch database (empty) becomes a schema-only copy of the live database at its
 * revision, then is upgraded to `to`. `why` says why this baseline (for the report).
 */
std::optional<StepOutcome> fromLiveSchema(RunState& state, const char* type, const std::string& to,
                                          const std::string& why, const Fallback& fallback,
                                          core::Result<LiveState> liveState) {
  const std::string live = state.resolved->connection.database;
  const std::string& scratch = state.scratchName;
  auto failCopy = [&](const std::string& reason, const std::string& problem) {
    if (fallback.from.empty()) {
      return failStep(state, type, reason, "--baseline live-schema: " + problem);
    }
    return failStep(state, type,
                    fallback.historyFailed ? core::reason::kBaselineUpgradeFailed : reason,
                    fallback.from +
                        ". The live database could not serve as the baseline "
                        "instead (--baseline live-schema): " +
                        problem);
  };

  if (!liveState) {
    return failCopy(core::reason::kLiveSchemaCopyFailed,
                    "cannot read the live database " + live + ": " + copyError(liveState.error()));
  }
  if (liveState->versions.empty()) {
    return failCopy(core::reason::kLiveSchemaCopyFailed,
                    "the live database " + live + " has no row in " + state.versionTable +
                        " (alembic never ran on it, nor `alembic stamp`), so a copy of it has no "
                        "revision to start from. Stamp it at the revision its schema matches "
                        "(`alembic stamp <revision>`), or make the history build the schema "
                        "from empty (--baseline history)");
  }
  auto rows = state.db->queryReadOnly(live, {database::liveSchemaQuery()}, {});
  core::Result<database::QueryRows> catalog =
      !rows           ? core::Result<database::QueryRows>(rows.error())
      : rows->empty() ? core::Result<database::QueryRows>(
                            core::Error::terminal(core::reason::kInternalError, "no answer"))
                      : rows->front();
  if (!catalog) {
    return failCopy(
        core::reason::kLiveSchemaCopyFailed,
        "cannot read the schema of the live database " + live + ": " + copyError(catalog.error()));
  }
  auto script = database::buildSchemaScript(*catalog, state.versionTable, liveState->versions);
  if (!script) {
    return failCopy(core::reason::kLiveSchemaCopyFailed, script.error().message);
  }
  if (auto built = state.db->buildSchema(scratch, *script); !built) {
    return failCopy(
        core::reason::kLiveSchemaCopyFailed,
        "the copy of " + live + "'s schema could not be rebuilt: " + built.error().message);
  }

  // The copy must be the live schema, object by object, or the run judges another schema.
  auto livePrint = liveFingerprint(state);
  auto copyPrint = fingerprintOf(state, scratch);
  if (!livePrint || !copyPrint) {
    return failCopy(core::reason::kLiveSchemaCopyFailed,
                    "cannot compare the copy with the live database: " +
                        copyError(!livePrint ? livePrint.error() : copyPrint.error()));
  }
  std::vector<std::string> missing;
  for (const auto& d : database::diffFingerprints(*livePrint, *copyPrint)) {
    missing.push_back(database::describeDifference(d, "in the live database", "in the copy"));
  }
  if (!missing.empty()) {
    addFinding(state, {core::finding::kLiveSchemaCopyIncomplete, sev::kEscalation,
                       "the scratch copy of the live schema differs from it in " +
                           std::to_string(missing.size()) + " object(s): " + joined(missing, "; "),
                       "the run compared the models with a schema that is not quite the live "
                       "one: review what it says about these objects by hand (docs/baselines.md "
                       "lists what the copy makes)",
                       "", 0});
  }
  if (!script->skipped.empty()) {
    addFinding(state,
               {core::finding::kDatabaseNote, sev::kInfo,
                "the copy of the live schema leaves out " + joined(script->skipped), "", "", 0});
  }

  // The live database may be behind the history: its pending revisions run on the copy.
  const std::string at = versionsText(liveState->versions);
  state.driver->setTimeout(state.remaining());
  auto upgraded = state.driver->upgrade(state.target, to);
  if (!upgraded) {
    return failDriver(state, type, upgraded.error());
  }
  if (!upgraded->ok) {
    if (upgraded->breach) {
      return failAlembic(state, type, core::reason::kBaselineUpgradeFailed, "alembic upgrade " + to,
                         *upgraded);
    }
    return failStep(state, type, core::reason::kBaselineUpgradeFailed,
                    "alembic upgrade " + to + " on the copy of the live schema (at " + at +
                        ") failed" + describeFailure(state, *upgraded) +
                        ". The live database's own revision is where the copy starts; the "
                        "revisions after it must apply to it");
  }
  auto fingerprint = fingerprintOf(state, scratch);
  if (!fingerprint) {
    return failStep(state, type, fingerprint.error().reason, fingerprint.error().message);
  }
  state.baseline = std::move(*fingerprint);
  state.report.baseline =
      core::BaselineInfo{kBaselineLiveSchema, at,
                         why + "; the scratch database started as a schema-only copy of " + live +
                             " (" + script->summary + "; no row of data)"};
  return std::nullopt;
}

}  // namespace

std::optional<StepOutcome> buildBaseline(RunState& state, const char* type, const std::string& to) {
  const std::string& mode = state.request.baseline;
  if (mode == kBaselineLiveSchema) {
    return fromLiveSchema(state, type, to, "--baseline live-schema", Fallback{},
                          readLiveState(state));
  }

  state.driver->setTimeout(state.remaining());
  auto upgraded = state.driver->upgrade(state.target, to);
  if (!upgraded) {
    return failDriver(state, type, upgraded.error());
  }
  if (!upgraded->ok) {
    const std::string what = "alembic upgrade " + to + " from an empty database (on " +
                             state.target.connection.database + ")";
    if (upgraded->breach) {
      return failAlembic(state, type, core::reason::kBaselineUpgradeFailed, what, *upgraded);
    }
    const std::string failure = what + " failed" + describeFailure(state, *upgraded);
    // The report's baseline.reason keeps to one line: alembic's own error line.
    const std::string failedAt = what + " failed" + describeFailure(state, *upgraded, 0);
    if (mode == kBaselineHistory) {
      return failStep(state, type, core::reason::kBaselineUpgradeFailed,
                      failure +
                          ". If the project builds new databases outside its history "
                          "(create_all() then `alembic stamp head`), run with --baseline "
                          "live-schema: the scratch database then starts as a schema-only copy of "
                          "the live database at its revision");
    }
    // The live schema instead, unless it cannot serve (then the scratch is left as it is).
    auto live = readLiveState(state);
    if (live && !live->versions.empty()) {
      if (auto reset = resetScratch(state); !reset) {
        return failStep(state, type, core::reason::kScratchDatabaseFailed, reset.error().message);
      }
    }
    return fromLiveSchema(
        state, type, to,
        "auto: the history does not build the schema from empty (" + failedAt + ")",
        Fallback{failure, true}, std::move(live));
  }
  auto fingerprint = fingerprintOf(state, state.target.connection.database);
  if (!fingerprint) {
    return failStep(state, type, fingerprint.error().reason, fingerprint.error().message);
  }
  state.baseline = std::move(*fingerprint);
  std::string reason = "upgrade " + to + " from an empty database";
  if (mode == kBaselineHistory) {
    state.report.baseline =
        core::BaselineInfo{kBaselineHistory, "", reason + " (--baseline history)"};
    return std::nullopt;
  }

  // auto: the history built something; is it the database the models describe?
  auto live = readLiveState(state);
  if (!live) {
    state.report.baseline = core::BaselineInfo{
        kBaselineHistory, "",
        reason + " (auto: the live database could not be read to compare: " + live.error().message +
            ")"};
    return std::nullopt;
  }
  if (live->versions.empty()) {
    state.report.baseline = core::BaselineInfo{
        kBaselineHistory, "",
        reason + " (auto: the history builds the schema; the live database has no " +
            state.versionTable + " row to copy from)"};
    return std::nullopt;
  }
  auto gap = historyGap(state, *live);
  if (gap.empty()) {
    state.report.baseline = core::BaselineInfo{
        kBaselineHistory, "",
        reason +
            " (auto: the history builds every table the models and the live database "
            "share)"};
    return std::nullopt;
  }
  if (auto reset = resetScratch(state); !reset) {
    return failStep(state, type, core::reason::kScratchDatabaseFailed, reset.error().message);
  }
  state.baseline.reset();
  const std::string why = "auto: upgrade " + to + " from an empty database does not create " +
                          std::to_string(gap.size()) +
                          " table(s) that the models and the live "
                          "database have (" +
                          joined(gap) +
                          "): the history does not build "
                          "the database";
  return fromLiveSchema(state, type, to, why,
                        Fallback{"auto: the history does not build the database from empty (it "
                                 "lacks " +
                                     joined(gap) + ")",
                                 false},
                        std::move(live));
}

}  // namespace alembic_sidecar::pipeline
