#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace alembic_sidecar::core {

/**
 * Knows every secret the process has seen (passwords, tokens) and scrubs them from text
 * before it reaches a log, a status, an event or a report. Thread-safe. One instance is
 * created in main and shared by everything that produces output.
 */
class Redactor {
 public:
  static constexpr std::string_view kMask = "****";

  /** Remembers `secret` and its percent-encoded form. Empty secrets are ignored. */
  void add(std::string_view secret);
  /** Returns `text` with every known secret replaced by kMask. */
  std::string scrub(std::string_view text) const;
  bool empty() const;

 private:
  mutable std::mutex mutex_;
  std::set<std::string> secrets_;
};

using RedactorPtr = std::shared_ptr<Redactor>;

/** Percent-encodes everything except RFC 3986 unreserved characters. */
std::string percentEncode(std::string_view text);
/** Decodes %XX escapes; a malformed escape is kept as is. */
std::string percentDecode(std::string_view text);

}  // namespace alembic_sidecar::core
