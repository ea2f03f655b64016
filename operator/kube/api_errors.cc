#include "kube/api_errors.h"

#include <string>

namespace alembic_sidecar::kube {
namespace {

constexpr size_t kMaxBodyInMessage = 300;

std::string stringField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it != object.end() && it->is_string()) {
    return it->get<std::string>();
  }
  return {};
}

struct Mapping {
  const char* reason;
  core::ErrorKind kind;
};

Mapping mapStatus(int httpStatus, const std::optional<ApiStatus>& status) {
  using core::ErrorKind;
  switch (httpStatus) {
    case 400:
      return {kBadRequest, ErrorKind::kTerminal};
    case 401:
      return {kUnauthorized, ErrorKind::kTerminal};
    case 403:
      return {kForbidden, ErrorKind::kTerminal};
    case 404:
      return {kNotFound, ErrorKind::kTerminal};
    case 409:
      if (status && status->reason == "AlreadyExists") {
        return {kAlreadyExists, ErrorKind::kTerminal};
      }
      return {kConflict, ErrorKind::kTransient};
    case 410:
      return {kGone, ErrorKind::kTransient};
    case 422:
      return {kInvalid, ErrorKind::kTerminal};
    case 429:
      return {kTooManyRequests, ErrorKind::kTransient};
    default:
      break;
  }
  if (httpStatus >= 500 && httpStatus <= 599) {
    return {kServerError, ErrorKind::kTransient};
  }
  return {kUnexpectedStatus, ErrorKind::kTerminal};
}

}  // namespace

std::optional<ApiStatus> parseStatus(const nlohmann::json& object) {
  if (!object.is_object()) {
    return std::nullopt;
  }
  const bool isStatusKind = stringField(object, "kind") == "Status";
  const bool looksLikeStatus = object.contains("status") && object["status"].is_string();
  if (!isStatusKind && !looksLikeStatus) {
    return std::nullopt;
  }
  ApiStatus status;
  status.status = stringField(object, "status");
  status.reason = stringField(object, "reason");
  status.message = stringField(object, "message");
  if (auto it = object.find("code"); it != object.end() && it->is_number_integer()) {
    status.code = it->get<int>();
  }
  if (auto it = object.find("details"); it != object.end()) {
    status.details = *it;
  }
  return status;
}

core::Error errorFromResponse(int httpStatus, std::string_view body, std::string_view method,
                              std::string_view path) {
  std::optional<ApiStatus> status;
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_discarded()) {
    status = parseStatus(parsed);
  }
  const Mapping mapping = mapStatus(httpStatus, status);
  std::string message = std::string(method) + " " + std::string(path) + ": " +
                        std::to_string(httpStatus) + " " + mapping.reason;
  if (status && !status->message.empty()) {
    message += ": " + status->message;
  } else if (!body.empty()) {
    std::string excerpt(body.substr(0, kMaxBodyInMessage));
    message += ": " + excerpt;
  }
  return core::Error{mapping.reason, std::move(message), mapping.kind};
}

bool isRetryableStatus(int httpStatus) {
  return httpStatus == 429 || (httpStatus >= 500 && httpStatus <= 599 && httpStatus != 501);
}

}  // namespace alembic_sidecar::kube
