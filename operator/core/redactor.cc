#include "core/redactor.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <vector>

namespace alembic_sidecar::core {
namespace {

/** Letters, digits, '_' and every non-ASCII byte (part of a letter in UTF-8). */
bool isWordByte(char c) {
  auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || std::isalnum(u) || c == '_';
}

/** Whether `secret` found at `pos` in `text` stands as a token of its own. */
bool standsAlone(const std::string& text, size_t pos, const std::string& secret) {
  size_t end = pos + secret.size();
  bool leftOk = pos == 0 || !isWordByte(secret.front()) || !isWordByte(text[pos - 1]);
  bool rightOk = end >= text.size() || !isWordByte(secret.back()) || !isWordByte(text[end]);
  return leftOk && rightOk;
}

}  // namespace

void Redactor::add(std::string_view secret) {
  if (secret.empty()) {
    return;
  }
  std::lock_guard lock(mutex_);
  secrets_.emplace(secret);
  std::string encoded = percentEncode(secret);
  if (encoded != secret) {
    secrets_.emplace(std::move(encoded));
  }
}

bool Redactor::empty() const {
  std::lock_guard lock(mutex_);
  return secrets_.empty();
}

std::string Redactor::scrub(std::string_view text) const {
  std::vector<std::string> secrets;
  {
    std::lock_guard lock(mutex_);
    secrets.assign(secrets_.begin(), secrets_.end());
  }
  // Longest first, so a secret that contains another is masked whole.
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  std::string out(text);
  for (const auto& secret : secrets) {
    const bool anywhere = secret.size() >= kSubstringFloor;
    size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      if (anywhere || standsAlone(out, pos, secret)) {
        out.replace(pos, secret.size(), kMask);
        pos += kMask.size();
      } else {
        ++pos;
      }
    }
  }
  return out;
}

nlohmann::json Redactor::scrubJson(const nlohmann::json& value) const {
  if (value.is_string()) {
    return scrub(value.get_ref<const std::string&>());
  }
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, item] : value.items()) {
      out[key] = scrubJson(item);
    }
    return out;
  }
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : value) {
      out.push_back(scrubJson(item));
    }
    return out;
  }
  return value;
}

std::string percentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string percentDecode(std::string_view text) {
  auto hexValue = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = hexValue(text[i + 1]);
      int lo = hexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

}  // namespace alembic_sidecar::core
