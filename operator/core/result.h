#pragma once

#include <string>
#include <utility>
#include <variant>

namespace alembic_sidecar::core {

/** Whether retrying the same operation later can succeed. */
enum class ErrorKind { kTransient, kTerminal };

/**
 * A failure that crossed an adapter boundary. `reason` is a CamelCase reason code from
 * reasons.h; `message` is for a person and never carries a secret.
 */
struct Error {
  std::string reason;
  std::string message;
  ErrorKind kind = ErrorKind::kTerminal;

  bool transient() const { return kind == ErrorKind::kTransient; }

  static Error terminal(std::string reason, std::string message) {
    return Error{std::move(reason), std::move(message), ErrorKind::kTerminal};
  }
  static Error retryable(std::string reason, std::string message) {
    return Error{std::move(reason), std::move(message), ErrorKind::kTransient};
  }
};

/** A value or an Error. std::expected is not available on GCC 12. */
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

/** Result of an operation that yields nothing but may fail. */
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace alembic_sidecar::core
