#include "core/random.h"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace alembic_sidecar::core {

std::string randomHex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
    // Without randomness a password or a scratch name would be predictable: refuse.
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : buf) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

}  // namespace alembic_sidecar::core
