#include "alembic/predictions.h"

#include "core/reasons.h"

namespace alembic_sidecar::alembic {
namespace {

const char* legName(PredictedLeg leg) {
  switch (leg) {
    case PredictedLeg::kUpgrade:
      return "upgrade";
    case PredictedLeg::kDowngrade:
      return "downgrade";
    case PredictedLeg::kReupgrade:
      return "upgrade after its downgrade";
    case PredictedLeg::kNone:
      break;
  }
  return "";
}

std::optional<bool> outcomeOf(PredictedLeg leg, const ObservedLegs& observed) {
  switch (leg) {
    case PredictedLeg::kUpgrade:
      return observed.upgrade;
    case PredictedLeg::kDowngrade:
      return observed.downgrade;
    case PredictedLeg::kReupgrade:
      return observed.reupgrade;
    case PredictedLeg::kNone:
      break;
  }
  return std::nullopt;
}

}  // namespace

PredictedLeg predictedFailure(const core::Finding& f) {
  namespace code = core::finding;
  if (f.code == code::kEnumTypeMissing) {
    return PredictedLeg::kUpgrade;
  }
  if (f.code == code::kTypeChangeWithoutUsing) {
    return f.message.rfind("the downgrade", 0) == 0 ? PredictedLeg::kDowngrade
                                                    : PredictedLeg::kUpgrade;
  }
  if (f.code == code::kUnnamedConstraint) {
    return PredictedLeg::kDowngrade;
  }
  if (f.code == code::kEnumTypeNotDropped) {
    return PredictedLeg::kReupgrade;
  }
  return PredictedLeg::kNone;
}

bool predictsObservedFailure(const core::Finding& finding, const ObservedLegs& observed) {
  auto leg = predictedFailure(finding);
  auto outcome = outcomeOf(leg, observed);
  return leg != PredictedLeg::kNone && outcome && !*outcome;
}

std::vector<core::Finding> reconcileWithObserved(
    const std::vector<core::Finding>& findings,
    const std::map<std::string, ObservedLegs>& observed) {
  std::vector<core::Finding> out;
  out.reserve(findings.size());
  for (const auto& f : findings) {
    auto leg = predictedFailure(f);
    auto legs = observed.find(f.file);
    std::optional<bool> outcome =
        legs == observed.end() ? std::nullopt : outcomeOf(leg, legs->second);
    if (leg == PredictedLeg::kNone || !outcome || !*outcome) {
      out.push_back(f);
      continue;
    }
    out.push_back(core::Finding{
        core::finding::kPredictionDisproved, core::severity::kInfo,
        std::string("the ") + legName(leg) + " of " + f.file +
            " passed on the scratch database, so this " + f.code +
            " prediction did not hold (the revision does what the static analysis cannot "
            "see, e.g. creates the type at run time): " +
            f.message,
        "nothing to do; the run went by what happened, not by the prediction", f.file, f.line});
  }
  return out;
}

}  // namespace alembic_sidecar::alembic
