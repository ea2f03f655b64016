#include "kube/clock.h"

#include <random>
#include <thread>

namespace alembic_sidecar::kube {
namespace {

class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::now();
  }
  std::chrono::system_clock::time_point wallNow() const override {
    return std::chrono::system_clock::now();
  }
  bool sleepFor(std::chrono::nanoseconds duration, Interrupt* interrupt) override {
    if (interrupt != nullptr) {
      return !interrupt->waitFor(duration);
    }
    std::this_thread::sleep_for(duration);
    return true;
  }
};

}  // namespace

void Interrupt::fire() {
  {
    std::lock_guard lock(mutex_);
    fired_ = true;
  }
  cv_.notify_all();
}

bool Interrupt::fired() const {
  std::lock_guard lock(mutex_);
  return fired_;
}

bool Interrupt::waitFor(std::chrono::nanoseconds duration) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, duration, [this] { return fired_; });
}

ClockPtr systemClock() { return std::make_shared<SystemClock>(); }

RandomSource defaultRandom() {
  auto state = std::make_shared<std::pair<std::mutex, std::mt19937_64>>();
  state->second.seed(std::random_device{}());
  return [state] {
    std::lock_guard lock(state->first);
    return std::uniform_real_distribution<double>(0.0, 1.0)(state->second);
  };
}

}  // namespace alembic_sidecar::kube
