#include "core/redactor.h"

#include <gtest/gtest.h>

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
  r.add("abcdef");
  EXPECT_EQ(r.scrub("xabcdefx abc"), "x****x ****");
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
