#include "report/findings_reference.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/reasons.h"

namespace alembic_sidecar::report {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kDoc[] = R"(# Findings reference

Intro with a [link](#x) and `code`.

## How the checks work

Prose the parser leaves alone.

### A subsection

More prose.

## Reference

| Code | Severity | Step | Summary |
| --- | --- | --- | --- |
| [`ProbableRename`](#probablerename) | escalation | Validated | Probably a rename. |
| [`Lint<Rule>`](#lintrule) | warning | Validated | squawk says so. |
| [`LintSkipped`](#lintskipped) | info (skip) | Validated / ModelsInSync | Not linted. |
| [`Orphan`](#orphan) | info | Ready | A row without a section. |

## `ProbableRename`

Drop plus add: **every value is lost**. Keep the old name
(`sa.Column('old')`).

## `Lint<Rule>`

squawk's rule,
on two lines.

- a list item
- another

## `LintSkipped`

Skipped.
)";

TEST(FindingsReference, ReadsTheTableAndEachSection) {
  auto ref = FindingsReference::parse(kDoc);
  ASSERT_EQ(ref.rules().size(), 4u);
  auto rename = ref.lookup("ProbableRename");
  EXPECT_TRUE(rename.documented);
  EXPECT_EQ(rename.severity, "escalation");
  EXPECT_FALSE(rename.skipNote);
  EXPECT_THAT(rename.steps, ElementsAre("Validated"));
  EXPECT_EQ(rename.summary, "Probably a rename.");
  EXPECT_EQ(rename.anchor, "probablerename");
  // Paragraph lines are joined: viewers wrap for themselves.
  EXPECT_EQ(rename.markdown,
            "Drop plus add: **every value is lost**. Keep the old name (`sa.Column('old')`).");
  auto skipped = ref.lookup("LintSkipped");
  EXPECT_TRUE(skipped.skipNote);
  EXPECT_EQ(skipped.severity, "info");
  EXPECT_THAT(skipped.steps, ElementsAre("Validated", "ModelsInSync"));
}

TEST(FindingsReference, AFamilyCoversEveryCodeWithItsPrefixButNotOnesWithTheirOwnRow) {
  auto ref = FindingsReference::parse(kDoc);
  EXPECT_EQ(ref.lookup("LintX").markdown,
            "squawk's rule, on two lines.\n\n- a list item\n- another");
  auto lint = ref.lookup("LintBanDropColumn");
  EXPECT_TRUE(lint.documented);
  EXPECT_EQ(lint.code, "LintBanDropColumn");
  EXPECT_EQ(lint.name, "Lint<Rule>");
  EXPECT_EQ(lint.anchor, "lintrule");
  EXPECT_EQ(ref.lookup("LintSkipped").name, "LintSkipped");
}

TEST(FindingsReference, AnUnknownCodeGetsAGenericEntry) {
  auto ref = FindingsReference::parse(kDoc);
  auto later = ref.lookup("AddedNextYear");
  EXPECT_FALSE(later.documented);
  EXPECT_EQ(later.code, "AddedNextYear");
  EXPECT_TRUE(later.anchor.empty());
  EXPECT_THAT(later.summary, HasSubstr("AddedNextYear"));
  EXPECT_FALSE(later.markdown.empty());
}

TEST(FindingsReference, ARowWithoutASectionLinksToThePageNotADeadAnchor) {
  auto ref = FindingsReference::parse(kDoc);
  EXPECT_TRUE(ref.lookup("Orphan").anchor.empty());
}

TEST(FindingsReference, TheBuiltInReferenceKnowsTheCodesOfReasonsH) {
  const auto& ref = builtinFindingsReference();
  for (const char* code : {core::finding::kProbableRename, core::finding::kDatabaseDrift,
                           core::finding::kLiveChecksSkipped, core::finding::kRoundTripDifference,
                           core::finding::kModelsOutOfSync, core::finding::kScratchLeftBehind}) {
    auto rule = ref.lookup(code);
    EXPECT_TRUE(rule.documented) << code;
    EXPECT_FALSE(rule.anchor.empty()) << code;
    EXPECT_FALSE(rule.markdown.empty()) << code;
    EXPECT_FALSE(rule.steps.empty()) << code;
  }
  EXPECT_TRUE(ref.lookup("LintRequireConcurrentIndexCreation").documented);
  EXPECT_TRUE(ref.lookup(core::finding::kLiveChecksSkipped).skipNote);
}

TEST(HeadingAnchor, FollowsGithub) {
  EXPECT_EQ(headingAnchor("`ProbableRename`"), "probablerename");
  EXPECT_EQ(headingAnchor("`Lint<Rule>`"), "lintrule");
  EXPECT_EQ(headingAnchor("What autogenerate does not compare"),
            "what-autogenerate-does-not-compare");
}

TEST(PlainText, DropsMarkupKeepsWords) {
  EXPECT_EQ(plainText("Use **`compare_type=True`**, see [docs](https://x/y)."),
            "Use compare_type=True, see docs.");
}

}  // namespace
}  // namespace alembic_sidecar::report
