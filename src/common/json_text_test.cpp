#include "common/json_text.h"

#include <gtest/gtest.h>

namespace langfuse {
namespace {

TEST(JsonText, EscapesControlAndQuotes) {
  EXPECT_EQ(JsonString("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(JsonText, KeepsValidUtf8AndReplacesInvalid) {
  EXPECT_EQ(JsonString("h\xC3\xA9"), "\"h\xC3\xA9\"");
  EXPECT_EQ(JsonString("x\xFFy"), "\"x\xEF\xBF\xBDy\"");
  EXPECT_EQ(JsonString("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // surrogate
}

TEST(JsonText, AppendValidUtf8CopiesValidTextAndReplacesEachInvalidByte) {
  auto append = [](std::string_view s) {
    std::string out = "<";
    AppendValidUtf8(out, s);
    return out;
  };
  // Valid: copied as is (ASCII, 2-, 3- and 4-byte sequences, U+10FFFF, NUL).
  const std::string valid = std::string("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF") + '\0' + "z";
  EXPECT_EQ(append(valid), "<" + valid);
  // Invalid: every byte that starts no valid sequence becomes U+FFFD, the rest is kept.
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(append("x\xFFy"), "<x" + r + "y");
  EXPECT_EQ(append("\xED\xA0\x80"), "<" + r + r + r);          // a surrogate
  EXPECT_EQ(append("\xC0\xAF!"), "<" + r + r + "!");           // overlong
  EXPECT_EQ(append("\xF4\x90\x80\x80"), "<" + r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(append("ok\xE2\x82"), "<ok" + r + r);              // cut short
  EXPECT_EQ(append(std::string(100, 'a') + "\xC3\xA9\xFF"), "<" + std::string(100, 'a') + "\xC3\xA9" + r);
}

TEST(JsonText, NumbersRoundTripAndNonFiniteIsNull) {
  std::string out;
  AppendJsonNumber(out, 0.1);
  EXPECT_EQ(out, "0.1");
  out.clear();
  AppendJsonNumber(out, 1.0 / 0.0);
  EXPECT_EQ(out, "null");
}

}  // namespace
}  // namespace langfuse
