#include "controller/reconciler.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "controller/status_writer.h"
#include "core/json_util.h"
#include "core/reasons.h"
#include "core/report_json.h"
#include "kube/api_errors.h"
#include "kube/owner_references.h"
#include "kube/resources.h"
#include "kube/time_format.h"
#include "pipeline/pipeline.h"

namespace alembic_sidecar::controller {
namespace {

using SystemTime = std::chrono::system_clock::time_point;

/** Hands the pipeline a database resolved once by the controller (and its errors). */
class FixedResolver : public database::DatabaseResolver {
 public:
  explicit FixedResolver(core::Result<database::ResolvedDatabase> result)
      : result_(std::move(result)) {}
  core::Result<database::ResolvedDatabase> resolve() override { return result_; }

 private:
  core::Result<database::ResolvedDatabase> result_;
};

/** Writes each finished step to status and to an Event; times steps for the metrics. */
class StatusProgress : public pipeline::ProgressSink {
 public:
  StatusProgress(RunStatusWriter& writer, kube::EventRecorder* events, Metrics* metrics,
                 std::function<std::string()> now, int64_t generation)
      : writer_(writer), events_(events), metrics_(metrics), now_(std::move(now)),
        generation_(generation) {}

  void stepStarted(const std::string& type) override {
    started_ = std::chrono::steady_clock::now();
    current_ = type;
  }

  void stepFinished(const core::Condition& condition, const core::Report& report) override {
    if (metrics_ && condition.type == current_) {
      metrics_->stepDuration(condition.type,
                             std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                           started_)
                                 .count());
    }
    // A copy: current() is a temporary. (operator[] on a const json is undefined for a missing
    // key, and a freshly claimed run has no conditions yet.)
    nlohmann::json previous = core::arrayField(core::objectOr(writer_.current(), "status"), "conditions");
    nlohmann::json status = {
        {"phase", core::phase::kRunning},
        {"reason", condition.reason},
        {"message", condition.type + ": " + condition.message.substr(0, 1000)},
        {"conditions", mergeConditions(previous, report.conditions, generation_, now_())}};
    if (report.database) {
      status["database"] = core::toJson(*report.database);
    }
    if (auto written = writer_.patch(status); !written) {
      spdlog::warn("Status write failed reason={} error={}", written.error().reason,
                   written.error().message);
    }
    // Ready is told once, by the final event of the run, whatever path ended it.
    if (events_ && condition.type != core::condition::kReady) {
      auto recorded = condition.status == "False"
                          ? events_->warning(writer_.current(), condition.reason, condition.type,
                                             condition.message)
                          : events_->normal(writer_.current(), condition.reason, condition.type,
                                            condition.message);
      if (!recorded) {
        spdlog::warn("Event not recorded error={}", recorded.error().message);
      }
    }
  }

  void scratchDatabaseCreated(const std::string& name) override {
    checkpoint({{"scratchDatabase", name}});
  }
  void revisionFileCreated(const std::string& path) override {
    checkpoint({{"pendingRevisionFile", path}});
  }

 private:
  void checkpoint(const nlohmann::json& status) {
    if (auto written = writer_.patch(status); !written) {
      spdlog::warn("Checkpoint not written error={}", written.error().message);
    }
  }

  RunStatusWriter& writer_;
  kube::EventRecorder* events_;
  Metrics* metrics_;
  std::function<std::string()> now_;
  int64_t generation_;
  std::chrono::steady_clock::time_point started_;
  std::string current_;
};

/** Renews status.heartbeatTime while a run executes, so others know the claim is alive. */
class Heartbeat {
 public:
  Heartbeat(RunStatusWriter& writer, std::chrono::seconds interval,
            std::function<std::string()> now)
      : thread_([this, &writer, interval, now = std::move(now)] {
          while (!stop_.waitFor(interval)) {
            if (!writer.patch({{"heartbeatTime", now()}}) && writer.lost()) {
              return;
            }
          }
        }) {}
  ~Heartbeat() {
    stop_.fire();
    thread_.join();
  }

 private:
  kube::Interrupt stop_;
  std::thread thread_;
};

std::string labelSelector(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    out += (out.empty() ? "" : ",") + k + "=" + v;
  }
  return out;
}

core::Report failureReport(const std::string& action, const std::string& reason,
                           const std::string& message) {
  core::Report r;
  r.action = action;
  r.phase = core::phase::kFailed;
  r.reason = reason;
  r.message = message;
  r.conditions.push_back({core::condition::kReady, "False", reason, message});
  return r;
}

}  // namespace

Reconciler::Reconciler(std::shared_ptr<kube::KubeApi> api, ControllerOptions options,
                       RunEnvironment env, std::shared_ptr<kube::EventRecorder> events,
                       std::shared_ptr<Metrics> metrics, core::RedactorPtr redactor,
                       kube::ClockPtr clock)
    : api_(std::move(api)),
      options_(std::move(options)),
      env_(std::move(env)),
      events_(std::move(events)),
      metrics_(std::move(metrics)),
      redactor_(std::move(redactor)),
      clock_(std::move(clock)) {}

std::string Reconciler::nowText() const { return kube::formatTime(clock_->wallNow()); }

void Reconciler::shutDown() { shuttingDown_ = true; }

int Reconciler::activeRuns() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(active_.size());
}

std::optional<SystemTime> Reconciler::reconcile(const std::string& key) {
  if (shuttingDown_) {
    return std::nullopt;
  }
  auto slash = key.find('/');
  auto ref = kube::resources::migrationRuns(key.substr(0, slash)).named(key.substr(slash + 1));
  auto run = api_->get(ref);
  if (!run) {
    if (kube::isNotFound(run.error())) {
      return std::nullopt;
    }
    if (metrics_) {
      metrics_->apiError();
    }
    spdlog::warn("Cannot read run={} error={}", key, run.error().message);
    return clock_->wallNow() + std::chrono::seconds(5);
  }
  bool runningHere;
  {
    std::lock_guard lock(mutex_);
    runningHere = active_.count(key) > 0;
  }
  auto view = viewOf(*run);
  auto result = decide(view, options_.self, runningHere, clock_->wallNow(), options_.staleAfter);
  switch (result.decision) {
    case Decision::kNothing:
      return std::nullopt;
    case Decision::kWaitUntil:
      return result.until;
    default:
      return claimAndRun(*run, result.decision);
  }
}

std::optional<SystemTime> Reconciler::claimAndRun(const nlohmann::json& run, Decision decision) {
  const auto view = viewOf(run);
  const auto& status = core::objectOr(run, "status");
  const bool newGeneration = decision == Decision::kClaim && view.observedGeneration != 0 &&
                             view.generation != view.observedGeneration;
  const int attempts = newGeneration ? 1 : view.attempts + 1;
  const std::string now = nowText();
  nlohmann::json claim = {{"phase", core::phase::kRunning},
                          {"claimedBy", options_.self},
                          {"heartbeatTime", now},
                          {"attempts", attempts},
                          {"observedGeneration", view.generation},
                          {"nextRetryTime", nullptr},
                          {"reason", core::reason::kClaimed},
                          {"message", "claimed by " + options_.self + " (attempt " +
                                          std::to_string(attempts) + ")"}};
  if (newGeneration || core::stringField(status, "startTime").empty()) {
    claim["startTime"] = now;
  }
  if (newGeneration) {
    // A new spec: the previous outcome no longer describes the run.
    for (const char* field :
         {"completionTime", "revision", "roundTrip", "database", "baseline", "durationMs"}) {
      claim[field] = nullptr;
    }
    claim["operations"] = nlohmann::json::array();
    claim["findings"] = nlohmann::json::array();
    claim["conditions"] = nlohmann::json::array();
  }
  nlohmann::json body = {
      {"metadata",
       {{"resourceVersion", core::stringField(core::objectOr(run, "metadata"), "resourceVersion")}}},
      {"status", claim}};
  auto ref = kube::resources::migrationRuns(core::stringField(core::objectOr(run, "metadata"), "namespace"))
                 .named(core::stringField(core::objectOr(run, "metadata"), "name"))
                 .withSubresource("status");
  auto claimed = api_->mergePatch(ref, body);
  if (!claimed) {
    if (kube::isConflict(claimed.error())) {
      // Someone else moved first (another sidecar's claim, or a spec change): look again.
      spdlog::debug("Claim conflict run={}", view.key);
      return clock_->wallNow() + std::chrono::milliseconds(200);
    }
    if (metrics_) {
      metrics_->apiError();
    }
    spdlog::warn("Claim failed run={} error={}", view.key, claimed.error().message);
    return clock_->wallNow() + std::chrono::seconds(5);
  }
  spdlog::info("Claimed run={} attempt={} how={}", view.key, attempts,
               decision == Decision::kResumeOwn  ? "resume"
               : decision == Decision::kTakeOver ? "take-over"
                                                 : "claim");
  {
    std::lock_guard lock(mutex_);
    active_.insert(view.key);
  }
  if (metrics_) {
    metrics_->setRunsInProgress(activeRuns());
  }
  auto next = execute(*claimed, view);
  {
    std::lock_guard lock(mutex_);
    active_.erase(view.key);
  }
  if (metrics_) {
    metrics_->setRunsInProgress(activeRuns());
  }
  return next;
}

core::Result<nlohmann::json> Reconciler::targetPod(const RunSpec& spec, const nlohmann::json& run) {
  const std::string runName = core::stringField(core::objectOr(run, "metadata"), "name");
  const auto runRef = kube::resources::migrationRuns(options_.ns).named(runName);
  // status.targetPod says where alembic runs when a selector chose the pod (null otherwise).
  // Conditional on the claim's resourceVersion, re-read while the run is still ours, so a run
  // taken over by another sidecar is never written to.
  auto recordTarget = [&](const nlohmann::json& value) {
    nlohmann::json current = run;
    for (int attempt = 0; attempt < 3; ++attempt) {
      const std::string version =
          core::stringField(core::objectOr(current, "metadata"), "resourceVersion");
      auto written = api_->mergePatch(runRef.withSubresource("status"),
                                      {{"metadata", {{"resourceVersion", version}}},
                                       {"status", {{"targetPod", value}}}});
      if (written || !kube::isConflict(written.error())) {
        if (!written) {
          spdlog::warn("Target pod not recorded run={} error={}", objectKey(run),
                       written.error().message);
        }
        return;
      }
      auto reread = api_->get(runRef);
      if (!reread ||
          core::stringField(core::objectOr(*reread, "status"), "claimedBy") != options_.self) {
        return;
      }
      current = *reread;
    }
  };
  if (!spec.target.podSelector.empty()) {
    kube::ListOptions list;
    list.labelSelector = labelSelector(spec.target.podSelector);
    auto pods = kube::listAll(*api_, kube::resources::pods(options_.ns), list);
    if (!pods) {
      return pods.error();
    }
    // The first Running pod by name; the others are named in a warning, never skipped silently.
    std::vector<nlohmann::json> candidates;
    for (const auto& pod : pods->items) {
      bool running = core::stringField(core::objectOr(pod, "status"), "phase") == "Running";
      bool deleting = !core::stringField(core::objectOr(pod, "metadata"), "deletionTimestamp").empty();
      if (running && !deleting) {
        candidates.push_back(pod);
      }
    }
    if (candidates.empty()) {
      return core::Error::retryable(core::reason::kTargetNotFound,
                                    "no Running pod matches " + list.labelSelector +
                                        " in namespace " + options_.ns);
    }
    auto podName = [](const nlohmann::json& pod) {
      return core::stringField(core::objectOr(pod, "metadata"), "name");
    };
    std::sort(candidates.begin(), candidates.end(),
              [&](const auto& a, const auto& b) { return podName(a) < podName(b); });
    const std::string chosen = podName(candidates.front());
    if (candidates.size() > 1) {
      std::string others;
      for (size_t i = 1; i < candidates.size(); ++i) {
        others += (others.empty() ? "" : ", ") + podName(candidates[i]);
      }
      std::string note = "spec.target.podSelector " + list.labelSelector + " matches " +
                         std::to_string(candidates.size()) + " Running pods; alembic runs in " +
                         chosen + " (the first by name), not in " + others +
                         ". Narrow the selector so that it matches one pod";
      spdlog::warn("Several target pods run={} selector={} chosen={} others={}", objectKey(run),
                   list.labelSelector, chosen, others);
      if (events_) {
        if (auto recorded = events_->warning(run, core::reason::kTargetAmbiguous, "SelectTarget",
                                             note);
            !recorded) {
          spdlog::warn("Event not recorded error={}", recorded.error().message);
        }
      }
    }
    recordTarget(chosen);
    return candidates.front();
  }
  if (core::objectOr(run, "status").contains("targetPod")) {
    recordTarget(nullptr);  // left by an earlier generation whose spec had a selector
  }
  if (options_.ownPod.empty()) {
    if (!options_.workspaceDir.empty()) {
      return nlohmann::json(nullptr);
    }
    return core::Error::terminal(core::reason::kTargetNotFound,
                                 "spec.target.podSelector is empty and POD_NAME is not set: "
                                 "give the sidecar its pod name through the Downward API");
  }
  auto pod = api_->get(kube::resources::pods(options_.ns).named(options_.ownPod));
  if (!pod) {
    if (kube::isNotFound(pod.error()) && !options_.workspaceDir.empty()) {
      return nlohmann::json(nullptr);  // a local workspace needs no pod
    }
    return core::Error::retryable(core::reason::kTargetNotFound,
                                  "cannot read this sidecar's pod " + options_.ownPod + ": " +
                                      pod.error().message);
  }
  return pod;
}

std::optional<SystemTime> Reconciler::execute(const nlohmann::json& claimed,
                                              const RunView& before) {
  RunStatusWriter writer(api_, claimed, options_.self);
  const auto view = viewOf(claimed);
  const std::string name = core::stringField(core::objectOr(claimed, "metadata"), "name");
  auto nowFn = [this] { return nowText(); };
  // From the claim on: finding the target and the database may take a while under load, and
  // a claim without heartbeat would look abandoned to the other sidecars.
  auto heartbeat = std::make_unique<Heartbeat>(writer, options_.heartbeatInterval, nowFn);
  if (events_) {
    auto recorded = events_->normal(claimed, core::reason::kClaimed, "Claim",
                                    "claimed by " + options_.self + " (attempt " +
                                        std::to_string(view.attempts) + ")");
    (void)recorded;
  }

  pipeline::RunOutcome outcome;
  auto spec = parseRunSpec(claimed);
  std::string action = spec ? spec->action : core::stringField(core::objectOr(claimed, "spec"), "action");
  if (!spec) {
    outcome.report = failureReport(action, spec.error().reason, spec.error().message);
  } else {
    auto pod = targetPod(*spec, claimed);
    if (!pod) {
      outcome.report = failureReport(action, pod.error().reason, pod.error().message);
    } else {
      std::string container =
          spec->target.container.empty() ? options_.defaultContainer : spec->target.container;
      auto ws = env_.makeWorkspace(*spec, *pod);
      if (!ws) {
        outcome.report = failureReport(action, ws.error().reason, ws.error().message);
      } else {
        auto resolver = env_.makeResolver(*spec, *pod, container);
        auto resolved = resolver->resolve();
        // Leftovers of an interrupted attempt: its scratch database and a revision file
        // that was generated but never validated.
        if (resolved && !before.scratchDatabase.empty()) {
          auto db = env_.databaseFactory(resolved->connection);
          if (auto dropped = db->dropDatabase(before.scratchDatabase); dropped) {
            spdlog::info("Dropped leftover scratch database run={} name={}", view.key,
                         before.scratchDatabase);
          }
        }
        if (!before.pendingRevisionFile.empty() && before.phase == core::phase::kRunning) {
          if ((*ws)->removeFile(before.pendingRevisionFile)) {
            spdlog::info("Removed unvalidated revision file run={} file={}", view.key,
                         before.pendingRevisionFile);
          }
        }
        if (!before.scratchDatabase.empty() || !before.pendingRevisionFile.empty()) {
          auto cleared = writer.patch({{"scratchDatabase", nullptr}, {"pendingRevisionFile", nullptr}});
          (void)cleared;
        }
        FixedResolver fixed(std::move(resolved));
        StatusProgress progress(writer, events_.get(), metrics_.get(), nowFn, view.generation);
        pipeline::PipelineDeps deps;
        deps.workspace = ws->get();
        deps.resolver = &fixed;
        deps.databaseFactory = env_.databaseFactory;
        deps.redactor = redactor_;
        deps.progress = &progress;
        deps.cancelled = [this, &writer] { return shuttingDown_.load() || writer.lost(); };
        auto request = toRunRequest(*spec, options_.defaults);
        request.runId = name + "-" + std::to_string(view.attempts);
        outcome = pipeline::runPipeline(request, deps);
      }
    }
  }

  heartbeat.reset();  // the final writes below clear heartbeatTime
  auto& report = outcome.report;
  report.action = action;
  if (writer.lost()) {
    spdlog::warn("Run taken over by another sidecar; result dropped run={}", view.key);
    return std::nullopt;
  }
  nlohmann::json previous =
      core::arrayField(core::objectOr(writer.current(), "status"), "conditions");
  auto conditions = mergeConditions(previous, report.conditions, view.generation, nowText());
  nlohmann::json cleared = {{"scratchDatabase", nullptr},
                            {"pendingRevisionFile", nullptr},
                            {"heartbeatTime", nullptr}};

  if (report.reason == core::reason::kCancelled && shuttingDown_) {
    nlohmann::json release = cleared;
    release.update({{"phase", core::phase::kPending},
                    {"claimedBy", nullptr},
                    {"reason", core::reason::kInterrupted},
                    {"message", "the sidecar shut down mid-run: " + report.message +
                                    "; the run starts again from the beginning"},
                    {"conditions", conditions}});
    if (auto written = writer.patch(release); !written) {
      spdlog::warn("Cannot release run={} error={}", view.key, written.error().message);
    }
    if (events_) {
      auto recorded = events_->warning(writer.current(), core::reason::kInterrupted, "Release",
                                       "sidecar " + options_.self + " shut down; run released");
      (void)recorded;
    }
    return std::nullopt;
  }

  int backoffLimit = spec ? spec->backoffLimit : 0;
  if (report.phase == core::phase::kFailed && isTransientReason(report.reason) &&
      view.attempts <= backoffLimit) {
    auto delay = retryDelay(view.attempts, options_.retryBase, options_.retryCap);
    auto next = clock_->wallNow() + delay;
    nlohmann::json retry = cleared;
    retry.update({{"phase", core::phase::kPending},
                  {"claimedBy", nullptr},
                  {"nextRetryTime", kube::formatTime(next)},
                  {"reason", report.reason},
                  {"message", "attempt " + std::to_string(view.attempts) + " of " +
                                  std::to_string(backoffLimit + 1) + " failed: " +
                                  report.message + " (retry in " +
                                  std::to_string(delay.count()) + " s)"},
                  {"conditions", conditions}});
    if (auto written = writer.patch(retry); !written) {
      spdlog::warn("Cannot schedule retry run={} error={}", view.key, written.error().message);
    }
    if (events_) {
      auto recorded = events_->warning(writer.current(), core::reason::kRetryScheduled, "Retry",
                                       report.reason + ": " + report.message);
      (void)recorded;
    }
    return next;
  }

  nlohmann::json final = reportStatus(report);
  final.update(cleared);
  final["conditions"] = conditions;
  final["completionTime"] = nowText();
  final["observedGeneration"] = view.generation;
  final["nextRetryTime"] = nullptr;
  if (!outcome.revisionText.empty() && report.revision) {
    std::string cmName = name + "-revision";
    auto cm = kube::buildOwnedConfigMap(
        cmName, writer.current(),
        {{"revision.py", outcome.revisionText}, {"report.json", core::toJson(report).dump(2)}},
        {{"app.kubernetes.io/managed-by", "alembic-sidecar"}});
    auto stored = cm ? kube::createOrReplaceConfigMap(*api_, *cm)
                     : core::Result<nlohmann::json>(cm.error());
    if (stored) {
      final["revision"]["configMap"] = cmName;
    } else {
      spdlog::warn("ConfigMap not written run={} error={}", view.key, stored.error().message);
    }
  }
  if (auto written = writer.patch(final); !written) {
    spdlog::error("Final status not written run={} error={}", view.key, written.error().message);
    if (metrics_) {
      metrics_->apiError();
    }
    return clock_->wallNow() + std::chrono::seconds(5);
  }
  if (events_) {
    bool ok = report.phase == core::phase::kSucceeded;
    auto recorded = ok ? events_->normal(writer.current(), report.reason, "Complete", report.message)
                       : events_->warning(writer.current(), report.reason, "Complete",
                                          report.phase + ": " + report.message);
    (void)recorded;
  }
  if (metrics_) {
    metrics_->runFinished(action, report.phase);
  }
  spdlog::info("Run finished run={} phase={} reason={} durationMs={}", view.key, report.phase,
               report.reason, report.durationMs);
  return std::nullopt;
}

}  // namespace alembic_sidecar::controller
