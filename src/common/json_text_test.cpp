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
