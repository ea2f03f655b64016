#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace alembic_sidecar::kube {

/** Standard base64 with padding. */
std::string encodeBase64(std::string_view bytes);
/** Decodes standard (or URL-safe) base64, whitespace ignored. nullopt when malformed. */
std::optional<std::string> decodeBase64(std::string_view text);

}  // namespace alembic_sidecar::kube
