#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace alembic_sidecar::core {

/** One thing a reviewer should know about a revision. Severity: info|warning|escalation|error. */
struct Finding {
  std::string code;
  std::string severity;
  std::string message;
  std::string recommendation;
  std::string file;  // empty when not tied to a file
  int line = 0;      // 0 when not tied to a line

  bool operator==(const Finding&) const = default;
};

/** One alembic operation found in upgrade() of a revision, e.g. add_column user.email. */
struct Operation {
  std::string op;
  std::string table;
  std::string column;  // empty when the op has none
  std::string name;    // index / constraint / type name; empty when none

  bool operator==(const Operation&) const = default;
};

/** Where the run's database lives. Never carries a password. */
struct DatabaseInfo {
  std::string source;  // flag, env, compose, local-postgres, cnpg/<cluster>, ...
  std::string host;
  int port = 0;
  std::string name;

  bool operator==(const DatabaseInfo&) const = default;
};

struct RevisionInfo {
  std::string id;
  std::string downRevision;
  std::string file;  // path relative to the project
  std::string message;
  std::string sha256;

  bool operator==(const RevisionInfo&) const = default;
};

/** What the database alembic worked on started from, and why (docs/baselines.md). */
struct BaselineInfo {
  std::string source;    // history | live-schema | in-place
  std::string revision;  // the revision(s) it started at, comma-separated; empty: base
  std::string reason;    // why this baseline, for people

  bool operator==(const BaselineInfo&) const = default;
};

/** Passed | Failed | Skipped for each leg. */
struct RoundTripInfo {
  std::string upgrade = "Skipped";
  std::string downgrade = "Skipped";
  std::string reupgrade = "Skipped";
  bool schemaRestored = false;
  int64_t durationMs = 0;

  bool operator==(const RoundTripInfo&) const = default;
};

/** Kubernetes-style condition; status is "True", "False" or "Unknown". */
struct Condition {
  std::string type;
  std::string status;
  std::string reason;
  std::string message;

  bool operator==(const Condition&) const = default;
};

/** The outcome of one run; the same shape for the CLI, the CR status and the CI check. */
struct Report {
  std::string action;
  std::string phase;
  std::string reason;
  std::string message;
  std::optional<DatabaseInfo> database;
  std::optional<RevisionInfo> revision;
  std::optional<BaselineInfo> baseline;
  std::vector<Operation> operations;
  RoundTripInfo roundTrip;
  std::vector<Finding> findings;
  std::vector<Condition> conditions;
  int64_t durationMs = 0;

  bool hasEscalation() const;
  /** Sets or replaces the condition of `type`. */
  void setCondition(Condition condition);
  const Condition* condition(const std::string& type) const;
};

/** Process exit code for a finished report: 0 Succeeded, 1 Failed, 3 Escalated. */
int exitCodeFor(const Report& report);

inline constexpr int kExitSucceeded = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitEscalated = 3;
/** `request`: the Kubernetes API could not be reached or refused us (auth, TLS, network). */
inline constexpr int kExitApiUnavailable = 4;

}  // namespace alembic_sidecar::core
