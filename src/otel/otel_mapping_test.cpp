// The OTel -> ingestion mapping for the attribute sets real instrumentations send: the Langfuse
// Python and JS SDKs, the Vercel AI SDK, OpenInference, OpenLLMetry and the GenAI conventions.
#include <cstdio>
#include <regex>

#include <gtest/gtest.h>

#include "common/time.h"
#include "otel/otel_mapping.h"

namespace langfuse::otel {
namespace {

using json = nlohmann::json;

constexpr char kTrace[] = "0af7651916cd43dd8448eb211c80319c";
constexpr char kRoot[] = "b7ad6b7169203331";
constexpr char kChild[] = "00f067aa0ba902b7";
constexpr uint64_t kStartNs = 1700000000123456789ULL;  // 2023-11-14T22:13:20.123Z
constexpr int64_t kNow = 1750000000000;

Span MakeSpan(std::string id, std::string parent, std::string name, json attributes) {
  Span s;
  s.trace_id = kTrace;
  s.span_id = std::move(id);
  s.parent_span_id = std::move(parent);
  s.name = std::move(name);
  s.start_time_unix_nano = kStartNs;
  s.end_time_unix_nano = kStartNs + 2'500'000'000ULL;
  s.attributes = Attributes(attributes);
  return s;
}

ExportRequest Request(std::string scope_name, json resource, std::vector<Span> spans, std::string version = "") {
  ExportRequest r;
  auto& rs = r.resource_spans.emplace_back();
  rs.resource_attributes = Attributes(resource);
  auto& ss = rs.scope_spans.emplace_back();
  ss.scope.name = std::move(scope_name);
  ss.scope.version = std::move(version);
  ss.spans = std::move(spans);
  return r;
}

struct Mapped {
  MappedSpans raw;
  std::vector<json> events;
  const json* Find(std::string_view type, std::string_view body_id = {}) const {
    for (const auto& e : events) {
      if (e["type"] == type && (body_id.empty() || e["body"]["id"] == body_id)) return &e;
    }
    return nullptr;
  }
  size_t Count(std::string_view type) const {
    size_t n = 0;
    for (const auto& e : events) n += e["type"] == type;
    return n;
  }
};

Mapped Map(const ExportRequest& r) {
  Mapped m{MapToIngestionEvents(r, kNow), {}};
  for (const auto& e : m.raw.events) m.events.push_back(json::parse(e));
  return m;
}

TEST(OtelMapping, LangfuseJsSdkTraceAndGeneration) {
  json resource = {{"service.name", "app"}, {"telemetry.sdk.language", "nodejs"}, {"langfuse.release", "r-1"}};
  Span root = MakeSpan(kRoot, "", "handle-request",
                       {{"langfuse.observation.type", "span"},
                        {"langfuse.trace.name", "my-trace"},
                        {"user.id", "user-1"},
                        {"session.id", "sess-1"},
                        {"langfuse.trace.tags", json::array({"a", "b"})},
                        {"langfuse.trace.public", true},
                        {"langfuse.trace.metadata.team", "core"},
                        {"langfuse.trace.input", R"({"question":"hi"})"},
                        {"langfuse.observation.input", R"({"q":1})"},
                        {"langfuse.observation.output", R"("done")"},
                        {"langfuse.environment", "staging"},
                        {"langfuse.version", "v2"}});
  Span gen = MakeSpan(kChild, kRoot, "llm-call",
                      {{"langfuse.observation.type", "generation"},
                       {"langfuse.observation.model.name", "gpt-4o"},
                       {"langfuse.observation.model.parameters", R"({"temperature":0.2,"stop":["x"]})"},
                       {"langfuse.observation.usage_details", R"({"input":10,"output":5})"},
                       {"langfuse.observation.cost_details", R"({"total":0.01})"},
                       {"langfuse.observation.prompt.name", "p"},
                       {"langfuse.observation.prompt.version", 3},
                       {"langfuse.observation.completion_start_time", "2023-11-14T22:13:21.000Z"},
                       {"langfuse.observation.metadata.k", "v"},
                       {"langfuse.observation.level", "WARNING"},
                       {"langfuse.observation.status_message", "slow"},
                       {"langfuse.environment", "staging"}});
  Mapped m = Map(Request("langfuse-sdk", resource, {root, gen}, "5.11.1"));
  EXPECT_EQ(m.raw.rejected_spans, 0);
  EXPECT_EQ(m.raw.accepted_spans, 2);
  ASSERT_EQ(m.Count("trace-create"), 1u) << "the child's shallow trace is redundant";
  const json& trace = (*m.Find("trace-create"))["body"];
  EXPECT_EQ(trace["id"], kTrace);
  EXPECT_EQ(trace["timestamp"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(trace["name"], "my-trace");
  EXPECT_EQ(trace["userId"], "user-1");
  EXPECT_EQ(trace["sessionId"], "sess-1");
  EXPECT_EQ(trace["tags"], json::array({"a", "b"}));
  EXPECT_EQ(trace["public"], true);
  EXPECT_EQ(trace["release"], "r-1");
  EXPECT_EQ(trace["version"], "v2");
  EXPECT_EQ(trace["environment"], "staging");
  EXPECT_EQ(trace["input"], R"({"question":"hi"})");
  EXPECT_EQ(trace["output"], R"("done")");
  EXPECT_EQ(trace["metadata"]["team"], "core");
  EXPECT_FALSE(trace["metadata"].contains("attributes")) << "langfuse-sdk spans keep no raw attributes";
  EXPECT_EQ(trace["metadata"]["scope"]["name"], "langfuse-sdk");

  const json& span = (*m.Find("span-create"))["body"];
  EXPECT_EQ(span["id"], kRoot);
  EXPECT_FALSE(span.contains("parentObservationId"));
  EXPECT_EQ(span["input"], R"({"q":1})");
  EXPECT_EQ(span["startTime"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(span["endTime"], "2023-11-14T22:13:22.623Z");

  const json* gen_event = m.Find("generation-create");
  ASSERT_NE(gen_event, nullptr);
  EXPECT_EQ((*gen_event)["timestamp"], FormatIso8601Ms(kNow));
  const json& g = (*gen_event)["body"];
  EXPECT_EQ(g["parentObservationId"], kRoot);
  EXPECT_EQ(g["traceId"], kTrace);
  EXPECT_EQ(g["model"], "gpt-4o");
  EXPECT_EQ(g["modelParameters"], json::parse(R"({"temperature":0.2,"stop":"[\"x\"]"})"));
  EXPECT_EQ(g["usageDetails"], json::parse(R"({"input":10,"output":5})"));
  EXPECT_EQ(g["costDetails"], json::parse(R"({"total":0.01})"));
  EXPECT_EQ(g["promptName"], "p");
  EXPECT_EQ(g["promptVersion"], 3);
  EXPECT_EQ(g["completionStartTime"], "2023-11-14T22:13:21.000Z");
  EXPECT_EQ(g["metadata"]["k"], "v");
  EXPECT_EQ(g["level"], "WARNING");
  EXPECT_EQ(g["statusMessage"], "slow");
  EXPECT_EQ(g["environment"], "staging");
  EXPECT_EQ(g["metadata"]["resourceAttributes"]["service.name"], "app");
}

TEST(OtelMapping, PythonSdkOldVersionSpanWithModelIsAGeneration) {
  json resource = {{"telemetry.sdk.language", "python"}};
  Span s = MakeSpan(kRoot, "", "chat",
                    {{"langfuse.observation.type", "span"},
                     {"langfuse.observation.model.name", "gpt-4"},
                     {"langfuse.observation.completion_start_time", R"("2023-11-14T22:13:20.500000+00:00")"}});
  Mapped m = Map(Request("langfuse-sdk", resource, {s}, "3.2.1"));
  const json* g = m.Find("generation-create");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ((*g)["body"]["completionStartTime"], "2023-11-14T22:13:20.500Z");
  Mapped newer = Map(Request("langfuse-sdk", resource, {s}, "3.4.0"));
  EXPECT_NE(newer.Find("span-create"), nullptr);
}

TEST(OtelMapping, VercelAiSdk) {
  Span s = MakeSpan(kChild, kRoot, "ai.generateText.doGenerate",
                    {{"operation.name", "ai.generateText.doGenerate fn"},
                     {"ai.operationId", "ai.generateText.doGenerate"},
                     {"ai.telemetry.functionId", "fn"},
                     {"ai.model.id", "gpt-4o-mini"},
                     {"ai.model.provider", "openai.chat"},
                     {"ai.prompt.messages", R"([{"role":"user","content":"hi"}])"},
                     {"ai.response.text", "hello"},
                     {"ai.response.msToFirstChunk", 120.4},
                     {"gen_ai.request.temperature", 0.3},
                     {"gen_ai.usage.input_tokens", 10},
                     {"gen_ai.usage.output_tokens", 4},
                     {"ai.usage.tokens", 14},
                     {"ai.telemetry.metadata.userId", "u-9"},
                     {"ai.telemetry.metadata.tier", "gold"}});
  Mapped m = Map(Request("ai", json::object(), {s}));
  const json* g = m.Find("generation-create");
  ASSERT_NE(g, nullptr);
  const json& b = (*g)["body"];
  EXPECT_EQ(b["name"], "fn:ai.generateText.doGenerate");
  EXPECT_EQ(b["model"], "gpt-4o-mini");
  EXPECT_EQ(b["input"], R"([{"role":"user","content":"hi"}])");
  EXPECT_EQ(b["output"], "hello");
  EXPECT_EQ(b["usageDetails"], json::parse(R"({"input":10,"output":4,"total":14})"));
  EXPECT_EQ(b["modelParameters"]["temperature"], "0.3");
  EXPECT_EQ(b["modelParameters"]["system"], "openai.chat");
  EXPECT_EQ(b["completionStartTime"], "2023-11-14T22:13:20.244Z");
  EXPECT_EQ(b["metadata"]["tier"], "gold");
  EXPECT_EQ(b["metadata"]["attributes"]["ai.model.id"], "gpt-4o-mini");
  EXPECT_FALSE(b["metadata"]["attributes"].contains("ai.prompt.messages"));
  // ai.telemetry.metadata.userId is a trace-level attribute: a trace update, not a shallow trace.
  const json* t = m.Find("trace-create");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ((*t)["body"]["userId"], "u-9");
  EXPECT_FALSE((*t)["body"].contains("name"));

  Span tool = MakeSpan("1111111111111111", kRoot, "ai.toolCall",
                       {{"operation.name", "ai.toolCall"}, {"ai.operationId", "ai.toolCall"},
                        {"ai.toolCall.name", "weather"}, {"ai.toolCall.args", R"({"city":"Oslo"})"},
                        {"ai.toolCall.result", "sunny"}});
  Mapped mt = Map(Request("ai", json::object(), {tool}));
  const json* te = mt.Find("tool-create");
  ASSERT_NE(te, nullptr);
  EXPECT_EQ((*te)["body"]["name"], "weather");
  EXPECT_EQ((*te)["body"]["input"], R"({"city":"Oslo"})");
  EXPECT_EQ((*te)["body"]["output"], "sunny");
}

TEST(OtelMapping, OpenInference) {
  Span llm = MakeSpan(kRoot, "", "ChatCompletion",
                      {{"openinference.span.kind", "LLM"},
                       {"llm.model_name", "gpt-4"},
                       {"llm.invocation_parameters", R"({"temperature":0.5})"},
                       {"llm.input_messages.0.message.role", "user"},
                       {"llm.input_messages.0.message.content", "What is 2+2?"},
                       {"llm.output_messages.0.message.role", "assistant"},
                       {"llm.output_messages.0.message.content", "4"},
                       {"llm.token_count.prompt", 7},
                       {"llm.token_count.completion", 3},
                       {"llm.token_count.total", 10},
                       {"llm.cost.total", 0.002}});
  Span tool = MakeSpan(kChild, kRoot, "search",
                       {{"openinference.span.kind", "TOOL"}, {"input.value", "query"}, {"output.value", "result"}});
  Span chain = MakeSpan("2222222222222222", kRoot, "chain", {{"openinference.span.kind", "CHAIN"}});
  Mapped m = Map(Request("openinference.instrumentation.openai", json::object(), {llm, tool, chain}));
  const json& g = (*m.Find("generation-create"))["body"];
  EXPECT_EQ(g["model"], "gpt-4");
  EXPECT_EQ(g["modelParameters"], json::parse(R"({"temperature":0.5})"));
  EXPECT_EQ(g["input"], json::parse(R"([{"message":{"role":"user","content":"What is 2+2?"}}])"));
  EXPECT_EQ(g["output"], json::parse(R"([{"message":{"role":"assistant","content":"4"}}])"));
  EXPECT_EQ(g["usageDetails"], json::parse(R"({"input":7,"output":3,"total":10})"));
  EXPECT_EQ(g["costDetails"], json::parse(R"({"total":0.002})"));
  EXPECT_EQ(g["metadata"]["attributes"]["llm.model_name"], "gpt-4");
  EXPECT_EQ(g["metadata"]["attributes"]["llm.token_count.prompt"], "7");
  const json& t = (*m.Find("tool-create"))["body"];
  EXPECT_EQ(t["input"], "query");
  EXPECT_EQ(t["output"], "result");
  EXPECT_NE(m.Find("chain-create"), nullptr);
  // root span: trace input/output are the observation's
  EXPECT_EQ((*m.Find("trace-create"))["body"]["input"], g["input"]);
}

TEST(OtelMapping, OpenLLMetry) {
  Span s = MakeSpan(kRoot, "", "openai.chat",
                    {{"llm.request.type", "chat"},
                     {"gen_ai.system", "openai"},
                     {"gen_ai.request.model", "gpt-3.5-turbo"},
                     {"gen_ai.response.model", "gpt-3.5-turbo-0125"},
                     {"gen_ai.request.max_tokens", 100},
                     {"gen_ai.prompt.0.role", "user"},
                     {"gen_ai.prompt.0.content", "hi"},
                     {"gen_ai.completion.0.role", "assistant"},
                     {"gen_ai.completion.0.content", "hello"},
                     {"gen_ai.usage.prompt_tokens", 5},
                     {"gen_ai.usage.completion_tokens", 2},
                     {"llm.usage.total_tokens", 7},
                     {"traceloop.association.properties.x", "y"}});
  Mapped m = Map(Request("opentelemetry.instrumentation.openai.v1", json::object(), {s}));
  const json& g = (*m.Find("generation-create"))["body"];
  EXPECT_EQ(g["model"], "gpt-3.5-turbo-0125");
  EXPECT_EQ(g["modelParameters"], json::parse(R"({"max_tokens":100})"));
  EXPECT_EQ(g["input"], json::parse(R"([{"role":"user","content":"hi"}])"));
  EXPECT_EQ(g["output"], json::parse(R"([{"role":"assistant","content":"hello"}])"));
  EXPECT_EQ(g["usageDetails"], json::parse(R"({"input":5,"output":2})"));
  EXPECT_FALSE(g["metadata"]["attributes"].contains("gen_ai.prompt.0.role"));
  EXPECT_EQ(g["metadata"]["attributes"]["traceloop.association.properties.x"], "y");

  Span entity = MakeSpan(kChild, kRoot, "workflow",
                         {{"traceloop.entity.input", R"({"a":1})"}, {"traceloop.entity.output", R"({"b":2})"}});
  Mapped me = Map(Request("traceloop", json::object(), {entity}));
  EXPECT_EQ((*me.Find("span-create"))["body"]["input"], R"({"a":1})");
}

TEST(OtelMapping, GenAiSemanticConventions) {
  Span chat = MakeSpan(kRoot, "", "chat gpt-4o",
                       {{"gen_ai.operation.name", "chat"},
                        {"gen_ai.request.model", "gpt-4o"},
                        {"gen_ai.usage.input_tokens", 12},
                        {"gen_ai.usage.output_tokens", 8},
                        {"gen_ai.usage.cache_read.input_tokens", 2},
                        {"gen_ai.usage.cost", 0.5},
                        {"gen_ai.conversation.id", "conv-1"}});
  SpanEvent user{"gen_ai.user.message", 0, {{"content", "hi"}}};
  SpanEvent choice{"gen_ai.choice", 0, {{"index", 0}, {"message", R"({"content":"yo"})"}}};
  chat.events = {user, choice};
  Span tool = MakeSpan(kChild, kRoot, "execute_tool get_weather",
                       {{"gen_ai.operation.name", "execute_tool"},
                        {"gen_ai.tool.name", "get_weather"},
                        {"gen_ai.tool.call.arguments", R"({"city":"Paris"})"},
                        {"gen_ai.tool.call.result", "rain"}});
  Span agent = MakeSpan("3333333333333333", kRoot, "invoke_agent",
                        {{"gen_ai.operation.name", "invoke_agent"},
                         {"gen_ai.request.model", "gpt-4o"},
                         {"gen_ai.usage.input_tokens", 100},
                         {"gen_ai.system_instructions", "be brief"},
                         {"gen_ai.input.messages", R"([{"role":"user","content":"x"}])"}});
  Mapped m = Map(Request("my.instrumentation", json::object(), {chat, tool, agent}));
  const json& g = (*m.Find("generation-create"))["body"];
  EXPECT_EQ(g["input"], json::parse(R"([{"role":"user","content":"hi"}])"));
  EXPECT_EQ(g["output"], json::parse(R"({"index":0,"message":"{\"content\":\"yo\"}"})"));
  EXPECT_EQ(g["usageDetails"], json::parse(R"({"input":10,"output":8,"input_cached_tokens":2})"));
  EXPECT_EQ(g["costDetails"], json::parse(R"({"total":0.5})"));
  EXPECT_EQ((*m.Find("trace-create"))["body"]["sessionId"], "conv-1");
  const json& t = (*m.Find("tool-create"))["body"];
  EXPECT_EQ(t["name"], "get_weather");
  EXPECT_EQ(t["input"], R"({"city":"Paris"})");
  EXPECT_EQ(t["output"], "rain");
  const json& a = (*m.Find("agent-create"))["body"];
  EXPECT_FALSE(a.contains("model")) << "agent spans carry aggregate usage; skipped like Langfuse";
  EXPECT_FALSE(a.contains("usageDetails"));
  EXPECT_EQ(a["input"], R"([{"role":"system","content":"be brief"},{"role":"user","content":"x"}])");
}

TEST(OtelMapping, StatusErrorAndDefaults) {
  Span s = MakeSpan(kRoot, "", "failing", json::object());
  s.status_code = 2;
  s.status_message = "exploded";
  s.start_time_unix_nano.reset();
  Mapped m = Map(Request("x", {{"deployment.environment", "prod"}, {"service.version", "9"}}, {s}));
  const json& o = (*m.Find("span-create"))["body"];
  EXPECT_EQ(o["level"], "ERROR");
  EXPECT_EQ(o["statusMessage"], "exploded");
  EXPECT_EQ(o["environment"], "prod");
  EXPECT_EQ(o["version"], "9");
  EXPECT_EQ(o["startTime"], o["endTime"]) << "a missing start falls back to the end";
  EXPECT_EQ(o["metadata"]["attributes"], json::object());
}

TEST(OtelMapping, ShallowTraceForASpanWithoutItsRoot) {
  Span a = MakeSpan(kChild, kRoot, "child-a", json::object());
  Span b = MakeSpan("4444444444444444", kRoot, "child-b", json::object());
  Mapped m = Map(Request("x", json::object(), {a, b}));
  ASSERT_EQ(m.Count("trace-create"), 1u) << "one shallow trace per trace id";
  const json& t = *m.Find("trace-create");
  EXPECT_EQ(t["body"], json::parse(std::string(R"({"id":")") + kTrace + R"(","environment":"default"})"));
  EXPECT_EQ(t["timestamp"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(m.Count("span-create"), 2u);
}

TEST(OtelMapping, InvalidSpansAreRejectedIndividually) {
  Span good = MakeSpan(kRoot, "", "ok", json::object());
  Span bad_trace = MakeSpan(kChild, "", "bad", json::object());
  bad_trace.trace_id = "1234";
  Span zero = MakeSpan("0000000000000000", "", "zero", json::object());
  Span bad_parent = MakeSpan("5555555555555555", "abc", "p", json::object());
  Span decode_error = MakeSpan("6666666666666666", "", "d", json::object());
  decode_error.id_error = "invalid traceId: expected hex";
  Mapped m = Map(Request("x", json::object(), {good, bad_trace, zero, bad_parent, decode_error}));
  EXPECT_EQ(m.raw.rejected_spans, 4);
  EXPECT_EQ(m.raw.accepted_spans, 1);
  EXPECT_NE(m.raw.error_message.find("traceId"), std::string::npos);
  EXPECT_EQ(m.Count("span-create"), 1u);
}

TEST(OtelMapping, UnknownAttributesAndOddValuesAreKeptNotFatal) {
  Span s = MakeSpan(kRoot, "", "odd",
                    {{"langfuse.observation.level", "LOUD"},
                     {"langfuse.observation.type", "nonsense"},
                     {"langfuse.observation.usage_details", "[1,2]"},
                     {"langfuse.trace.metadata", "not json"},
                     {"langfuse.trace.tags", "x, y"},
                     {"gen_ai.prompt.0.content.bad.__proto__", "z"},
                     {"weird", R"({"kvlistValue":{}})"}});
  Mapped m = Map(Request("x", json::object(), {s}));
  EXPECT_EQ(m.raw.rejected_spans, 0);
  const json& o = (*m.Find("span-create"))["body"];
  EXPECT_EQ(o["level"], "DEFAULT");
  EXPECT_EQ(o["metadata"]["attributes"]["weird"], R"({"kvlistValue":{}})");
  EXPECT_EQ((*m.Find("trace-create"))["body"]["tags"], json::array({"x", "y"}));
}

TEST(OtelMapping, DecodedJsonRequestEndToEnd) {
  const std::string body = std::string(R"({"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"scope":{"name":"langfuse-sdk"},"spans":[{"traceId":")") +
                           kTrace + R"(","spanId":")" + kRoot +
                           R"(","name":"root","startTimeUnixNano":"1700000000123456789","endTimeUnixNano":"1700000000223456789",
      "attributes":[{"key":"langfuse.observation.type","value":{"stringValue":"agent"}}]}]}]}]})";
  auto decoded = DecodeJsonRequest(body);
  ASSERT_TRUE(decoded.ok());
  Mapped m = Map(*decoded);
  EXPECT_NE(m.Find("agent-create"), nullptr);
  EXPECT_NE(m.Find("trace-create"), nullptr);
}

// Regressions found by fuzzing (src/otel/otlp_*_fuzz.cpp); each input is also in the corpus.

TEST(OtelMapping, MsToFirstChunkOutsideTheDateRangeIsDropped) {
  // 1e300 once overflowed the conversion to int64 (undefined behaviour) and 1e16 ms made a
  // completion start in year 318857 that failed validation, rejecting the span; JavaScript's Date
  // stops at 8.64e15 ms and Langfuse drops the value.
  for (const json& far : {json(1e300), json(-1e300), json("1e16")}) {
    Span s = MakeSpan(kRoot, "", "ai.streamText.doStream", {{"operation.name", "ai.streamText.doStream"}, {"ai.model.id", "m"}, {"ai.stream.msToFirstChunk", far}});
    Mapped m = Map(Request("ai", json::object(), {s}));
    EXPECT_EQ(m.raw.accepted_spans, 1) << far << ": " << m.raw.error_message;
    const json* gen = m.Find("generation-create");
    ASSERT_NE(gen, nullptr) << far;
    EXPECT_FALSE((*gen)["body"].contains("completionStartTime")) << far;
  }
  Span near = MakeSpan(kRoot, "", "ai.streamText.doStream",
                       {{"operation.name", "ai.streamText.doStream"}, {"ai.model.id", "m"}, {"ai.stream.msToFirstChunk", 876.2}});
  Mapped m = Map(Request("ai", json::object(), {near}));
  EXPECT_EQ((*m.Find("generation-create"))["body"]["completionStartTime"], "2023-11-14T22:13:21.000Z");
}

TEST(OtelMapping, DeeplyNestedJsonTextStaysAString) {
  // A few MB of nesting in one attribute once overflowed the stack when the parsed value was
  // copied and serialised; such text is now treated as not JSON.
  constexpr size_t kDepth = 100000;
  std::string deep;
  for (size_t i = 0; i < kDepth; ++i) deep += R"({"a":)";
  deep += "1";
  deep.append(kDepth, '}');
  std::string shallow;  // within the limit: still parsed
  for (int i = 0; i < 100; ++i) shallow += "[";
  shallow += "1";
  shallow.append(100, ']');
  Span s = MakeSpan(kRoot, "", "deep",
                    {{"langfuse.observation.model.parameters", deep},
                     {"langfuse.observation.metadata", deep},
                     {"gen_ai.input.messages", "[" + deep + "]"},
                     {"gen_ai.system_instructions", "be brief"},
                     {"langfuse.trace.tags", shallow}});
  Mapped m = Map(Request("x", json::object(), {s}));
  EXPECT_EQ(m.raw.accepted_spans, 1) << m.raw.error_message;
  const json& o = (*m.Find("span-create"))["body"];
  EXPECT_EQ(o["modelParameters"], json::object());
  EXPECT_EQ(o["input"], "[" + deep + "]") << "kept verbatim, without the system message";
  EXPECT_EQ((*m.Find("trace-create"))["body"]["tags"].size(), 1u);
}

TEST(OtelMapping, SparseFlattenedIndexesCreateNoPadding) {
  // `gen_ai.prompt.<i>.9999` keys once padded ten thousand nulls each: a 100 KB request took
  // minutes and a GB of memory. Dense indexes (what instrumentations send) are unaffected.
  Span s = MakeSpan(kRoot, "", "chat",
                    {{"gen_ai.prompt.0.role", "user"},
                     {"gen_ai.prompt.0.content", "hi"},
                     {"gen_ai.prompt.1.9999", "far"},
                     {"gen_ai.completion.1.role", "assistant"},
                     {"gen_ai.completion.0.role", "assistant"},
                     {"gen_ai.completion.0.content", "a"}});
  Mapped m = Map(Request("x", json::object(), {s}));
  EXPECT_EQ(m.raw.accepted_spans, 1) << m.raw.error_message;
  const json& o = (*m.Find("span-create"))["body"];
  EXPECT_EQ(o["input"], json::parse(R"([{"content":"hi","role":"user"},[]])"));
  EXPECT_EQ(o["output"], json::parse(R"([{"content":"a","role":"assistant"},{"role":"assistant"}])"));
}

TEST(OtelMapping, EventBytesOfOneRequestAreBounded) {
  // Every event repeats the resource attributes: 1 MB of them and a few thousand spans once
  // mapped to gigabytes. Spans past the bound are rejected with a reason.
  json resource = {{"service.name", std::string(2000, 'r')}};
  std::vector<Span> spans;
  for (int i = 1; i <= 5; ++i) {
    char id[17];
    std::snprintf(id, sizeof(id), "%016x", i);
    spans.push_back(MakeSpan(id, "", "s", json::object()));
  }
  const ExportRequest request = Request("x", resource, spans);
  const MappedSpans all = MapToIngestionEvents(request, kNow);
  ASSERT_EQ(all.accepted_spans, 5);
  size_t first_span_bytes = 0;
  for (size_t i = 0; i < 2; ++i) first_span_bytes += all.events[i].size();

  const MappedSpans bounded = MapToIngestionEvents(request, kNow, first_span_bytes * 2 + 10);
  EXPECT_EQ(bounded.accepted_spans, 2);
  EXPECT_EQ(bounded.rejected_spans, 3);
  EXPECT_EQ(bounded.events.size(), 4u);
  EXPECT_NE(bounded.error_message.find("events exceed"), std::string::npos) << bounded.error_message;
}

TEST(OtelMapping, RejectedRootKeepsTheShallowTraceOfItsChildren) {
  // A root span whose trace event fails validation (a 1001-character name) must not make its
  // children's shallow trace event look redundant: they would land without a trace.
  Span root = MakeSpan(kRoot, "", std::string(1001, 'n'), json::object());
  Span child = MakeSpan(kChild, kRoot, "child", json::object());
  Mapped m = Map(Request("x", json::object(), {root, child}));
  EXPECT_EQ(m.raw.rejected_spans, 1);
  EXPECT_EQ(m.raw.accepted_spans, 1);
  ASSERT_EQ(m.Count("trace-create"), 1u);
  EXPECT_EQ((*m.Find("trace-create"))["body"]["id"], kTrace);
}

// The events are written as text, not dumped from a tree: the text must stay what the tree's dump
// gave (compact, keys sorted at every level, nlohmann's number forms such as "12.0"), since the
// queue, the byte bound and the worker's parse all see it.
ExportRequest ExactTextRequest() {
  ExportRequest r;
  auto& rs = r.resource_spans.emplace_back();
  rs.resource_attributes = {{"service.name", "app"}, {"deployment.environment", "prod"}, {"service.version", "1.2"}};
  auto& ss = rs.scope_spans.emplace_back();
  ss.scope.name = "my.instrumentation";
  ss.scope.version = "0.1";
  ss.scope.attributes = {{"k", 1}};
  Span root;
  root.trace_id = "0af7651916cd43dd8448eb211c80319c";
  root.span_id = "b7ad6b7169203331";
  root.name = "chat gpt-4o";
  root.start_time_unix_nano = 1700000000123456789ULL;
  root.end_time_unix_nano = 1700000002623456789ULL;
  root.status_code = 2;
  root.status_message = "boom";
  root.attributes = {{"gen_ai.operation.name", "chat"},
                     {"gen_ai.request.model", "gpt-4o"},
                     {"gen_ai.request.temperature", 0.5},
                     {"gen_ai.request.max_tokens", 256},
                     {"gen_ai.usage.input_tokens", 12},
                     {"gen_ai.usage.output_tokens", 3},
                     {"gen_ai.input.messages", "[{\"role\":\"user\",\"content\":\"say \\\"hi\\\"\\n\"}]"},
                     {"gen_ai.output.messages", "[{\"role\":\"assistant\",\"content\":\"hi\"}]"},
                     {"user.id", "u-1"},
                     {"session.id", "s-1"},
                     {"langfuse.trace.metadata.team", "core"},
                     {"odd\x01key", true},
                     {"tags.list", json::array({"a", 2})}};
  ss.spans.push_back(root);
  return r;
}

std::string WithoutEnvelopeId(const std::string& event) {
  static const std::regex kUuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  return std::regex_replace(event, kUuid, "UUID");
}

TEST(OtelMapping, EventTextIsExactlyTheCompactSortedJson) {
  const MappedSpans mapped = MapToIngestionEvents(ExactTextRequest(), kNow);
  ASSERT_EQ(mapped.events.size(), 2u);
  EXPECT_EQ(mapped.event_types, (std::vector<std::string>{"trace-create", "generation-create"}));
  EXPECT_EQ(WithoutEnvelopeId(mapped.events[0]),
      R"({"body":{"environment":"prod","id":"0af7651916cd43dd8448eb211c80319c","input":"[{\"role\":\"user\",\)"
      R"("content\":\"say \\\"hi\\\"\\n\"}]","metadata":{"attributes":{"gen_ai.operation.name":"chat","gen_ai)"
      R"(.request.max_tokens":"256","gen_ai.request.model":"gpt-4o","gen_ai.request.temperature":"0.5","gen_a)"
      R"(i.usage.input_tokens":"12","gen_ai.usage.output_tokens":"3","odd\u0001key":"true","session.id":"s-1")"
      R"(,"tags.list":"[\"a\",2]","user.id":"u-1"},"resourceAttributes":{"deployment.environment":"prod","ser)"
      R"(vice.name":"app","service.version":"1.2"},"scope":{"attributes":{"k":1},"name":"my.instrumentation",)"
      R"("version":"0.1"},"team":"core"},"name":"chat gpt-4o","output":"[{\"role\":\"assistant\",\"content\":)"
      R"(\"hi\"}]","sessionId":"s-1","timestamp":"2023-11-14T22:13:20.123Z","userId":"u-1","version":"1.2"},")"
      R"(id":"UUID","timestamp":"2023-11-14T22:13:20.123Z","type":"trace-create"})");
  EXPECT_EQ(WithoutEnvelopeId(mapped.events[1]),
      R"({"body":{"costDetails":{},"endTime":"2023-11-14T22:13:22.623Z","environment":"prod","id":"b7ad6b7169)"
      R"(203331","input":"[{\"role\":\"user\",\"content\":\"say \\\"hi\\\"\\n\"}]","level":"ERROR","metadata")"
      R"(:{"attributes":{"gen_ai.operation.name":"chat","gen_ai.request.max_tokens":"256","gen_ai.request.mod)"
      R"(el":"gpt-4o","gen_ai.request.temperature":"0.5","gen_ai.usage.input_tokens":"12","gen_ai.usage.outpu)"
      R"(t_tokens":"3","odd\u0001key":"true","session.id":"s-1","tags.list":"[\"a\",2]","user.id":"u-1"},"res)"
      R"(ourceAttributes":{"deployment.environment":"prod","service.name":"app","service.version":"1.2"},"sco)"
      R"(pe":{"attributes":{"k":1},"name":"my.instrumentation","version":"0.1"}},"model":"gpt-4o","modelParam)"
      R"(eters":{"max_tokens":256,"temperature":0.5},"name":"chat gpt-4o","output":"[{\"role\":\"assistant\",)"
      R"(\"content\":\"hi\"}]","startTime":"2023-11-14T22:13:20.123Z","statusMessage":"boom","traceId":"0af76)"
      R"(51916cd43dd8448eb211c80319c","usageDetails":{"input":12.0,"output":3.0},"version":"1.2"},"id":"UUID")"
      R"(,"timestamp":"2025-06-15T15:06:40.000Z","type":"generation-create"})");
}

TEST(OtelMapping, EveryEventIsCanonicalJson) {
  // Whatever the instrumentation, an event's text equals nlohmann's compact dump of its own parse.
  json resource = {{"service.name", "app"}, {"langfuse.trace.metadata.scope", "replaced"}};
  std::vector<Span> spans = {
      MakeSpan(kRoot, "", "root",
               {{"langfuse.observation.type", "generation"},
                {"langfuse.trace.metadata", R"({"b":1,"a":[true,null,1.5e300]})"},
                {"langfuse.observation.metadata.attributes", "kept for langfuse-sdk"},
                {"langfuse.observation.usage_details", R"({"input":1e2,"output":7})"},
                {"langfuse.observation.prompt.name", "p"},
                {"langfuse.observation.prompt.version", "4"},
                {"langfuse.trace.tags", "x, y"}}),
      MakeSpan(kChild, kRoot, "ai.generateText.doGenerate",
               {{"operation.name", "ai.generateText.doGenerate"},
                {"ai.model.id", "m"},
                {"ai.prompt.messages", R"([{"role":"user","content":"\u00e9\t"}])"},
                {"ai.response.text", "tab\there"},
                {"ai.usage.tokens", 9},
                {"gen_ai.usage.prompt_tokens", 5},
                {"langfuse.trace.name", "renamed"},
                {"ai.response.msToFirstChunk", 12.4}}),
  };
  Span with_events = MakeSpan("10f067aa0ba902b7", kRoot, "chat", {{"gen_ai.system", "x"}});
  with_events.events.push_back(SpanEvent{"gen_ai.user.message", 1, {{"content", "q"}}});
  with_events.events.push_back(SpanEvent{"gen_ai.choice", 2, {{"message", "a"}, {"index", 0}}});
  spans.push_back(with_events);
  for (const char* scope : {"langfuse-sdk", "ai", "openinference.instrumentation"}) {
    const MappedSpans mapped = MapToIngestionEvents(Request(scope, resource, spans), kNow);
    EXPECT_EQ(mapped.rejected_spans, 0) << mapped.error_message;
    ASSERT_FALSE(mapped.events.empty());
    for (const auto& event : mapped.events) EXPECT_EQ(event, json::parse(event).dump()) << scope;
  }
}

}  // namespace
}  // namespace langfuse::otel
