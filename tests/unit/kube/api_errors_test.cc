#include "kube/api_errors.h"

#include <gtest/gtest.h>

#include "kube_fakes.h"

namespace alembic_sidecar::kube {
namespace {

struct Case {
  int status;
  std::string statusReason;
  const char* expectedReason;
  bool transient;
};

class ErrorFromResponse : public ::testing::TestWithParam<Case> {};

TEST_P(ErrorFromResponse, MapsTheStatusAndCarriesTheApiMessage) {
  const Case& c = GetParam();
  const auto body = testing::statusBody(c.status, c.statusReason, "the API says why");
  core::Error error = errorFromResponse(c.status, body.dump(), "PATCH", "/apis/g/v1/x/y");
  EXPECT_EQ(error.reason, c.expectedReason);
  EXPECT_EQ(error.transient(), c.transient);
  EXPECT_NE(error.message.find("the API says why"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("PATCH /apis/g/v1/x/y"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find(std::to_string(c.status)), std::string::npos) << error.message;
}

INSTANTIATE_TEST_SUITE_P(Statuses, ErrorFromResponse,
                         ::testing::Values(Case{400, "BadRequest", kBadRequest, false},
                                           Case{401, "Unauthorized", kUnauthorized, false},
                                           Case{403, "Forbidden", kForbidden, false},
                                           Case{404, "NotFound", kNotFound, false},
                                           Case{409, "Conflict", kConflict, true},
                                           Case{409, "AlreadyExists", kAlreadyExists, false},
                                           Case{410, "Expired", kGone, true},
                                           Case{422, "Invalid", kInvalid, false},
                                           Case{429, "TooManyRequests", kTooManyRequests, true},
                                           Case{500, "InternalError", kServerError, true},
                                           Case{503, "ServiceUnavailable", kServerError, true},
                                           Case{418, "", kUnexpectedStatus, false}));

TEST(ErrorFromResponse, NonStatusBodyIsQuotedButShortened) {
  const std::string body(1000, 'x');
  core::Error error = errorFromResponse(502, body, "GET", "/api/v1/pods");
  EXPECT_EQ(error.reason, kServerError);
  EXPECT_LT(error.message.size(), 400u);
}

TEST(ErrorFromResponse, EmptyBodyStillNamesTheRequest) {
  core::Error error = errorFromResponse(404, "", "DELETE", "/api/v1/namespaces/a/pods/b");
  EXPECT_EQ(error.message, "DELETE /api/v1/namespaces/a/pods/b: 404 NotFound");
}

TEST(ParseStatus, ReadsStatusObjects) {
  auto status = parseStatus(testing::statusBody(410, "Expired", "too old resource version"));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 410);
  EXPECT_EQ(status->reason, "Expired");
  EXPECT_EQ(status->message, "too old resource version");
  EXPECT_FALSE(parseStatus(nlohmann::json{{"kind", "Pod"}}));
  EXPECT_FALSE(parseStatus(nlohmann::json::array()));
  EXPECT_TRUE(parseStatus(nlohmann::json{{"status", "Success"}, {"metadata", {}}}));
}

TEST(IsRetryableStatus, OnlyTooManyRequestsAndServerErrors) {
  for (int status : {429, 500, 502, 503, 504}) {
    EXPECT_TRUE(isRetryableStatus(status)) << status;
  }
  for (int status : {200, 400, 401, 403, 404, 409, 410, 422, 501}) {
    EXPECT_FALSE(isRetryableStatus(status)) << status;
  }
}

}  // namespace
}  // namespace alembic_sidecar::kube
