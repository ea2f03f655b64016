#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "kube/api_errors.h"
#include "kube/informer.h"
#include "kube/kube_client.h"
#include "kube/resources.h"
#include "kube_e2e.h"

namespace alembic_sidecar::kube {
namespace {

using e2e::ServerSuite;
using e2e::waitUntil;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kNamespace[] = "watched";

nlohmann::json configMap(const std::string& name, const std::string& value = "v") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", kNamespace}}},
          {"data", {{"key", value}}}};
}

/** Everything an informer delivered, thread-safe. */
struct Recorder {
  struct Event {
    std::string type;
    std::string name;
    std::string rv;
  };
  std::mutex mutex;
  std::vector<Event> events;

  Informer::EventHandler handler() {
    return [this](EventType type, const nlohmann::json& object) {
      std::lock_guard lock(mutex);
      events.push_back(
          {toString(type), object["metadata"].value("name", ""), resourceVersionOf(object)});
    };
  }
  std::vector<Event> snapshot() {
    std::lock_guard lock(mutex);
    return events;
  }
  size_t count(const std::string& type) {
    std::lock_guard lock(mutex);
    return static_cast<size_t>(std::count_if(events.begin(), events.end(),
                                             [&](const Event& e) { return e.type == type; }));
  }
};

InformerOptions fastInformer() {
  InformerOptions options;
  options.watchTimeout = seconds(30);
  options.backoff = {milliseconds(40), milliseconds(300), 0, milliseconds(5000)};
  return options;
}

std::shared_ptr<KubeClient> quickClient(const ClusterConfig& config) {
  ClientOptions options;
  options.retry = {milliseconds(50), milliseconds(400), 4, milliseconds(5000)};
  auto client = KubeClient::fromConfig(config, options);
  EXPECT_TRUE(client) << client.error().message;
  return client.value();
}

/** (name, resourceVersion) of every object the server has in the namespace. */
std::set<std::pair<std::string, std::string>> serverState(KubeApi& api) {
  std::set<std::pair<std::string, std::string>> out;
  auto listed = listAll(api, resources::configMaps(kNamespace), {});
  EXPECT_TRUE(listed) << listed.error().message;
  for (const auto& item : listed->items) {
    out.emplace(item["metadata"].value("name", ""), resourceVersionOf(item));
  }
  return out;
}

using Watch = ServerSuite;

TEST_F(Watch, DeliversEveryEventAcross20DisconnectsAndOne410) {
  auto admin = server()->adminClient();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        admin->create(resources::configMaps(kNamespace), configMap("before-" + std::to_string(i))));
  }
  // Each of the next 20 watches is cut after one event; the 21st is refused with 410 Gone.
  const std::string path = std::string("^/api/v1/namespaces/") + kNamespace + "/configmaps$";
  ASSERT_TRUE(server()->addFaults({{{"match", {{"method", "GET"}, {"path", path}, {"watch", true}}},
                                    {"dropWatchAfterEvents", 1},
                                    {"times", 20}},
                                   {{"match", {{"method", "GET"}, {"path", path}, {"watch", true}}},
                                    {"status", 410},
                                    {"times", 1}}}));

  Recorder recorder;
  Informer informer(quickClient(server()->adminConfig()), resources::configMaps(kNamespace),
                    fastInformer(), recorder.handler());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(seconds(10)));

  // Every broken watch is followed by a list (events may have been lost on the way), the
  // 410 too: 21 relists once all the faults are used up. A watch after a list only sees new
  // writes, and a fault cuts a watch after its first event: keep writing until then.
  int written = 0;
  std::thread writer([&] {
    for (; written < 400 && informer.counters().relists < 21; ++written) {
      EXPECT_TRUE(admin->create(resources::configMaps(kNamespace),
                                configMap("during-" + std::to_string(written))));
      std::this_thread::sleep_for(milliseconds(written % 3 == 0 ? 60 : 15));
    }
  });
  writer.join();
  ASSERT_TRUE(waitUntil([&] { return informer.counters().relists >= 21; }, seconds(20)))
      << "restarts=" << informer.counters().restarts
      << " relists=" << informer.counters().relists << " after " << written << " writes";
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        admin->create(resources::configMaps(kNamespace), configMap("after-" + std::to_string(i))));
  }
  const auto expected = serverState(*admin);
  ASSERT_EQ(expected.size(), 10u + static_cast<size_t>(written));
  ASSERT_TRUE(waitUntil([&] { return recorder.count("ADDED") >= expected.size(); }, seconds(20)))
      << "delivered " << recorder.count("ADDED") << " of " << expected.size();
  std::this_thread::sleep_for(milliseconds(300));  // anything extra would show up by now
  informer.stop();

  std::set<std::pair<std::string, std::string>> delivered;
  std::map<std::string, int> perName;
  for (const auto& event : recorder.snapshot()) {
    EXPECT_EQ(event.type, "ADDED") << event.name << "@" << event.rv;
    delivered.emplace(event.name, event.rv);
    ++perName[event.name];
  }
  for (const auto& [name, times] : perName) {
    EXPECT_EQ(times, 1) << name << " delivered " << times << " times";
  }
  EXPECT_EQ(delivered, expected);
  const auto counters = informer.counters();
  EXPECT_GE(counters.restarts, 20u);
  EXPECT_EQ(counters.relists, 21u);
  EXPECT_EQ(informer.snapshot().size(), expected.size());
}

TEST_F(Watch, RelistAfterCompactionDeliversTheDifference) {
  auto admin = server()->adminClient();
  const auto cms = resources::configMaps(kNamespace);
  for (const char* name : {"keep", "change", "vanish"}) {
    ASSERT_TRUE(admin->create(cms, configMap(name)));
  }
  const std::string path = std::string("^/api/v1/namespaces/") + kNamespace + "/configmaps$";
  // The first watch ends after one event; reopening it is held back long enough for the
  // history it needs to be compacted away, so the server answers with an ERROR 410 event.
  ASSERT_TRUE(server()->addFaults({{{"match", {{"method", "GET"}, {"path", path}, {"watch", true}}},
                                    {"dropWatchAfterEvents", 1},
                                    {"times", 1}},
                                   {{"match", {{"method", "GET"}, {"path", path}, {"watch", true}}},
                                    {"delay", 1.5},
                                    {"times", 1}}}));
  Recorder recorder;
  Informer informer(quickClient(server()->adminConfig()), cms, fastInformer(), recorder.handler());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(seconds(10)));
  ASSERT_TRUE(admin->create(cms, configMap("trigger")));
  ASSERT_TRUE(waitUntil([&] { return recorder.count("ADDED") == 4; }));

  // While the informer is disconnected:
  ASSERT_TRUE(admin->mergePatch(cms.named("change"), {{"data", {{"key", "new"}}}}));
  ASSERT_TRUE(admin->remove(cms.named("vanish")));
  ASSERT_TRUE(admin->create(cms, configMap("fresh")));
  ASSERT_TRUE(server()->compact());

  ASSERT_TRUE(waitUntil([&] { return informer.counters().relists == 1; }));
  ASSERT_TRUE(waitUntil([&] { return recorder.snapshot().size() == 7; }));
  informer.stop();
  const auto events = recorder.snapshot();
  std::multiset<std::string> tail;
  for (size_t i = 4; i < events.size(); ++i) {
    tail.insert(events[i].type + " " + events[i].name);
  }
  EXPECT_EQ(tail, (std::multiset<std::string>{"MODIFIED change", "DELETED vanish", "ADDED fresh"}));
  const auto state = serverState(*admin);
  std::set<std::pair<std::string, std::string>> cached;
  for (const auto& object : informer.snapshot()) {
    cached.emplace(object["metadata"].value("name", ""), resourceVersionOf(object));
  }
  EXPECT_EQ(cached, state);
}

TEST_F(Watch, ExpiredWatchRequestIsTheGoneError) {
  auto admin = server()->adminClient();
  ASSERT_TRUE(admin->create(resources::configMaps(kNamespace), configMap("a")));
  ASSERT_TRUE(admin->create(resources::configMaps(kNamespace), configMap("b")));
  ASSERT_TRUE(server()->compact());
  WatchOptions options;
  options.resourceVersion = "1";
  options.timeout = seconds(5);
  auto stream = admin->watch(resources::configMaps(kNamespace), options);
  ASSERT_TRUE(stream) << stream.error().message;
  auto next = (*stream)->next();
  ASSERT_TRUE(next);
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ((*next)->type, "ERROR");
  auto status = parseStatus((*next)->object);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 410);
}

TEST_F(Watch, StopCancelsAWatchInProgress) {
  Recorder recorder;
  InformerOptions options = fastInformer();
  options.watchTimeout = seconds(120);
  Informer informer(quickClient(server()->adminConfig()), resources::configMaps(kNamespace),
                    options, recorder.handler());
  informer.start();
  ASSERT_TRUE(informer.waitForSync(seconds(10)));
  ASSERT_TRUE(waitUntil([&] {
    auto state = server()->state();
    return state && !(*state)["watches"].empty();
  }));
  const auto start = std::chrono::steady_clock::now();
  informer.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
}

}  // namespace
}  // namespace alembic_sidecar::kube
