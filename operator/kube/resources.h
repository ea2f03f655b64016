#pragma once

#include <string>

#include "kube/kube_api.h"

// The resources the sidecar speaks to, by API version. Each returns the namespaced
// collection; add .named("x") for one object.

namespace alembic_sidecar::kube::resources {

inline ResourceRef pods(std::string ns) { return {"", "v1", "pods", std::move(ns), "", ""}; }
inline ResourceRef secrets(std::string ns) { return {"", "v1", "secrets", std::move(ns), "", ""}; }
inline ResourceRef services(std::string ns) {
  return {"", "v1", "services", std::move(ns), "", ""};
}
inline ResourceRef configMaps(std::string ns) {
  return {"", "v1", "configmaps", std::move(ns), "", ""};
}
/** Core v1 events (read-only use; the sidecar writes events.k8s.io/v1). */
inline ResourceRef coreEvents(std::string ns) {
  return {"", "v1", "events", std::move(ns), "", ""};
}
inline ResourceRef events(std::string ns) {
  return {"events.k8s.io", "v1", "events", std::move(ns), "", ""};
}
inline ResourceRef leases(std::string ns) {
  return {"coordination.k8s.io", "v1", "leases", std::move(ns), "", ""};
}
inline ResourceRef statefulSets(std::string ns) {
  return {"apps", "v1", "statefulsets", std::move(ns), "", ""};
}
inline ResourceRef migrationRuns(std::string ns) {
  return {"alembic.sidecar.dev", "v1alpha1", "migrationruns", std::move(ns), "", ""};
}
/** CloudNativePG clusters. */
inline ResourceRef cnpgClusters(std::string ns) {
  return {"postgresql.cnpg.io", "v1", "clusters", std::move(ns), "", ""};
}
/** Crunchy Data PGO clusters. */
inline ResourceRef crunchyPostgresClusters(std::string ns) {
  return {
      "postgres-operator.crunchydata.com", "v1beta1", "postgresclusters", std::move(ns), "", ""};
}
/** Zalando postgres-operator clusters. */
inline ResourceRef zalandoPostgresqls(std::string ns) {
  return {"acid.zalan.do", "v1", "postgresqls", std::move(ns), "", ""};
}

}  // namespace alembic_sidecar::kube::resources
