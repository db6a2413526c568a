#include <gtest/gtest.h>

#include "ingest/test_util.h"

namespace langfuse::ingest {
namespace {

ParsedEvent Generation(const std::string& body_fields) {
  return testing::ParseOk(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"generation-create","body":{"id":"g")" +
                          body_fields + "}}");
}

TEST(Usage, LegacyUsageGetsATotal) {
  auto e = Generation(R"(,"usage":{"input":10,"output":5,"unit":"TOKENS","inputCost":0.1,"outputCost":0.2})");
  const auto& u = e.observation.usage_details.value;
  EXPECT_EQ(u.at("input"), 10u);
  EXPECT_EQ(u.at("output"), 5u);
  EXPECT_EQ(u.at("total"), 15u);
  EXPECT_DOUBLE_EQ(e.observation.cost_details.value.at("input"), 0.1);
}

TEST(Usage, OpenAiPromptTokensForm) {
  auto e = Generation(R"(,"usage":{"promptTokens":7,"completionTokens":3,"totalTokens":10})");
  const auto& u = e.observation.usage_details.value;
  EXPECT_EQ(u.at("input"), 7u);
  EXPECT_EQ(u.at("output"), 3u);
  EXPECT_EQ(u.at("total"), 10u);
}

TEST(Usage, OpenAiChatDetailsAreSubtracted) {
  auto e = Generation(R"(,"usageDetails":{"prompt_tokens":100,"completion_tokens":50,"total_tokens":150,
      "prompt_tokens_details":{"cached_tokens":30},"completion_tokens_details":{"reasoning_tokens":20}})");
  const auto& u = e.observation.usage_details.value;
  EXPECT_EQ(u.at("input"), 70u);
  EXPECT_EQ(u.at("input_cached_tokens"), 30u);
  EXPECT_EQ(u.at("output"), 30u);
  EXPECT_EQ(u.at("output_reasoning_tokens"), 20u);
  EXPECT_EQ(u.at("total"), 150u);
}

TEST(Usage, ResponsesApiShape) {
  auto e = Generation(R"(,"usageDetails":{"input_tokens":10,"output_tokens":4,"total_tokens":14,"input_tokens_details":{"cached_tokens":2}})");
  const auto& u = e.observation.usage_details.value;
  EXPECT_EQ(u.at("input"), 8u);
  EXPECT_EQ(u.at("input_cached_tokens"), 2u);
}

TEST(Usage, FreeMapKeepsNonNegativeIntegersOnly) {
  auto e = Generation(R"(,"usageDetails":{"input":5,"weird":-1,"frac":1.5,"text":"12","bad":"x"},"costDetails":{"input":0.5,"neg":-1})");
  const auto& u = e.observation.usage_details.value;
  EXPECT_EQ(u.at("input"), 5u);
  EXPECT_EQ(u.at("text"), 12u);
  EXPECT_EQ(u.count("weird"), 0u);
  EXPECT_EQ(u.count("frac"), 0u);
  EXPECT_EQ(u.count("bad"), 0u);
  EXPECT_EQ(e.observation.cost_details.value.count("neg"), 0u);
}

TEST(Usage, WrongTypesAreRejected) {
  std::optional<EventError> error;
  testing::Parse(R"({"id":"e","timestamp":"2024-01-01T00:00:00Z","type":"generation-create","body":{"id":"g","usage":{"input":"many"}}})",
                 error);
  EXPECT_TRUE(error);
}

TEST(Usage, ManyLargeDetailsDoNotOverflow) {
  // Found by fuzzing (src/ingest/event_parser_fuzz.cpp): subtracting 1100 details of 9e15 from the
  // input count overflowed int64 (undefined behaviour; in practice a huge input count).
  std::string details;
  for (int i = 0; i < 1100; ++i) details += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":9000000000000000";
  auto e = Generation(R"(,"usageDetails":{"prompt_tokens":5,"completion_tokens":1,"prompt_tokens_details":{)" + details + "}}");
  const auto& u = e.observation.usage_details.value;
  EXPECT_EQ(u.at("input"), 0u);
  EXPECT_EQ(u.at("output"), 1u);
  EXPECT_EQ(u.at("input_k1099"), 9000000000000000u);
}

}  // namespace
}  // namespace langfuse::ingest
