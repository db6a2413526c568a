#include "storage/traces/clickhouse_sql.h"

#include <gtest/gtest.h>

#include "storage/traces/clickhouse_transport.h"

namespace langfuse::traces {
namespace {

TEST(ClickHouseSqlTest, StringParamEscapesWhatTheEscapedFormReads) {
  EXPECT_EQ(StringParam("p", "plain 'quoted' \"x\" ü").value, "plain 'quoted' \"x\" ü");
  EXPECT_EQ(StringParam("p", "a\\b\tc\nd\re").value, "a\\\\b\\tc\\nd\\re");
  EXPECT_EQ(StringParam("p", std::string_view("nul\0end", 7)).value, "nul\\0end");
  EXPECT_EQ(StringParam("p", "ends with \\").value, "ends with \\\\");
  EXPECT_EQ(StringParam("name", "").name, "name");
}

TEST(ClickHouseSqlTest, StringArrayParamQuotesEachElement) {
  EXPECT_EQ(StringArrayParam("ids", {}).value, "[]");
  EXPECT_EQ(StringArrayParam("ids", {"a", "b'c", "d\\e", "f\ng", "]'), ('x"}).value,
            R"(['a','b\'c','d\\e','f\ng',']\'), (\'x'])");
}

TEST(ClickHouseSqlTest, ScalarParams) {
  EXPECT_EQ(Int64Param("n", -42).value, "-42");
  EXPECT_EQ(UInt64Param("n", 18446744073709551615u).value, "18446744073709551615");
  EXPECT_EQ(DateTime64MsParam("t", 1'700'000'000'123).value, "2023-11-14 22:13:20.123");
  EXPECT_EQ(DateTime64MsParam("t", -1).value, "1969-12-31 23:59:59.999");
}

TEST(ClickHouseSqlTest, SafeNames) {
  EXPECT_TRUE(IsSafeSqlName("traces"));
  EXPECT_TRUE(IsSafeSqlName("db.traces"));
  EXPECT_TRUE(IsSafeSqlName("batch-0193-abc_1.2"));
  EXPECT_FALSE(IsSafeSqlName(""));
  EXPECT_FALSE(IsSafeSqlName("traces; DROP TABLE x"));
  EXPECT_FALSE(IsSafeSqlName("tok'en"));
  EXPECT_FALSE(IsSafeSqlName("a`b"));
  EXPECT_TRUE(IsSqlIdentifier("JSONEachRow"));
  EXPECT_FALSE(IsSqlIdentifier("a.b"));
  EXPECT_FALSE(IsSqlIdentifier("a-b"));
}

TEST(ClickHouseSqlTest, InsertStatementQuotesNamesAndCarriesToken) {
  EXPECT_EQ(InsertStatement("traces", ""), "INSERT INTO `traces`");
  EXPECT_EQ(
      InsertStatement("db.my-table", "batch-1"),
      "INSERT INTO `db`.`my-table` SETTINGS insert_deduplicate = 1, insert_deduplication_token = 'batch-1'");
}

TEST(ClickHouseSqlTest, TransientErrorsAreUnavailable) {
  const Status memory = StatusFromClickHouseError(
      "chDB query",
      "Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED) (version 26.7)");
  EXPECT_EQ(memory.code(), StatusCode::kUnavailable);
  EXPECT_NE(memory.message().find("chDB query: Code: 241"), std::string::npos);

  const Status syntax =
      StatusFromClickHouseError("chDB query", "Code: 62. DB::Exception: Syntax error. (SYNTAX_ERROR)");
  EXPECT_EQ(syntax.code(), StatusCode::kInternal);
  // A name inside the message text is not the error's name.
  EXPECT_EQ(StatusFromClickHouseError("q", "Unknown table TOO_MANY_PARTS (UNKNOWN_TABLE)").code(),
            StatusCode::kInternal);
}

TEST(ClickHouseSqlTest, SessionSettingsPinUtc) {
  bool utc = false;
  for (const SessionSetting& s : SessionSettings()) {
    EXPECT_TRUE(IsSqlIdentifier(s.name)) << s.name;
    if (s.name == "session_timezone") utc = s.value == "UTC";
  }
  EXPECT_TRUE(utc);
}

}  // namespace
}  // namespace langfuse::traces
