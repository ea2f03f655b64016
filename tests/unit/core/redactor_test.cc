#include "core/redactor.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace alembic_sidecar::core {
namespace {

TEST(Redactor, MasksEverySecretAndItsPercentEncodedForm) {
  Redactor r;
  r.add("p@ss/w%rd");
  EXPECT_EQ(r.scrub("url postgresql://u:p%40ss%2Fw%25rd@h/db and raw p@ss/w%rd"),
            "url postgresql://u:****@h/db and raw ****");
}

TEST(Redactor, LongestSecretWinsWhenOneContainsAnother) {
  Redactor r;
  r.add("abc");
  r.add("abcdef-long-secret");
  EXPECT_EQ(r.scrub("xabcdef-long-secretx abc"), "x****x ****");
}

TEST(Redactor, ShortSecretIsNotMaskedInsideAWord) {
  Redactor r;
  r.add("pt");
  EXPECT_EQ(r.scrub("3 attempts, port 5432, opt"), "3 attempts, port 5432, opt");
}

struct TokenCase {
  const char* secret;
  const char* text;
  const char* expected;
};

class RedactorShortSecretAsToken : public ::testing::TestWithParam<TokenCase> {};

TEST_P(RedactorShortSecretAsToken, IsMaskedWhereItStandsAlone) {
  Redactor r;
  r.add(GetParam().secret);
  EXPECT_EQ(r.scrub(GetParam().text), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RedactorShortSecretAsToken,
    ::testing::Values(
        TokenCase{"pw", "postgresql://app:pw@db:5432/app", "postgresql://app:****@db:5432/app"},
        TokenCase{"pw", "PGPASSWORD=pw", "PGPASSWORD=****"},
        TokenCase{"pw", "password 'pw' rejected", "password '****' rejected"},
        TokenCase{"pw", "pw", "****"}, TokenCase{"pw", "\"pw\",\"pw\"", "\"****\",\"****\""},
        TokenCase{"pw", "pwned pw_x xpw", "pwned pw_x xpw"},
        // A short secret with '@' or '/' at its edge: the delimiter side needs no boundary.
        TokenCase{"p@", "u:p@@h", "u:****@h"},
        // Its percent-encoded form is a secret too.
        TokenCase{"p/", "u:p%2F@h", "u:****@h"},
        // A port-like all-digit secret is masked where it stands, not inside longer numbers.
        TokenCase{"54", "port 54 and 5432", "port **** and 5432"}));

TEST(Redactor, LongSecretIsMaskedEvenInsideAWord) {
  Redactor r;
  r.add("s3cr3t-t0ken-value");
  EXPECT_EQ(r.scrub("Bearers3cr3t-t0ken-valueX"), "Bearer****X");
}

TEST(Redactor, ScrubJson_MasksStringValuesButNeverKeys) {
  Redactor r;
  r.add("port");  // a 4-character password that is also a key
  nlohmann::json doc = {
      {"port", 5432},
      {"message", "connect to port failed with password port"},
      {"nested", {{"port", "port"}, {"list", {"port", "attempts", 1}}}},
  };

  nlohmann::json scrubbed = r.scrubJson(doc);

  EXPECT_EQ(scrubbed["port"], 5432);
  EXPECT_EQ(scrubbed["message"], "connect to **** failed with password ****");
  EXPECT_EQ(scrubbed["nested"]["port"], "****");
  EXPECT_EQ(scrubbed["nested"]["list"], nlohmann::json({"****", "attempts", 1}));
  EXPECT_TRUE(scrubbed.contains("port"));
}

TEST(Redactor, EmptySecretsAreIgnored) {
  Redactor r;
  r.add("");
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.scrub("nothing"), "nothing");
}

TEST(PercentEncoding, RoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) {
    all.push_back(static_cast<char>(c));
  }
  EXPECT_EQ(percentDecode(percentEncode(all)), all);
  EXPECT_EQ(percentDecode("100%"), "100%");
  EXPECT_EQ(percentDecode("%zz"), "%zz");
}

}  // namespace
}  // namespace alembic_sidecar::core
