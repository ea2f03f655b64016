#include "cli/request_command.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "cli/report_options.h"
#include "controller/run_spec.h"
#include "core/json_util.h"
#include "core/reasons.h"
#include "core/report.h"
#include "core/report_json.h"
#include "kube/api_errors.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "kube/kube_client.h"
#include "kube/resources.h"

namespace alembic_sidecar::cli {
namespace {

struct RequestOptions {
  std::string action;
  std::string message;
  std::string targetSelector;
  std::string ns;
  std::string kubeconfig;
  std::string context;
  std::vector<std::string> approvals;
  int timeoutSeconds = 900;
  int roundtripLast = 1;
  std::string head;
  std::string revId;
  std::string baseline;
  bool wait = false;
  bool json = false;
  /** --report and --fail-on (with --wait). */
  ReportOptions reports;
};

bool finished(const nlohmann::json& run) {
  const auto& status = core::objectOr(run, "status");
  std::string phase = core::stringField(status, "phase");
  bool terminal = phase == core::phase::kSucceeded || phase == core::phase::kEscalated ||
                  phase == core::phase::kFailed;
  return terminal && core::intField(status, "observedGeneration") ==
                         core::intField(core::objectOr(run, "metadata"), "generation", 1);
}

/** Prints a line for every condition whose status or reason changed since the last look. */
class ProgressLines {
 public:
  void update(const nlohmann::json& run) {
    const auto& status = core::objectOr(run, "status");
    for (const auto& c : core::arrayField(status, "conditions")) {
      std::string type = core::stringField(c, "type");
      std::string state = core::stringField(c, "status") + "/" + core::stringField(c, "reason");
      if (core::stringField(c, "reason") == core::reason::kNotRun || seen_[type] == state) {
        continue;
      }
      seen_[type] = state;
      std::string s = core::stringField(c, "status");
      std::string message = core::stringField(c, "message");
      message = message.substr(0, message.find('\n'));
      std::fprintf(stderr, "%s %s (%s)%s%s\n",
                   s == "True" ? "ok " : s == "False" ? "ERR" : "-- ", type.c_str(),
                   core::stringField(c, "reason").c_str(), message.empty() ? "" : ": ",
                   message.c_str());
    }
    std::string phase = core::stringField(status, "phase");
    std::string reason = core::stringField(status, "reason");
    if (phase == core::phase::kPending && !reason.empty() && reason != lastPendingReason_) {
      lastPendingReason_ = reason;
      std::fprintf(stderr, "... %s\n", core::stringField(status, "message").c_str());
    }
    std::fflush(stderr);
  }

 private:
  std::map<std::string, std::string> seen_;
  std::string lastPendingReason_;
};

nlohmann::json buildRun(const RequestOptions& o) {
  nlohmann::json spec = {{"action", o.action}};
  if (!o.message.empty()) {
    spec["message"] = o.message;
  }
  if (!o.targetSelector.empty()) {
    nlohmann::json labels = nlohmann::json::object();
    size_t start = 0;
    while (start < o.targetSelector.size()) {
      size_t comma = o.targetSelector.find(',', start);
      std::string pair = o.targetSelector.substr(start, comma - start);
      auto eq = pair.find('=');
      if (eq != std::string::npos) {
        labels[pair.substr(0, eq)] = pair.substr(eq + 1);
      }
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
    spec["target"] = {{"podSelector", {{"matchLabels", labels}}}};
  }
  for (const auto& a : o.approvals) {
    spec["approvals"][a == "raw-sql" ? "rawSQL" : "destructive"] = true;
  }
  spec["timeoutSeconds"] = o.timeoutSeconds;
  spec["roundtripLast"] = o.roundtripLast;
  if (!o.head.empty()) {
    spec["head"] = o.head;
  }
  if (!o.revId.empty()) {
    spec["revId"] = o.revId;
  }
  if (!o.baseline.empty()) {
    spec["baseline"] = o.baseline;
  }
  return {{"apiVersion", controller::kApiVersion},
          {"kind", controller::kKind},
          {"metadata",
           {{"generateName", o.action + "-"},
            {"labels", {{"app.kubernetes.io/created-by", "alembic-sidecar-request"}}}}},
          {"spec", spec}};
}

core::Report reportOf(const nlohmann::json& run, const std::string& action) {
  core::Report report = core::reportFromJson(core::objectOr(run, "status"));
  report.action = action;
  return report;
}

/**
 * The generated file, from the run's ConfigMap (status.revision.configMap, else NAME-revision),
 * for the Markdown report; empty when there is none or it cannot be read.
 */
std::string revisionTextOf(kube::KubeApi& api, const std::string& ns, const std::string& name,
                           const nlohmann::json& run) {
  std::string configMap = core::stringField(
      core::objectOr(core::objectOr(run, "status"), "revision"), "configMap", name + "-revision");
  auto cm = api.get(kube::resources::configMaps(ns).named(configMap));
  if (!cm) {
    return {};
  }
  return core::stringField(core::objectOr(*cm, "data"), "revision.py");
}

/** The same reports a local run writes, built from the run's status. */
int printReport(const core::Report& report, const RequestOptions& o,
                const std::string& revisionText, const core::RedactorPtr& redactor) {
  ReportOptions reports = o.reports;
  reports.json = o.json;
  return emitReports(report, reports, ReportInputs{revisionText, ""}, redactor);
}

/**
 * Says that the API could not be talked to and returns exit code 4, kept apart from 1 (the
 * run Failed) so CI can tell "fix the cluster access" from "fix the migration".
 */
int apiUnavailable(const std::string& what, const core::Error& error) {
  std::cerr << "alembic-sidecar: could not talk to the Kubernetes API: " << what << " ("
            << error.reason << "): " << error.message << "\n";
  return core::kExitApiUnavailable;
}

/** Errors that no amount of waiting fixes: the credentials or their rights. */
bool refused(const core::Error& error) {
  return error.reason == kube::kUnauthorized || error.reason == kube::kForbidden ||
         error.reason == kube::kTlsVerificationFailed || error.reason == kube::kTlsConfigInvalid ||
         error.reason == kube::kExecPluginFailed;
}

int runRequest(const RequestOptions& o, const core::RedactorPtr& redactor) {
  kube::KubeconfigOptions configOptions;
  configOptions.path = o.kubeconfig;
  configOptions.context = o.context;
  auto config = kube::loadDefaultConfig(configOptions);
  if (!config) {
    return apiUnavailable("no usable Kubernetes configuration", config.error());
  }
  kube::ClientOptions clientOptions;
  clientOptions.redactor = redactor;
  auto client = kube::KubeClient::fromConfig(*config, clientOptions);
  if (!client) {
    return apiUnavailable("cannot set up the client", client.error());
  }
  std::shared_ptr<kube::KubeApi> api = *client;
  std::string ns = o.ns.empty() ? api->defaultNamespace() : o.ns;
  auto collection = kube::resources::migrationRuns(ns);

  auto created = api->create(collection, buildRun(o));
  if (!created && created.error().reason == kube::kInvalid) {
    std::cerr << "alembic-sidecar: the MigrationRun was refused as invalid: "
              << created.error().message << "\n";
    return core::kExitUsage;
  }
  if (!created) {
    return apiUnavailable("cannot create the MigrationRun in namespace " + ns, created.error());
  }
  std::string name = core::stringField(core::objectOr(*created, "metadata"), "name");
  std::fprintf(stderr, "migrationrun.alembic.sidecar.dev/%s created in namespace %s\n",
               name.c_str(), ns.c_str());
  if (!o.wait) {
    if (o.json) {
      std::cout << nlohmann::json{{"name", name}, {"namespace", ns}}.dump() << std::endl;
    } else {
      std::cout << name << std::endl;
    }
    return core::kExitSucceeded;
  }

  std::mutex mutex;
  std::condition_variable changed;
  std::optional<nlohmann::json> latest;
  bool deleted = false;
  kube::InformerOptions informerOptions;
  informerOptions.list.fieldSelector = "metadata.name=" + name;
  informerOptions.relistPeriod = std::chrono::seconds(30);
  kube::Informer informer(api, collection, informerOptions,
                          [&](kube::EventType type, const nlohmann::json& run) {
                            std::lock_guard lock(mutex);
                            if (type == kube::EventType::kDeleted) {
                              deleted = true;
                            } else {
                              latest = run;
                            }
                            changed.notify_all();
                          });
  informer.start();
  ProgressLines progress;
  // The run's own timeout plus time to be claimed and to write its result.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeoutSeconds + 60);
  std::unique_lock lock(mutex);
  while (true) {
    if (latest) {
      progress.update(*latest);
      if (finished(*latest)) {
        break;
      }
    }
    if (deleted) {
      lock.unlock();
      informer.stop();
      std::cerr << "alembic-sidecar: the MigrationRun " << name << " was deleted\n";
      return core::kExitFailed;
    }
    // Wake up now and then: the informer reports API trouble only through lastError().
    auto wake = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(1));
    if (changed.wait_until(lock, wake) == std::cv_status::timeout &&
        std::chrono::steady_clock::now() < deadline) {
      if (auto error = informer.lastError(); error && !informer.hasSynced() && refused(*error)) {
        lock.unlock();
        informer.stop();
        return apiUnavailable("cannot follow the MigrationRun " + name, *error);
      }
      continue;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string phase =
          latest ? core::stringField(core::objectOr(*latest, "status"), "phase") : "";
      auto apiError = informer.lastError();
      lock.unlock();
      informer.stop();
      if (apiError) {
        return apiUnavailable("lost the MigrationRun " + name + " while following it", *apiError);
      }
      std::cerr << "alembic-sidecar: timed out waiting for " << name << " (phase "
                << (phase.empty() ? "none: is a sidecar watching namespace " + ns + "?" : phase)
                << ")\n";
      core::Report report = latest ? reportOf(*latest, o.action) : core::Report{};
      report.action = o.action;
      report.phase = core::phase::kFailed;
      report.reason = core::reason::kTimeout;
      report.message = "timed out waiting for " + name;
      printReport(report, o, "", redactor);
      return core::kExitFailed;
    }
  }
  nlohmann::json run = *latest;
  lock.unlock();
  informer.stop();
  core::Report report = reportOf(run, o.action);
  if (report.revision && !o.json) {
    std::fprintf(stderr, "the generated file: kubectl get configmap %s-revision -n %s -o "
                         "jsonpath='{.data.revision\\.py}'\n",
                 name.c_str(), ns.c_str());
  }
  std::string revisionText = o.reports.reports.empty() || !report.revision
                                 ? std::string()
                                 : revisionTextOf(*api, ns, name, run);
  return printReport(report, o, revisionText, redactor);
}

}  // namespace

std::function<int()> addRequestCommand(CLI::App& app, const core::RedactorPtr& redactor) {
  auto o = std::make_shared<RequestOptions>();
  auto* cmd = app.add_subcommand(
      "request", "Create a MigrationRun for the sidecar and (with --wait) follow it to the end");
  cmd->add_option("--action", o->action, "revision, check, upgrade or roundtrip")
      ->required()
      ->check(CLI::IsMember({"revision", "check", "upgrade", "roundtrip"}));
  cmd->add_option("-m,--message", o->message, "Revision message (1..200 characters)")
      ->check(
          [](const std::string& m) {
            if (m.find_first_not_of(" \t\r\n\v\f") == std::string::npos) {
              return std::string("the message must not be blank");
            }
            return m.size() > 200 ? std::string("the message must have 1 to 200 characters")
                                  : std::string();
          },
          "1..200 characters");
  cmd->add_option("--target-selector", o->targetSelector,
                  "Labels of the pod where alembic runs, e.g. app=backend");
  cmd->add_option("--namespace", o->ns, "Namespace (default: the kubeconfig's or the pod's)");
  cmd->add_option("--kubeconfig", o->kubeconfig, "Kubeconfig file");
  cmd->add_option("--context", o->context, "Kubeconfig context");
  cmd->add_option("--approve", o->approvals, "Approve raw-sql or destructive changes")
      ->check(CLI::IsMember({"raw-sql", "destructive"}));
  cmd->add_option("--timeout", o->timeoutSeconds, "Seconds the run may take (spec.timeoutSeconds)")
      ->check(CLI::Range(30, 3600));
  cmd->add_option("--roundtrip-last", o->roundtripLast,
                  "Newest revisions to round-trip (0: none, for upgrade-only histories)")
      ->check(CLI::Range(0, 100));
  cmd->add_option("--head", o->head,
                  "revision: the head to build on when the history has several by design "
                  "(spec.head, e.g. expand@head)");
  cmd->add_option("--rev-id", o->revId, "revision: the new revision's id (spec.revId)");
  cmd->add_option("--baseline", o->baseline,
                  "Where the scratch database starts: auto, history or live-schema "
                  "(spec.baseline; docs/baselines.md)")
      ->check(CLI::IsMember({"auto", "history", "live-schema"}));
  cmd->add_flag("--wait", o->wait,
                "Follow the run, print each step, exit 0/1/3 by its phase (4: API unreachable)");
  cmd->add_flag("--json", o->json, "Print the final report as one JSON object");
  addReportOptions(*cmd, o->reports);
  return [o, cmd, redactor]() -> int {
    if (o->action == "revision" && o->message.empty()) {
      std::cerr << "alembic-sidecar request: --action revision needs -m MESSAGE\n";
      return core::kExitUsage;
    }
    if (!o->reports.reports.empty() && !o->wait) {
      std::cerr << "alembic-sidecar request: --report needs --wait (the report is the run's "
                   "result)\n";
      return core::kExitUsage;
    }
    ReportOptions reports = o->reports;
    reports.json = o->json;
    if (!reportOptionsUsable(reports)) {
      return core::kExitUsage;
    }
    return runRequest(*o, redactor);
  };
}

}  // namespace alembic_sidecar::cli
