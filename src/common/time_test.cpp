#include "common/time.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <random>
#include <string>

namespace langfuse {
namespace {

TEST(Time, ParsesZuluAndOffsets) {
  EXPECT_EQ(ParseIso8601Ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseIso8601Ms("2024-03-01T12:34:56.789Z"), 1709296496789);
  EXPECT_EQ(ParseIso8601Ms("2024-03-01T14:34:56.789+02:00"), 1709296496789);
  EXPECT_EQ(ParseIso8601Ms("2024-03-01T10:34:56.789-0200"), 1709296496789);
  EXPECT_EQ(ParseIso8601Ms("2024-03-01T12:34:56.789123456Z"), 1709296496789);  // truncated to ms
  EXPECT_EQ(ParseIso8601Ms("2024-03-01T12:34:56.7Z"), 1709296496700);
}

TEST(Time, RejectsNaiveAndGarbage) {
  EXPECT_FALSE(ParseIso8601Ms("2024-03-01T12:34:56"));
  EXPECT_FALSE(ParseIso8601Ms("2024-03-01 12:34:56Z"));
  EXPECT_FALSE(ParseIso8601Ms("2024-02-30T00:00:00Z"));
  EXPECT_FALSE(ParseIso8601Ms("2024-03-01T12:34:56.Z"));
  EXPECT_FALSE(ParseIso8601Ms("yesterday"));
  EXPECT_FALSE(ParseIso8601Ms(""));
  EXPECT_FALSE(ParseIso8601Ms("2024-03-01T12:34:56Zjunk"));
}

TEST(Time, FormatsAsLangfuseDoes) {
  EXPECT_EQ(FormatIso8601Ms(1709296496789), "2024-03-01T12:34:56.789Z");
  EXPECT_EQ(FormatIso8601Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatIso8601Ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatClickHouseDateTime64(1709296496789), "2024-03-01 12:34:56.789");
  EXPECT_EQ(ParseClickHouseDateTime64("2024-03-01 12:34:56.789"), 1709296496789);
  EXPECT_EQ(ParseClickHouseDateTime64("2024-03-01 12:34:56"), 1709296496000);
}

// Both formats against the C library's calendar over years 1 to 9999, 200,000 random instants.
TEST(Time, FormatsMatchTheCLibraryCalendar) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> instant(-62'135'596'800'000, 253'402'300'799'999);
  for (int i = 0; i < 200'000; ++i) {
    const int64_t ms = i == 0 ? -62'135'596'800'000 : i == 1 ? 253'402'300'799'999 : instant(rng);
    const int64_t floor_ms = ms >= 0 ? ms % 1000 : (1000 + ms % 1000) % 1000;
    const time_t seconds = static_cast<time_t>((ms - floor_ms) / 1000);
    std::tm tm{};
    ASSERT_NE(gmtime_r(&seconds, &tm), nullptr);
    char expected[96];
    std::snprintf(expected, sizeof(expected), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(floor_ms));
    ASSERT_EQ(FormatIso8601Ms(ms), expected) << ms;
    std::string clickhouse(expected, 23);
    clickhouse[10] = ' ';
    ASSERT_EQ(FormatClickHouseDateTime64(ms), clickhouse) << ms;
  }
  EXPECT_EQ(FormatIso8601Ms(253'402'300'800'000), "10000-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace langfuse
