#include "database/connection_url.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::database {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ConnectionUrl, ParsesAsyncpgUrlAndKeepsTheDriver) {
  auto info = parseConnectionUrl("postgresql+asyncpg://app:s3cret@db.local:6543/appdb");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->scheme, "postgresql+asyncpg");
  EXPECT_EQ(info->user, "app");
  EXPECT_EQ(info->password, "s3cret");
  EXPECT_EQ(info->host, "db.local");
  EXPECT_EQ(info->port, 6543);
  EXPECT_EQ(info->database, "appdb");
  EXPECT_EQ(info->url(), "postgresql+asyncpg://app:s3cret@db.local:6543/appdb");
}

TEST(ConnectionUrl, DefaultsPortAndNormalisesPostgresScheme) {
  auto info = parseConnectionUrl("postgres://u@h/d");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->scheme, "postgresql");
  EXPECT_EQ(info->port, 5432);
  EXPECT_EQ(info->password, "");
}

struct PasswordCase {
  const char* url;
  const char* password;
};

class ConnectionUrlPasswords : public ::testing::TestWithParam<PasswordCase> {};

TEST_P(ConnectionUrlPasswords, DecodesAndReencodesSpecialCharacters) {
  auto info = parseConnectionUrl(GetParam().url);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->password, GetParam().password);
  auto again = parseConnectionUrl(info->url());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->password, GetParam().password);
  EXPECT_EQ(again->database, "db");
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConnectionUrlPasswords,
    ::testing::Values(PasswordCase{"postgresql://u:p%40ss%2Fw%25rd@h:1/db", "p@ss/w%rd"},
                      PasswordCase{"postgresql://u:pa:ss@h:1/db", "pa:ss"},
                      // SQLAlchemy reads the password up to the first '@'; '/' and '?' are fine.
                      PasswordCase{"postgresql://u:pa/s?s@h:1/db", "pa/s?s"},
                      PasswordCase{"postgresql://u:%27%22%20%5C@h:1/db", "'\" \\"}));

TEST(ConnectionUrl, IPv6AndSocketDirectories) {
  auto v6 = parseConnectionUrl("postgresql://u:p@[::1]:5433/db");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->endpoint(), "[::1]:5433");
  EXPECT_EQ(v6->url(), "postgresql://u:p@[::1]:5433/db");

  auto socket = parseConnectionUrl("postgresql://u@/db?host=/var/run/postgresql&port=5434");
  ASSERT_TRUE(socket.ok());
  EXPECT_EQ(socket->host, "/var/run/postgresql");
  EXPECT_EQ(socket->port, 5434);
}

TEST(ConnectionUrl, RedactedUrlMasksThePasswordOnly) {
  auto info = parseConnectionUrl("postgresql+asyncpg://app:hunter2@h:5432/db?ssl=require");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->redactedUrl(), "postgresql+asyncpg://app:****@h:5432/db?ssl=require");
}

TEST(ConnectionUrl, LibpqConninfoQuotesAndTranslatesDriverParams) {
  auto info = parseConnectionUrl("postgresql+asyncpg://app:it's%5Cok@h:5432/db?ssl=require&prepared_statement_cache_size=0");
  ASSERT_TRUE(info.ok());
  std::string conninfo = info->libpqConninfo(7);
  EXPECT_THAT(conninfo, HasSubstr("password='it\\'s\\\\ok'"));
  EXPECT_THAT(conninfo, HasSubstr("sslmode='require'"));
  EXPECT_THAT(conninfo, HasSubstr("connect_timeout=7"));
  EXPECT_THAT(conninfo, Not(HasSubstr("prepared_statement_cache_size")));
}

TEST(ConnectionUrl, WithDatabaseKeepsEverythingElse) {
  auto info = parseConnectionUrl("postgresql+asyncpg://app:pw@h:5432/db");
  ASSERT_TRUE(info.ok());
  auto scratch = info->withDatabase("db_autogen_1_abc");
  EXPECT_EQ(scratch.url(), "postgresql+asyncpg://app:pw@h:5432/db_autogen_1_abc");
}

TEST(ConnectionUrl, ErrorsNameTheProblemButNeverThePassword) {
  for (const char* bad : {"mysql://u:topsecret@h/db", "postgresql://u:topsecret@h:99999/db",
                          "postgresql://u:topsecret@h:5432/", "no-scheme-topsecret",
                          "postgresql://u:topsecret@h:abc/db"}) {
    auto info = parseConnectionUrl(bad);
    ASSERT_FALSE(info.ok()) << bad;
    EXPECT_EQ(info.error().reason, "InvalidDatabaseUrl");
    EXPECT_THAT(info.error().message, Not(HasSubstr("topsecret"))) << bad;
  }
}

TEST(ConnectionUrl, RawAtColonSlashInPassword_SuggestsPercentEncodingWithoutQuotingIt) {
  auto info = parseConnectionUrl("postgresql+asyncpg://app:p@ss:w/rd%@db:5432/app");

  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().reason, "InvalidDatabaseUrl");
  EXPECT_THAT(info.error().message, HasSubstr("percent-encode"));
  EXPECT_THAT(info.error().message, HasSubstr("%40"));
  for (const char* piece : {"'w'", "p@ss", "ss:w", "w/rd", "rd%"}) {
    EXPECT_THAT(info.error().message, Not(HasSubstr(piece))) << piece;
  }
}

TEST(ConnectionUrl, PasswordWithoutUserInfoIsNeverQuotedAsAPort) {
  // The '@host' is missing: the parser sees host "app" and port "topsecret".
  auto info = parseConnectionUrl("postgresql://app:topsecret/app");

  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, Not(HasSubstr("topsecret")));
  EXPECT_THAT(info.error().message, HasSubstr("percent-encode"));
}

TEST(ConnectionUrl, PortAfterTheUserInfoIsStillQuoted) {
  auto info = parseConnectionUrl("postgresql://app:pw@db:54x2/app");

  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("port '54x2'"));
}

}  // namespace
}  // namespace alembic_sidecar::database
