#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"
#include "kube/kube_api.h"

namespace alembic_sidecar::kube {

/**
 * The ownerReference that makes `owner` the controller of another object, so the garbage
 * collector deletes that object with its owner: apiVersion, kind, name, uid,
 * controller=true, blockOwnerDeletion=true. An error when `owner` lacks any of those fields.
 */
core::Result<nlohmann::json> ownerReferenceFor(const nlohmann::json& owner);

/** A v1 ConfigMap in the owner's namespace, owned by `owner`, holding `data`. */
core::Result<nlohmann::json> buildOwnedConfigMap(
    const std::string& name, const nlohmann::json& owner,
    const std::map<std::string, std::string>& data,
    const std::map<std::string, std::string>& labels = {});

/**
 * Creates the ConfigMap, or when it exists replaces its data, labels and owner references
 * (conditional on the resourceVersion read, retried a few times on conflict).
 */
core::Result<nlohmann::json> createOrReplaceConfigMap(KubeApi& api,
                                                      const nlohmann::json& configMap);

}  // namespace alembic_sidecar::kube
