#pragma once

// Every reason code, condition type and finding code the tool emits, defined once.
// They are part of the public contract (status, JSON report, README troubleshooting).

namespace alembic_sidecar::core {

namespace phase {
inline constexpr char kPending[] = "Pending";
inline constexpr char kRunning[] = "Running";
inline constexpr char kSucceeded[] = "Succeeded";
inline constexpr char kEscalated[] = "Escalated";
inline constexpr char kFailed[] = "Failed";
}  // namespace phase

namespace condition {
inline constexpr char kDatabaseReady[] = "DatabaseReady";
inline constexpr char kModelsRegistered[] = "ModelsRegistered";
inline constexpr char kRevisionGenerated[] = "RevisionGenerated";
inline constexpr char kValidated[] = "Validated";
inline constexpr char kRoundTripPassed[] = "RoundTripPassed";
inline constexpr char kReady[] = "Ready";
// Conditions of the actions other than revision.
inline constexpr char kModelsInSync[] = "ModelsInSync";          // check
inline constexpr char kDatabaseUpgraded[] = "DatabaseUpgraded";  // upgrade
}  // namespace condition

namespace reason {
// Outcomes of a whole run (report.reason when the run did not fail).
inline constexpr char kRevisionCreated[] = "RevisionCreated";
inline constexpr char kNoChanges[] = "NoChanges";
inline constexpr char kEscalationRequired[] = "EscalationRequired";
inline constexpr char kInSync[] = "InSync";
inline constexpr char kUpgraded[] = "Upgraded";
inline constexpr char kRoundTripVerified[] = "RoundTripVerified";

// Condition reasons for steps that went well or did not run.
inline constexpr char kConnected[] = "Connected";
inline constexpr char kAllModelsRegistered[] = "AllModelsRegistered";
inline constexpr char kGenerated[] = "Generated";
inline constexpr char kNoEscalations[] = "NoEscalations";
inline constexpr char kSchemaRestored[] = "SchemaRestored";
inline constexpr char kUpgradeOnly[] = "UpgradeOnly";  // round trip of an upgrade-only revision
/** In place, the round trip of a revision that could lose data was not run (RoundTripPassed). */
inline constexpr char kRefusedInPlace[] = "RefusedInPlace";
inline constexpr char kNotRun[] = "NotRun";
inline constexpr char kInProgress[] = "InProgress";

// Failures (terminal unless noted).
inline constexpr char kUsageError[] = "UsageError";
inline constexpr char kInvalidDatabaseUrl[] = "InvalidDatabaseUrl";
inline constexpr char kDatabaseUnavailable[] = "DatabaseUnavailable";  // transient
inline constexpr char kDatabaseNotFound[] = "DatabaseNotFound";
inline constexpr char kDatabaseNotDiscovered[] = "DatabaseNotDiscovered";
inline constexpr char kDatabaseSecretMissing[] = "DatabaseSecretMissing";  // transient for operators
inline constexpr char kLocalPostgresFailed[] = "LocalPostgresFailed";
inline constexpr char kProjectInvalid[] = "ProjectInvalid";
inline constexpr char kWorkspaceUnavailable[] = "WorkspaceUnavailable";  // transient
inline constexpr char kModelNotRegistered[] = "ModelNotRegistered";
inline constexpr char kScratchDatabaseFailed[] = "ScratchDatabaseFailed";
inline constexpr char kMultipleHeads[] = "MultipleHeads";
inline constexpr char kBaselineUpgradeFailed[] = "BaselineUpgradeFailed";
/** --baseline live-schema: the live schema could not be read or rebuilt on the scratch copy. */
inline constexpr char kLiveSchemaCopyFailed[] = "LiveSchemaCopyFailed";
inline constexpr char kAutogenerateFailed[] = "AutogenerateFailed";
inline constexpr char kRevisionUnparseable[] = "RevisionUnparseable";
inline constexpr char kUpgradeFailed[] = "UpgradeFailed";
inline constexpr char kDowngradeFailed[] = "DowngradeFailed";
inline constexpr char kReupgradeFailed[] = "ReupgradeFailed";
inline constexpr char kRoundTripSchemaMismatch[] = "RoundTripSchemaMismatch";
inline constexpr char kModelsOutOfSync[] = "ModelsOutOfSync";
inline constexpr char kTimeout[] = "Timeout";
inline constexpr char kCancelled[] = "Cancelled";
inline constexpr char kInternalError[] = "InternalError";
inline constexpr char kIsolationBreached[] = "IsolationBreached";
inline constexpr char kProjectLocked[] = "ProjectLocked";  // transient for operators
inline constexpr char kNoDatabaseDriver[] = "NoDatabaseDriver";
inline constexpr char kModelImportFailed[] = "ModelImportFailed";
inline constexpr char kHeadRequired[] = "HeadRequired";
// The sidecar controller.
inline constexpr char kInvalidSpec[] = "InvalidSpec";
inline constexpr char kTargetNotFound[] = "TargetNotFound";          // transient
inline constexpr char kApiUnavailable[] = "ApiUnavailable";          // transient
inline constexpr char kClaimLost[] = "ClaimLost";
inline constexpr char kClaimed[] = "Claimed";
inline constexpr char kRetryScheduled[] = "RetryScheduled";
inline constexpr char kInterrupted[] = "Interrupted";
inline constexpr char kTargetAmbiguous[] = "TargetAmbiguous";  // several pods match the selector
// The sidecar's readiness: Events on its own pod, and the /readyz text.
inline constexpr char kStatusWriteForbidden[] = "StatusWriteForbidden";
inline constexpr char kPermissionCheckFailed[] = "PermissionCheckFailed";
inline constexpr char kStatusWriteAllowed[] = "StatusWriteAllowed";
// `alembic-sidecar sweep` verdicts on a scratch database (sweep --json).
inline constexpr char kOwnerGone[] = "OwnerGone";                  // dropped at once
inline constexpr char kUnmarkedAndOld[] = "UnmarkedAndOld";        // dropped after 3 h
inline constexpr char kOwnerAlive[] = "OwnerAlive";                // kept
inline constexpr char kUnmarkedAndRecent[] = "UnmarkedAndRecent";  // kept until 3 h old
}  // namespace reason

namespace finding {
// Diagnoses of an empty autogenerate.
inline constexpr char kNoModelChanges[] = "NoModelChanges";
// Partial capture and policy (escalations unless noted).
inline constexpr char kProbableRename[] = "ProbableRename";
inline constexpr char kDestructiveChange[] = "DestructiveChange";
inline constexpr char kRequiredColumnOnPopulatedTable[] = "RequiredColumnOnPopulatedTable";
inline constexpr char kEnumTypeNotDropped[] = "EnumTypeNotDropped";
inline constexpr char kEnumTypeMissing[] = "EnumTypeMissing";
inline constexpr char kEnumValuesChanged[] = "EnumValuesChanged";
inline constexpr char kTypeChangeWithoutUsing[] = "TypeChangeWithoutUsing";
inline constexpr char kTypeComparisonDisabled[] = "TypeComparisonDisabled";  // warning
inline constexpr char kUnnamedConstraint[] = "UnnamedConstraint";
inline constexpr char kUndefinedName[] = "UndefinedName";
inline constexpr char kRawSQLNotApproved[] = "RawSQLNotApproved";
inline constexpr char kDatabaseDrift[] = "DatabaseDrift";
inline constexpr char kMultipleHeads[] = "MultipleHeads";
inline constexpr char kNonConcurrentIndex[] = "NonConcurrentIndex";
inline constexpr char kLintPrefix[] = "Lint";                    // + squawk rule, warning
inline constexpr char kSquawkNotInstalled[] = "SquawkNotInstalled";  // info
inline constexpr char kLintSkipped[] = "LintSkipped";                // info: SQL not rendered
inline constexpr char kDowngradeNotProvided[] = "DowngradeNotProvided";  // warning
inline constexpr char kPyflakesNotInstalled[] = "PyflakesNotInstalled";  // info
inline constexpr char kRoundTripDifference[] = "RoundTripDifference";  // error, one per object
inline constexpr char kModelsOutOfSync[] = "ModelsOutOfSync";          // error, one per op
inline constexpr char kModelNotRegistered[] = "ModelNotRegistered";    // error, one per class
inline constexpr char kModelImportFailed[] = "ModelImportFailed";      // error, one per module
inline constexpr char kIsolationBreached[] = "IsolationBreached";      // error
inline constexpr char kScratchLeftBehind[] = "ScratchDatabaseLeftBehind";  // warning
inline constexpr char kDatabaseNote[] = "DatabaseNote";  // info: how step 1 found the database
// Baselines (docs/baselines.md) and in-place runs.
/** The scratch copy of the live schema differs from the live database (escalation). */
inline constexpr char kLiveSchemaCopyIncomplete[] = "LiveSchemaCopyIncomplete";
/** In place, a revision with a destructive or escalated finding was not run (escalation). */
inline constexpr char kInplaceRoundTripRefused[] = "InplaceRoundTripRefused";
/** In place, what the run left changed in the app's database (warning; info: unchanged). */
inline constexpr char kInplaceDatabaseChanged[] = "InplaceDatabaseChanged";
// Live-data checks: the app's own database, read-only, asked what the upgrade does to its rows.
inline constexpr char kDuplicateRowsUnderUnique[] = "DuplicateRowsUnderUnique";
inline constexpr char kNullRowsUnderNotNull[] = "NullRowsUnderNotNull";
inline constexpr char kValuesDoNotFitType[] = "ValuesDoNotFitType";
inline constexpr char kValuesRoundedByType[] = "ValuesRoundedByType";
inline constexpr char kOrphanRowsUnderForeignKey[] = "OrphanRowsUnderForeignKey";
inline constexpr char kRowsViolateCheck[] = "RowsViolateCheck";
inline constexpr char kConversionFailsOnLiveRows[] = "ConversionFailsOnLiveRows";
inline constexpr char kDowngradeConversionFails[] = "DowngradeConversionFails";
inline constexpr char kLiveChecksSkipped[] = "LiveChecksSkipped";  // info: no live row to meet
// A data-dependent operation that could not be verified against the live rows (timeout, lock,
// unreadable database, failed count, an expression or conversion the checks cannot run).
inline constexpr char kLiveCheckIncomplete[] = "LiveCheckIncomplete";
// What autogenerate does only half: a widened key whose owned sequence or referencing
// foreign-key columns stay narrower; model tables in a schema env.py does not compare; a
// second autogenerate on the migrated scratch database that is not empty.
inline constexpr char kSequenceNotWidened[] = "SequenceNotWidened";
inline constexpr char kReferencingColumnNotWidened[] = "ReferencingColumnNotWidened";
inline constexpr char kSchemaNotCompared[] = "SchemaNotCompared";
inline constexpr char kAutogenerateNotRepeatable[] = "AutogenerateNotRepeatable";
inline constexpr char kAutogenerateRepeatUnchecked[] = "AutogenerateRepeatUnchecked";  // info
// What autogenerate does not compare, compared with the schema at head; escalations when
// the revision does not carry the difference.
inline constexpr char kServerDefaultNotCompared[] = "ServerDefaultNotCompared";
inline constexpr char kCheckConstraintNotCompared[] = "CheckConstraintNotCompared";
inline constexpr char kComputedColumnNotCompared[] = "ComputedColumnNotCompared";
inline constexpr char kIdentityNotCompared[] = "IdentityNotCompared";
inline constexpr char kIndexPredicateNotCompared[] = "IndexPredicateNotCompared";
inline constexpr char kCommentNotCompared[] = "CommentNotCompared";
inline constexpr char kUncomparedCheckSkipped[] = "UncomparedCheckSkipped";  // info
// A static prediction of failure that the scratch database disproved (the leg passed).
inline constexpr char kPredictionDisproved[] = "PredictionDisproved";  // info
}  // namespace finding

namespace severity {
inline constexpr char kInfo[] = "info";
inline constexpr char kWarning[] = "warning";
inline constexpr char kEscalation[] = "escalation";
inline constexpr char kError[] = "error";
}  // namespace severity

}  // namespace alembic_sidecar::core
