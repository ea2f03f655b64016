#include "kube/informer.h"

#include <spdlog/spdlog.h>

#include <set>

#include "kube/api_errors.h"

namespace alembic_sidecar::kube {
namespace {

/** A watch that ends this fast without an event counts as a failure (no busy loop). */
constexpr std::chrono::seconds kMinHealthyWatch{1};

}  // namespace

const char* toString(EventType type) {
  switch (type) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
  }
  return "UNKNOWN";
}

Informer::Informer(std::shared_ptr<KubeApi> api, ResourceRef collection, InformerOptions options,
                   EventHandler onEvent, ResyncHandler onResync, ClockPtr clock,
                   RandomSource random)
    : api_(std::move(api)),
      collection_(collection.collection()),
      options_(std::move(options)),
      onEvent_(std::move(onEvent)),
      onResync_(std::move(onResync)),
      clock_(clock ? std::move(clock) : systemClock()),
      backoff_(options_.backoff, random ? std::move(random) : defaultRandom()) {}

Informer::~Informer() { stop(); }

void Informer::start() {
  if (loop_.joinable()) {
    return;
  }
  loop_ = std::thread([this] {
    while (step()) {
    }
  });
  if (options_.resyncPeriod.count() > 0 && onResync_) {
    resyncLoop_ = std::thread([this] {
      while (clock_->sleepFor(options_.resyncPeriod, &stopping_)) {
        resync();
      }
    });
  }
  if (options_.relistPeriod.count() > 0) {
    relistLoop_ = std::thread([this] {
      while (clock_->sleepFor(options_.relistPeriod, &stopping_)) {
        relist();
      }
    });
  }
}

void Informer::relist() {
  std::lock_guard lock(mutex_);
  if (needList_) {
    return;
  }
  needList_ = true;
  relistRequested_ = true;
  if (stream_ != nullptr) {
    stream_->cancel();
  }
}

void Informer::stop() {
  stopping_.fire();
  {
    std::lock_guard lock(mutex_);
    if (stream_ != nullptr) {
      stream_->cancel();
    }
  }
  if (loop_.joinable()) {
    loop_.join();
  }
  if (resyncLoop_.joinable()) {
    resyncLoop_.join();
  }
  if (relistLoop_.joinable()) {
    relistLoop_.join();
  }
}

bool Informer::step() {
  if (stopping_.fired()) {
    return false;
  }
  bool listDue = false;
  {
    std::lock_guard lock(mutex_);
    listDue = needList_;
  }
  if (listDue) {
    listAndDiff();
  } else {
    watchOnce();
  }
  return !stopping_.fired();
}

void Informer::listAndDiff() {
  auto listed = listAll(*api_, collection_, options_.list);
  if (!listed) {
    spdlog::warn("Informer list failed resource={} reason={} error={}", collection_.describe(),
                 listed.error().reason, listed.error().message);
    {
      std::lock_guard lock(mutex_);
      ++counters_.errors;
      lastError_ = listed.error();
    }
    backoffAfterFailure();
    return;
  }
  std::map<std::string, nlohmann::json> fresh;
  for (auto& item : listed->items) {
    fresh[objectKey(item)] = item;
  }
  // Deliver the difference against what the handler has already been told.
  std::vector<std::pair<EventType, nlohmann::json>> changes;
  {
    std::lock_guard lock(mutex_);
    for (const auto& item : listed->items) {
      auto known = cache_.find(objectKey(item));
      if (known == cache_.end()) {
        changes.emplace_back(EventType::kAdded, item);
      } else if (resourceVersionOf(known->second) != resourceVersionOf(item)) {
        changes.emplace_back(EventType::kModified, item);
      }
    }
    for (const auto& [key, object] : cache_) {
      if (fresh.find(key) == fresh.end()) {
        changes.emplace_back(EventType::kDeleted, object);
      }
    }
    cache_ = std::move(fresh);
    resourceVersion_ = listed->resourceVersion;
    needList_ = false;
    relistRequested_ = false;
    lastError_.reset();
    ++counters_.lists;
    if (everListed_) {
      ++counters_.relists;
    }
    everListed_ = true;
    // failures_ is not reset here: a watch that keeps breaking right after each good list
    // must still back off longer each time. A healthy watch resets it.
  }
  spdlog::debug("Informer listed resource={} items={} resourceVersion={} changes={}",
                collection_.describe(), listed->items.size(), listed->resourceVersion,
                changes.size());
  for (const auto& [type, object] : changes) {
    deliver(type, object);
  }
  if (!synced_.exchange(true)) {
    std::lock_guard lock(mutex_);
    syncedCv_.notify_all();
  }
}

void Informer::watchOnce() {
  WatchOptions watchOptions;
  {
    std::lock_guard lock(mutex_);
    watchOptions.resourceVersion = resourceVersion_;
  }
  watchOptions.labelSelector = options_.list.labelSelector;
  watchOptions.fieldSelector = options_.list.fieldSelector;
  watchOptions.allowBookmarks = true;
  watchOptions.timeout = options_.watchTimeout;

  auto opened = api_->watch(collection_, watchOptions);
  if (!opened) {
    std::lock_guard lock(mutex_);
    if (isGone(opened.error())) {
      spdlog::info("Informer watch expired resource={} resourceVersion={} action=relist",
                   collection_.describe(), watchOptions.resourceVersion);
      needList_ = true;
      return;
    }
    ++counters_.errors;
    lastError_ = opened.error();
    // The server may have restarted with a history that no longer holds our
    // resourceVersion (a watch from it could wait forever): list again.
    needList_ = true;
    spdlog::warn("Informer watch refused resource={} reason={} error={} action=relist",
                 collection_.describe(), opened.error().reason, opened.error().message);
  }
  if (!opened) {
    backoffAfterFailure();
    return;
  }
  std::unique_ptr<WatchStream> stream = std::move(opened.value());
  {
    std::lock_guard lock(mutex_);
    stream_ = stream.get();
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_.fired() || relistRequested_) {
      stream->cancel();  // stop() or relist() may have run before stream_ was published
    }
  }
  const auto started = clock_->now();
  bool progressed = false;
  bool failed = false;
  bool relistAsked = false;
  while (true) {
    auto next = stream->next();
    if (!next) {
      bool requested = false;
      {
        std::lock_guard lock(mutex_);
        requested = relistRequested_;
        relistAsked = requested;
        if (!stopping_.fired() && !requested) {
          lastError_ = next.error();
        }
      }
      if (!stopping_.fired() && !requested) {
        spdlog::info("Informer watch broke resource={} reason={} error={} action=relist",
                     collection_.describe(), next.error().reason, next.error().message);
        failed = true;
      }
      break;
    }
    if (!next->has_value()) {
      break;  // the server ended the watch (timeoutSeconds)
    }
    const WatchEvent& event = **next;
    if (event.type == "ERROR") {
      auto status = parseStatus(event.object);
      if (status && status->code == 410) {
        spdlog::info("Informer watch expired resource={} action=relist", collection_.describe());
        std::lock_guard lock(mutex_);
        needList_ = true;
      } else {
        spdlog::warn("Informer watch error resource={} message={} action=relist",
                     collection_.describe(), status ? status->message : event.object.dump());
        failed = true;
      }
      break;
    }
    apply(event);
    progressed = true;
  }
  const bool tooShort = clock_->now() - started < kMinHealthyWatch;
  {
    std::lock_guard lock(mutex_);
    stream_ = nullptr;
    if (stopping_.fired()) {
      return;
    }
    ++counters_.restarts;
    if (failed) {
      // Events may have been lost on the way (or the server lost its history): relist.
      ++counters_.errors;
      needList_ = true;
    }
    if (progressed || (!failed && !tooShort)) {
      failures_ = 0;
    }
  }
  if (!relistAsked && (failed || (!progressed && tooShort))) {
    backoffAfterFailure();
  }
}

void Informer::apply(const WatchEvent& event) {
  const std::string rv = resourceVersionOf(event.object);
  std::optional<EventType> deliverAs;
  {
    std::lock_guard lock(mutex_);
    if (!rv.empty()) {
      resourceVersion_ = rv;
    }
    if (event.type == "BOOKMARK") {
      return;
    }
    const std::string key = objectKey(event.object);
    auto known = cache_.find(key);
    if (event.type == "ADDED" || event.type == "MODIFIED") {
      if (known != cache_.end() && resourceVersionOf(known->second) == rv) {
        return;  // already delivered (e.g. through a relist)
      }
      deliverAs = known == cache_.end() ? EventType::kAdded : EventType::kModified;
      cache_[key] = event.object;
    } else if (event.type == "DELETED") {
      if (known == cache_.end()) {
        return;
      }
      cache_.erase(known);
      deliverAs = EventType::kDeleted;
    } else {
      spdlog::warn("Informer ignored an event of unknown type resource={} type={}",
                   collection_.describe(), event.type);
      return;
    }
  }
  deliver(*deliverAs, event.object);
}

void Informer::deliver(EventType type, const nlohmann::json& object) {
  {
    std::lock_guard lock(mutex_);
    ++counters_.events;
  }
  std::lock_guard lock(deliverMutex_);
  if (onEvent_) {
    onEvent_(type, object);
  }
}

void Informer::resync() {
  if (!onResync_ || !synced_) {
    return;
  }
  std::vector<nlohmann::json> objects = snapshot();
  std::lock_guard lock(deliverMutex_);
  onResync_(objects);
}

void Informer::backoffAfterFailure() {
  int failures = 0;
  {
    std::lock_guard lock(mutex_);
    failures = failures_++;
  }
  clock_->sleepFor(backoff_.delay(failures), &stopping_);
}

bool Informer::hasSynced() const { return synced_; }

bool Informer::waitForSync(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return syncedCv_.wait_for(lock, timeout, [this] { return synced_.load(); });
}

InformerCounters Informer::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

std::vector<nlohmann::json> Informer::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<nlohmann::json> objects;
  objects.reserve(cache_.size());
  for (const auto& [key, object] : cache_) {
    objects.push_back(object);
  }
  return objects;
}

std::optional<nlohmann::json> Informer::cached(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = cache_.find(key);
  if (it == cache_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::string Informer::resourceVersion() const {
  std::lock_guard lock(mutex_);
  return resourceVersion_;
}

std::optional<core::Error> Informer::lastError() const {
  std::lock_guard lock(mutex_);
  return lastError_;
}

}  // namespace alembic_sidecar::kube
