#include "controller/work_queue.h"

namespace alembic_sidecar::controller {

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (shutDown_) {
    return;
  }
  delayed_.erase(key);
  if (processing_.count(key)) {
    dirty_.insert(key);
    return;
  }
  if (queued_.insert(key).second) {
    ready_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::addAt(const std::string& key, TimePoint when) {
  std::lock_guard lock(mutex_);
  if (shutDown_ || queued_.count(key)) {
    return;
  }
  auto it = delayed_.find(key);
  if (it == delayed_.end() || when < it->second) {
    delayed_[key] = when;
  }
  cv_.notify_all();
}

void WorkQueue::promoteDueLocked(TimePoint now) {
  for (auto it = delayed_.begin(); it != delayed_.end();) {
    if (it->second <= now) {
      const std::string key = it->first;
      it = delayed_.erase(it);
      if (processing_.count(key)) {
        dirty_.insert(key);
      } else if (queued_.insert(key).second) {
        ready_.push_back(key);
      }
    } else {
      ++it;
    }
  }
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mutex_);
  while (true) {
    if (shutDown_) {
      return std::nullopt;
    }
    promoteDueLocked(std::chrono::steady_clock::now());
    if (!ready_.empty()) {
      std::string key = ready_.front();
      ready_.pop_front();
      queued_.erase(key);
      processing_.insert(key);
      return key;
    }
    ++waiters_;
    if (delayed_.empty()) {
      cv_.wait(lock);
    } else {
      TimePoint next = TimePoint::max();
      for (const auto& [_, when] : delayed_) {
        next = std::min(next, when);
      }
      cv_.wait_until(lock, next);
    }
    --waiters_;
  }
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mutex_);
  processing_.erase(key);
  if (dirty_.erase(key) && !shutDown_ && queued_.insert(key).second) {
    ready_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::shutDown() {
  std::lock_guard lock(mutex_);
  shutDown_ = true;
  cv_.notify_all();
}

size_t WorkQueue::size() const {
  std::lock_guard lock(mutex_);
  return ready_.size() + delayed_.size();
}

size_t WorkQueue::waiters() const {
  std::lock_guard lock(mutex_);
  return waiters_;
}

}  // namespace alembic_sidecar::controller
