#include "ingest/batch.h"

#include <gtest/gtest.h>

namespace langfuse::ingest {
namespace {

TEST(ValidateBatch, MalformedEnvelopes) {
  simdjson::dom::parser parser;
  EXPECT_EQ(ValidateBatch(parser, "{not json", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBatch(parser, R"({"batch":{}})", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBatch(parser, R"([1,2])", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBatch(parser, R"({})", {}).status().code(), StatusCode::kInvalidArgument);
  std::string deep(10000, '[');
  deep += std::string(10000, ']');
  EXPECT_EQ(ValidateBatch(parser, R"({"batch":[{"id":"e","body":{"input":)" + deep + "}}]}", {}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ValidateBatch, JudgesEachEventOnItsOwn) {
  simdjson::dom::parser parser;
  auto result = ValidateBatch(parser, R"({"batch":[
      {"id":"ok","timestamp":"2024-01-01T00:00:00Z","type":"trace-create","body":{"id":"t"}},
      {"id":"bad","timestamp":"2024-01-01T00:00:00","type":"trace-create","body":{"id":"t"}},
      {"id":"log","timestamp":"2024-01-01T00:00:00Z","type":"sdk-log","body":{"log":1}},
      {"id":"noid","timestamp":"2024-01-01T00:00:00Z","type":"trace-create","body":{"name":"x"}}],
      "metadata":{"sdk":"x"}})",
                              {});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->successes, (std::vector<std::string>{"ok", "noid"}));
  ASSERT_EQ(result->errors.size(), 1u);
  EXPECT_EQ(result->errors[0].first, "bad");
  ASSERT_EQ(result->accepted.size(), 1u) << "only events with a body id are enqueued";
}

TEST(QueuePayload, RoundTrips) {
  simdjson::dom::parser parser;
  auto result = ValidateBatch(
      parser, R"({"batch":[{"id":"ok","timestamp":"2024-01-01T00:00:00Z","type":"span-create","body":{"id":"s","name":"q\"x"}}]})", {});
  ASSERT_TRUE(result.ok());
  const std::string payload = EncodeQueuePayload("proj", IngestionSource{"k", "python", "2.0"}, 5, result->accepted);
  simdjson::dom::parser parser2;
  auto decoded = DecodeQueuePayload(parser2, payload);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(decoded->project_id, "proj");
  EXPECT_EQ(decoded->source.sdk_name, "python");
  EXPECT_EQ(decoded->received_at_ms, 5);
  ASSERT_EQ(decoded->events.size(), 1u);
  EXPECT_EQ(decoded->events[0].observation.name.value, "q\"x");
}

// The queue keeps payloads compressed; entries queued uncompressed by earlier versions still
// decode, and a damaged frame is an error (the worker dead-letters it), not other events.
TEST(QueuePayload, IsCompressedAndStillReadsPlainJson) {
  simdjson::dom::parser parser;
  std::string body = R"({"batch":[)";
  for (int i = 0; i < 50; ++i) {
    if (i > 0) body += ',';
    body += R"({"id":"e)" + std::to_string(i) + R"(","timestamp":"2024-01-01T00:00:00Z","type":"span-create","body":{"id":"s)" +
            std::to_string(i) + R"(","traceId":"t","name":"retrieve documents","input":{"query":"what is in the report"}}})";
  }
  body += "]}";
  auto result = ValidateBatch(parser, body, {});
  ASSERT_TRUE(result.ok());
  const std::string payload = EncodeQueuePayload("proj", IngestionSource{"k", "js", "3"}, 9, result->accepted);
  auto json = QueuePayloadJson(payload);
  ASSERT_TRUE(json.ok()) << json.status().message();
  EXPECT_EQ(json->front(), '{');
  EXPECT_LT(payload.size() * 4, json->size()) << "the payload is stored compressed";

  simdjson::dom::parser reader;
  auto compressed = DecodeQueuePayload(reader, payload);
  ASSERT_TRUE(compressed.ok()) << compressed.status().message();
  EXPECT_EQ(compressed->json_bytes, json->size());
  auto plain = DecodeQueuePayload(reader, *json);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  ASSERT_EQ(plain->events.size(), 50u);
  ASSERT_EQ(compressed->events.size(), 50u);
  EXPECT_EQ(plain->events[49].observation.name.value, "retrieve documents");
  EXPECT_EQ(compressed->events[49].body_id, plain->events[49].body_id);
  EXPECT_EQ(compressed->received_at_ms, 9);

  std::string damaged = payload;
  damaged[damaged.size() / 2] = static_cast<char>(damaged[damaged.size() / 2] ^ 0x20);
  auto bad = DecodeQueuePayload(reader, damaged);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("queue payload"), std::string::npos) << bad.status().message();
}

// The worker decodes every entry with one text buffer: what an entry decodes to does not depend
// on the entries decoded before it (a larger one, a damaged one, a plain one).
TEST(QueuePayload, DecodesEntriesOneAfterAnotherWithOneBuffer) {
  auto payload_of = [](int events, const std::string& name) {
    std::vector<std::string> accepted;
    for (int i = 0; i < events; ++i) {
      accepted.push_back(R"({"id":"e)" + std::to_string(i) +
                         R"(","timestamp":"2024-01-01T00:00:00Z","type":"span-create","body":{"id":"s)" +
                         std::to_string(i) + R"(","traceId":"t","name":")" + name + R"("}})");
    }
    return EncodeQueuePayload("proj", IngestionSource{"k", "js", "3"}, events, accepted);
  };
  const std::string large = payload_of(2000, "large");
  const std::string small = payload_of(3, "small");
  std::string damaged = small;
  damaged[damaged.size() / 2] = static_cast<char>(damaged[damaged.size() / 2] ^ 0x20);
  auto plain_text = QueuePayloadJson(payload_of(2, "plain"));
  ASSERT_TRUE(plain_text.ok());

  simdjson::dom::parser parser;
  std::string text;
  auto first = DecodeQueuePayload(parser, large, text);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->events.size(), 2000u);
  EXPECT_EQ(first->events[1999].observation.name.value, "large");
  EXPECT_EQ(DecodeQueuePayload(parser, damaged, text).status().code(), StatusCode::kInvalidArgument);
  auto second = DecodeQueuePayload(parser, small, text);
  ASSERT_TRUE(second.ok()) << second.status().message();
  ASSERT_EQ(second->events.size(), 3u);
  EXPECT_EQ(second->events[2].observation.name.value, "small");
  EXPECT_EQ(second->received_at_ms, 3);
  EXPECT_EQ(second->json_bytes, QueuePayloadJson(small)->size());
  auto third = DecodeQueuePayload(parser, *plain_text, text);
  ASSERT_TRUE(third.ok()) << third.status().message();
  ASSERT_EQ(third->events.size(), 2u);
  EXPECT_EQ(third->events[0].observation.name.value, "plain");
  // The events own their text: they outlive the buffer's next use.
  EXPECT_EQ(first->events[0].observation.name.value, "large");
}

// Request bodies are parsed by pooled parsers: a returned one is handed out again (its buffers
// stay warm), two held at once are distinct, and one that grew past 1 MB for a large body is
// freed rather than kept (the next request starts small).
TEST(RequestParser, ReusesIdleParsersAndDropsOnesGrownLarge) {
  const std::string small = R"({"batch":[]})";
  simdjson::dom::parser* first = nullptr;
  {
    RequestParser a;
    ASSERT_TRUE(ValidateBatch(a.get(), small, {}).ok());
    first = &a.get();
  }
  {
    RequestParser b;
    EXPECT_EQ(&b.get(), first);
    RequestParser c;
    EXPECT_NE(&c.get(), &b.get());
  }
  {
    RequestParser big;
    const std::string large = R"({"batch":[],"metadata":")" + std::string(2 << 20, 'x') + R"("})";
    ASSERT_TRUE(ValidateBatch(big.get(), large, {}).ok());
    EXPECT_GT(big.get().capacity(), size_t{1} << 20);
  }
  for (int i = 0; i < 3; ++i) {
    RequestParser next;
    EXPECT_LE(next.get().capacity(), size_t{1} << 20);
  }
}

}  // namespace
}  // namespace langfuse::ingest
