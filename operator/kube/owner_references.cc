#include "kube/owner_references.h"

#include "kube/api_errors.h"
#include "kube/resources.h"

namespace alembic_sidecar::kube {
namespace {

constexpr int kConflictRetries = 5;

}  // namespace

core::Result<nlohmann::json> ownerReferenceFor(const nlohmann::json& owner) {
  const auto metadata = owner.value("metadata", nlohmann::json::object());
  nlohmann::json ref = {{"apiVersion", owner.value("apiVersion", "")},
                        {"kind", owner.value("kind", "")},
                        {"name", metadata.value("name", "")},
                        {"uid", metadata.value("uid", "")},
                        {"controller", true},
                        {"blockOwnerDeletion", true}};
  for (const char* key : {"apiVersion", "kind", "name", "uid"}) {
    if (ref[key].get<std::string>().empty()) {
      return core::Error::terminal(kInvalid, std::string("cannot reference owner ") +
                                                 objectKey(owner) + ": it has no " + key);
    }
  }
  return ref;
}

core::Result<nlohmann::json> buildOwnedConfigMap(const std::string& name,
                                                 const nlohmann::json& owner,
                                                 const std::map<std::string, std::string>& data,
                                                 const std::map<std::string, std::string>& labels) {
  auto ref = ownerReferenceFor(owner);
  if (!ref) {
    return ref.error();
  }
  const auto ownerMetadata = owner.value("metadata", nlohmann::json::object());
  nlohmann::json configMap = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}};
  configMap["metadata"] = {{"name", name},
                           {"namespace", ownerMetadata.value("namespace", "default")},
                           {"ownerReferences", nlohmann::json::array({ref.value()})}};
  if (!labels.empty()) {
    configMap["metadata"]["labels"] = labels;
  }
  configMap["data"] = data;
  return configMap;
}

core::Result<nlohmann::json> createOrReplaceConfigMap(KubeApi& api,
                                                      const nlohmann::json& configMap) {
  const auto metadata = configMap.value("metadata", nlohmann::json::object());
  const ResourceRef ref = resources::configMaps(metadata.value("namespace", "default"))
                              .named(metadata.value("name", ""));
  auto created = api.create(ref, configMap);
  if (created || !isAlreadyExists(created.error())) {
    return created;
  }
  core::Error last = created.error();
  for (int attempt = 0; attempt < kConflictRetries; ++attempt) {
    auto current = api.get(ref);
    if (!current) {
      return current.error();
    }
    nlohmann::json updated = current.value();
    updated["data"] = configMap.value("data", nlohmann::json::object());
    for (const char* key : {"labels", "ownerReferences"}) {
      if (metadata.contains(key)) {
        updated["metadata"][key] = metadata[key];
      }
    }
    auto replaced = api.replace(ref, updated);
    if (replaced || !isConflict(replaced.error())) {
      return replaced;
    }
    last = replaced.error();
  }
  return last;
}

}  // namespace alembic_sidecar::kube
