#include "alembic/predictions.h"

#include <gtest/gtest.h>

namespace alembic_sidecar::alembic {
namespace {

core::Finding finding(const std::string& code, const std::string& message,
                      const std::string& file = "v/b2.py") {
  return core::Finding{code, "escalation", message, "fix it", file, 3};
}

TEST(Predictions, WhatEachFindingPredicts) {
  EXPECT_EQ(predictedFailure(finding("EnumTypeMissing", "column t.c uses ...")),
            PredictedLeg::kUpgrade);
  EXPECT_EQ(predictedFailure(finding("TypeChangeWithoutUsing", "the upgrade changes ...")),
            PredictedLeg::kUpgrade);
  EXPECT_EQ(predictedFailure(finding("TypeChangeWithoutUsing", "the downgrade changes ...")),
            PredictedLeg::kDowngrade);
  EXPECT_EQ(predictedFailure(finding("UnnamedConstraint", "...")), PredictedLeg::kDowngrade);
  EXPECT_EQ(predictedFailure(finding("EnumTypeNotDropped", "...")), PredictedLeg::kReupgrade);
  // Depends on the live rows: an empty scratch database proves nothing about it.
  EXPECT_EQ(predictedFailure(finding("RequiredColumnOnPopulatedTable", "...")),
            PredictedLeg::kNone);
  EXPECT_EQ(predictedFailure(finding("DestructiveChange", "...")), PredictedLeg::kNone);
}

TEST(Predictions, APassedLegTurnsItsPredictionIntoANote) {
  std::map<std::string, ObservedLegs> observed;
  observed["v/b2.py"].upgrade = true;
  auto out = reconcileWithObserved(
      {finding("EnumTypeMissing", "the upgrade fails with 'type \"s\" does not exist'"),
       finding("UndefinedName", "name 'x' is not defined")},
      observed);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].code, "PredictionDisproved");
  EXPECT_EQ(out[0].severity, "info");
  EXPECT_NE(out[0].message.find("EnumTypeMissing"), std::string::npos);
  EXPECT_NE(out[0].message.find("type \"s\" does not exist"), std::string::npos);
  EXPECT_EQ(out[0].file, "v/b2.py");
  EXPECT_EQ(out[0].line, 3);
  EXPECT_EQ(out[1].code, "UndefinedName");  // predicts nothing about a leg: unchanged
}

TEST(Predictions, AFailedUntestedOrOtherLegLeavesThePredictionStanding) {
  std::map<std::string, ObservedLegs> observed;
  observed["v/b2.py"].upgrade = false;
  observed["v/c3.py"].upgrade = true;  // the downgrade never ran
  auto out = reconcileWithObserved(
      {finding("EnumTypeMissing", "..."), finding("UnnamedConstraint", "...", "v/c3.py"),
       finding("EnumTypeMissing", "...", "v/other.py")},
      observed);
  EXPECT_EQ(out[0].code, "EnumTypeMissing");
  EXPECT_EQ(out[1].code, "UnnamedConstraint");
  EXPECT_EQ(out[2].code, "EnumTypeMissing");
  EXPECT_TRUE(predictsObservedFailure(out[0], observed["v/b2.py"]));
  EXPECT_FALSE(predictsObservedFailure(out[1], observed["v/c3.py"]));
}

}  // namespace
}  // namespace alembic_sidecar::alembic
