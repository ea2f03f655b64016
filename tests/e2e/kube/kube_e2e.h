#pragma once

// Shared pieces of the kube e2e tests: one test API server per test suite (reset before each
// test) and polling with a deadline.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "support/kube_test_server.h"

namespace alembic_sidecar::kube::e2e {

/** Polls `condition` every 20 ms until it holds or `timeout` passes; returns the last value. */
inline bool waitUntil(const std::function<bool()>& condition,
                      std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return condition();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

/** A suite sharing one server; each test starts from an empty store and no faults. */
class ServerSuite : public ::testing::Test {
 protected:
  static void startServer(const alembic_sidecar::testing::KubeTestServer::Options& options) {
    auto started = alembic_sidecar::testing::KubeTestServer::start(options);
    if (!started) {
      startError() = started.error().message;
      return;
    }
    server() = std::move(started.value());
  }
  static void SetUpTestSuite() { startServer({}); }
  static void TearDownTestSuite() { server().reset(); }

  void SetUp() override {
    ASSERT_TRUE(server()) << startError();
    auto reset = server()->reset();
    ASSERT_TRUE(reset) << reset.error().message;
    ASSERT_TRUE(server()->clearRequests());
  }

  static std::unique_ptr<alembic_sidecar::testing::KubeTestServer>& server() {
    static std::unique_ptr<alembic_sidecar::testing::KubeTestServer> instance;
    return instance;
  }
  static std::string& startError() {
    static std::string error;
    return error;
  }
};

}  // namespace alembic_sidecar::kube::e2e
