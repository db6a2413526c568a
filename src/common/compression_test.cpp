#include "common/compression.h"

#include <gtest/gtest.h>

#include <random>
#include <string_view>
#include <vector>

namespace langfuse {
namespace {

std::string SampleJson(size_t events) {
  std::string out = "{\"events\":[";
  for (size_t i = 0; i < events; ++i) {
    if (i > 0) out += ',';
    out += R"({"id":"event-)" + std::to_string(i) + R"(","type":"span-create","body":{"name":"retrieve","input":"question )" +
           std::to_string(i * 7919) + R"("}})";
  }
  return out + "]}";
}

TEST(Zstd, RoundTripsAndShrinksJson) {
  const std::string json = SampleJson(1000);
  const std::string frame = ZstdCompress(json);
  EXPECT_TRUE(IsZstdFrame(frame));
  EXPECT_LT(frame.size() * 4, json.size());
  std::string back;
  ASSERT_TRUE(ZstdDecompress(frame, json.size(), back).ok());
  EXPECT_EQ(back, json);
}

TEST(Zstd, RoundTripsEmptyAndIncompressibleInput) {
  std::string back = "left over";
  ASSERT_TRUE(ZstdDecompress(ZstdCompress(""), 0, back).ok());
  EXPECT_EQ(back, "");
  std::mt19937_64 random(7);
  std::string noise(300'000, '\0');
  for (char& c : noise) c = static_cast<char>(random());
  ASSERT_TRUE(ZstdDecompress(ZstdCompress(noise), noise.size(), back).ok());
  EXPECT_EQ(back, noise);
}

TEST(Zstd, PiecesMakeTheFrameOfTheirConcatenation) {
  std::mt19937_64 random(11);
  std::string noise(200'000, '\0');  // incompressible: the output outgrows its first buffer
  for (char& c : noise) c = static_cast<char>(random());
  const std::string json = SampleJson(500);
  const std::vector<std::vector<std::string_view>> cases = {
      {},
      {""},
      {json},
      {"{\"events\":[", "", "1", ",", "2", "]}"},
      {std::string_view(json).substr(0, 7), std::string_view(json).substr(7, 10000),
       std::string_view(json).substr(10007)},
      {noise, json, noise},
  };
  for (const auto& pieces : cases) {
    std::string whole;
    for (std::string_view piece : pieces) whole += piece;
    const std::string frame = ZstdCompressPieces(pieces);
    ASSERT_TRUE(IsZstdFrame(frame));
    std::string back = "left over";
    // ZstdDecompress needs the content size in the frame header, as a one-shot frame has it.
    ASSERT_TRUE(ZstdDecompress(frame, whole.size(), back).ok()) << pieces.size() << " pieces";
    EXPECT_EQ(back, whole);
    if (!whole.empty()) {
      EXPECT_FALSE(ZstdDecompress(frame, whole.size() - 1, back).ok());
    }
  }
  // Text compresses as well as in one piece.
  const std::string_view text(json);
  std::vector<std::string_view> lines;
  for (size_t at = 0; at < text.size(); at += 100) lines.push_back(text.substr(at, 100));
  EXPECT_LT(ZstdCompressPieces(lines).size(), ZstdCompress(json).size() * 11 / 10);
}

TEST(Zstd, LeavesTheAskedSpareCapacity) {
  const std::string json = SampleJson(10);
  std::string back;
  ASSERT_TRUE(ZstdDecompress(ZstdCompress(json), 1 << 20, back, 64).ok());
  EXPECT_EQ(back, json);
  EXPECT_GE(back.capacity(), json.size() + 64);
}

TEST(Zstd, JsonIsNotAFrame) {
  for (std::string_view text : {"{\"a\":1}", "[]", "", "(\xB5", "\x28\xB5\x2F"}) EXPECT_FALSE(IsZstdFrame(text)) << text;
  std::string back;
  EXPECT_EQ(ZstdDecompress("{\"a\":1}", 100, back).code(), StatusCode::kInvalidArgument);
}

TEST(Zstd, RejectsDamagedFrames) {
  const std::string json = SampleJson(200);
  const std::string frame = ZstdCompress(json);
  std::string back;

  const Status truncated = ZstdDecompress(std::string_view(frame).substr(0, frame.size() - 10), json.size(), back);
  EXPECT_EQ(truncated.code(), StatusCode::kInvalidArgument) << truncated.message();

  const Status trailing = ZstdDecompress(frame + "x", json.size(), back);
  EXPECT_EQ(trailing.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(trailing.message().find("after"), std::string::npos) << trailing.message();

  // Every single flipped byte past the header fails (the frame carries a checksum), never
  // yields other bytes.
  for (size_t i = 8; i < frame.size(); i += 7) {
    std::string damaged = frame;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5A);
    back.clear();
    const Status s = ZstdDecompress(damaged, json.size() * 2, back);
    EXPECT_FALSE(s.ok()) << "byte " << i;
    EXPECT_TRUE(back.empty()) << "byte " << i;
  }
}

TEST(Zstd, RefusesFramesLargerThanAllowedBeforeAllocating) {
  // 64 MB of zeros compress to a few KB: a small frame must not make the reader allocate 64 MB.
  const std::string frame = ZstdCompress(std::string(64u << 20, '\0'));
  EXPECT_LT(frame.size(), 64u << 10);
  std::string back;
  const Status s = ZstdDecompress(frame, 1u << 20, back);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("allowed"), std::string::npos) << s.message();
  EXPECT_LT(back.capacity(), 1u << 20);
}

}  // namespace
}  // namespace langfuse
