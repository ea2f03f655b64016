#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
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
  /**
   * Secrets at least this long are masked wherever they occur, even inside a longer word; a
   * shorter one only where it stands as a whole token, so a 2-character password masks
   * `u:pw@h` but leaves "attempts" alone.
   */
  static constexpr size_t kSubstringFloor = 12;

  /** Remembers `secret` and its percent-encoded form. Empty secrets are ignored. */
  void add(std::string_view secret);
  /**
   * Returns `text` with every known secret replaced by kMask: a secret of kSubstringFloor
   * or more bytes wherever it occurs; a shorter one where it is not glued to a letter, digit
   * or '_' (e.g. after ':', '=', '@', between quotes or spaces, at either end of the text).
   * Longest secrets first, so a secret that contains another is masked whole.
   */
  std::string scrub(std::string_view text) const;
  /**
   * A copy of `value` with scrub() applied to every string value, however deep; object keys
   * are never changed, so the document keeps its shape for its readers.
   */
  nlohmann::json scrubJson(const nlohmann::json& value) const;
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
