#include "controller/controller.h"

#include <spdlog/spdlog.h>

#include "kube/resources.h"

namespace alembic_sidecar::controller {
namespace {

constexpr char kLeaseName[] = "alembic-sidecar";

std::chrono::steady_clock::time_point toSteady(std::chrono::system_clock::time_point when) {
  auto delta = when - std::chrono::system_clock::now();
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(delta);
}

}  // namespace

Sidecar::Sidecar(std::shared_ptr<kube::KubeApi> api, SidecarOptions options, RunEnvironment env,
                 core::RedactorPtr redactor)
    : api_(std::move(api)), options_(std::move(options)), metrics_(std::make_shared<Metrics>()) {
  kube::EventRecorderOptions eventOptions;
  eventOptions.reportingInstance = options_.controller.self;
  auto events = std::make_shared<kube::EventRecorder>(api_, redactor, eventOptions);
  permission_ = std::make_unique<StatusPermission>(api_, options_.controller.ns,
                                                   options_.controller.ownPod, events);
  reconciler_ = std::make_unique<Reconciler>(api_, options_.controller, std::move(env), events,
                                             metrics_, redactor);
  kube::InformerOptions informerOptions;
  informerOptions.list.labelSelector = options_.controller.labelSelector;
  informerOptions.resyncPeriod = options_.resyncPeriod;
  informerOptions.relistPeriod = options_.relistPeriod;
  informer_ = std::make_unique<kube::Informer>(
      api_, kube::resources::migrationRuns(options_.controller.ns), informerOptions,
      [this](kube::EventType type, const nlohmann::json& run) {
        if (type != kube::EventType::kDeleted) {
          queue_.add(objectKey(run));
        }
      },
      [this](const std::vector<nlohmann::json>& runs) {
        // Level-based safety net: stale claims and due retries are found even without events.
        for (const auto& run : runs) {
          queue_.add(objectKey(run));
        }
      });
  if (options_.leaderElect) {
    elector_ = std::make_unique<kube::LeaderElector>(
        api_, kube::LeaderElectionConfig{options_.controller.ns, kLeaseName,
                                         options_.controller.self});
  } else {
    leading_ = true;
  }
}

Sidecar::~Sidecar() {
  stop();
  wait();
}

core::Status Sidecar::start() {
  if (options_.port > 0) {
    std::map<std::string, HttpServer::Handler> routes;
    routes["/healthz"] = [] { return HttpAnswer{200, "text/plain; charset=utf-8", "ok\n"}; };
    routes["/readyz"] = [this] {
      std::string why = stopped_                  ? "stopping"
                        : !informer_->hasSynced() ? "first list of MigrationRuns pending"
                        : !permission_->allowed() ? permission_->reason()
                                                  : "";
      return HttpAnswer{why.empty() ? 200 : 503, "text/plain; charset=utf-8",
                        why.empty() ? "ready\n" : "not ready: " + why + "\n"};
    };
    routes["/metrics"] = [this] {
      auto counters = informer_->counters();
      metrics_->setWatchRestarts(counters.restarts);
      metrics_->setWatchRelists(counters.relists);
      return HttpAnswer{200, "text/plain; version=0.0.4; charset=utf-8", metrics_->render()};
    };
    http_ = std::make_unique<HttpServer>(options_.listenHost, options_.port, std::move(routes));
    if (auto started = http_->start(); !started) {
      return started;
    }
  }
  informer_->start();
  permissionThread_ = std::thread([this] {
    do {
      permission_->check();
    } while (options_.permissionCheckPeriod.count() > 0 &&
             !stopPermission_.waitFor(options_.permissionCheckPeriod));
  });
  if (elector_) {
    electorThread_ = std::thread([this] {
      while (!stopElector_.fired()) {
        elector_->run([this] { leading_ = true; spdlog::info("Leading"); },
                      [this] { leading_ = false; spdlog::info("Stopped leading"); },
                      stopElector_);
      }
    });
  }
  for (int i = 0; i < std::max(1, options_.controller.workers); ++i) {
    workers_.emplace_back([this] { work(); });
  }
  spdlog::info("Sidecar started namespace={} self={} workers={}", options_.controller.ns,
               options_.controller.self, workers_.size());
  return {};
}

void Sidecar::work() {
  while (auto key = queue_.get()) {
    if (!leading_) {
      queue_.done(*key);
      queue_.addAt(*key, std::chrono::steady_clock::now() + std::chrono::seconds(2));
      continue;
    }
    auto next = reconciler_->reconcile(*key);
    queue_.done(*key);
    if (next && !stopped_) {
      queue_.addAt(*key, toSteady(*next));
    }
  }
}

void Sidecar::stop() {
  if (stopped_.exchange(true)) {
    return;
  }
  spdlog::info("Stopping: no new claims; runs in progress end after their current step");
  reconciler_->shutDown();
  informer_->stop();
  queue_.shutDown();
  stopElector_.fire();
  stopPermission_.fire();
}

void Sidecar::wait() {
  for (auto& worker : workers_) {
    if (worker.joinable()) {
      worker.join();
    }
  }
  workers_.clear();
  if (electorThread_.joinable()) {
    electorThread_.join();
  }
  if (permissionThread_.joinable()) {
    permissionThread_.join();
  }
  if (elector_ && elector_->isLeader()) {
    auto released = elector_->release();
    (void)released;
  }
  if (http_) {
    http_->stop();
  }
}

}  // namespace alembic_sidecar::controller
