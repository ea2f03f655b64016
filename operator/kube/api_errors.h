#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

// Reason codes of errors coming out of the kube package, defined once. They go in
// core::Error::reason; callers compare against them by name (`err.reason == kConflict`).

namespace alembic_sidecar::kube {

// Answers of the API server.
inline constexpr char kBadRequest[] = "BadRequest";        // 400, terminal
inline constexpr char kUnauthorized[] = "Unauthorized";    // 401 after a token re-read, terminal
inline constexpr char kForbidden[] = "Forbidden";          // 403, terminal
inline constexpr char kNotFound[] = "NotFound";            // 404, terminal
inline constexpr char kAlreadyExists[] = "AlreadyExists";  // 409 on create, terminal
/** 409 on a write with a stale resourceVersion: re-read the object and try again. Transient. */
inline constexpr char kConflict[] = "Conflict";
/** 410: the resourceVersion is too old (watch) or the continue token expired. Relist. */
inline constexpr char kGone[] = "Gone";
inline constexpr char kInvalid[] = "Invalid";                    // 422, terminal
inline constexpr char kTooManyRequests[] = "TooManyRequests";    // 429 after retries, transient
inline constexpr char kServerError[] = "ServerError";            // 5xx after retries, transient
inline constexpr char kUnexpectedStatus[] = "UnexpectedStatus";  // anything else, terminal

// Failures on our side of the wire.
inline constexpr char kConnectionFailed[] = "ConnectionFailed";  // after retries, transient
inline constexpr char kTlsVerificationFailed[] = "TlsVerificationFailed";  // terminal
inline constexpr char kTlsConfigInvalid[] = "TlsConfigInvalid";            // bad PEM, terminal
inline constexpr char kConfigInvalid[] = "KubeConfigInvalid";              // terminal
inline constexpr char kTokenUnavailable[] = "TokenUnavailable";            // transient
inline constexpr char kBadResponse[] = "BadResponse";        // unparseable body, transient
inline constexpr char kRequestTimeout[] = "RequestTimeout";  // transient
inline constexpr char kCancelled[] = "Cancelled";
inline constexpr char kExecFailed[] = "ExecFailed";  // a Failure Status on the exec stream
inline constexpr char kExecStreamBroken[] = "ExecStreamBroken";  // transient
inline constexpr char kNotLeader[] = "NotLeader";

/** A kubeconfig exec credential plugin is missing, failed or printed no usable credential. */
inline constexpr char kExecPluginFailed[] = "ExecPluginFailed";  // terminal

/** The interesting fields of a metav1.Status. */
struct ApiStatus {
  std::string status;  // "Success" / "Failure"
  std::string reason;  // "NotFound", "AlreadyExists", "Expired", "NonZeroExitCode", ...
  std::string message;
  int code = 0;
  nlohmann::json details;
};

/** Returns the Status in `object` when it is one (kind Status, or has status+code fields). */
std::optional<ApiStatus> parseStatus(const nlohmann::json& object);

/**
 * Builds the error for a non-2xx answer. The message names the request and carries the
 * API's Status.message; `body` is the response body (a Status when the server sent one).
 */
core::Error errorFromResponse(int httpStatus, std::string_view body, std::string_view method,
                              std::string_view path);

/** Whether a response with this HTTP status may succeed when the same request is sent again. */
bool isRetryableStatus(int httpStatus);

inline bool isConflict(const core::Error& error) { return error.reason == kConflict; }
inline bool isNotFound(const core::Error& error) { return error.reason == kNotFound; }
inline bool isAlreadyExists(const core::Error& error) { return error.reason == kAlreadyExists; }
inline bool isGone(const core::Error& error) { return error.reason == kGone; }

}  // namespace alembic_sidecar::kube
