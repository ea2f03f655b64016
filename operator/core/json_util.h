#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace alembic_sidecar::core {

// Tolerant readers for JSON from other programs (squawk, the Python helper, the API server):
// a missing key, a null or a value of another type gives the default instead of throwing.

inline std::string stringField(const nlohmann::json& j, const char* key,
                               const std::string& fallback = {}) {
  if (!j.is_object()) {
    return fallback;
  }
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

inline int64_t intField(const nlohmann::json& j, const char* key, int64_t fallback = 0) {
  if (!j.is_object()) {
    return fallback;
  }
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : fallback;
}

inline bool boolField(const nlohmann::json& j, const char* key, bool fallback = false) {
  if (!j.is_object()) {
    return fallback;
  }
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

/** The array at `key`, or an empty array. */
inline const nlohmann::json& arrayField(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  if (!j.is_object()) {
    return kEmpty;
  }
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

/** The object at `key`, or an empty object. */
inline const nlohmann::json& objectOr(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  if (!j.is_object()) {
    return kEmpty;
  }
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

}  // namespace alembic_sidecar::core
