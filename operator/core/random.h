#pragma once

#include <cstddef>
#include <string>

namespace alembic_sidecar::core {

/** `bytes` random bytes from OpenSSL's CSPRNG as lower-case hex (2 * bytes characters). */
std::string randomHex(size_t bytes);

}  // namespace alembic_sidecar::core
