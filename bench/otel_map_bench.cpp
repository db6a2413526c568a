// otel_map_bench: the web side's CPU per OTLP span, without HTTP, the queue's disk or chDB:
// decoding a protobuf ExportTraceServiceRequest, mapping its spans to ingestion events (with their
// validation) and encoding the queue payload, as POST /api/public/otel/v1/traces and the OTLP/gRPC
// receiver do.
//
// The request has the shape bench/otel_load.mjs sends: one resource (service name, environment,
// version), one scope, and agent runs of 4 spans of ~1 KB each (an invoke_agent root span with
// user, session, tags and input/output text; a chat generation with model, parameters, usage and
// JSON messages; a tool call with JSON arguments and result; a retrieval span).
//
// Usage: otel_map_bench [--spans N] [--rounds N] [--dump]
//   --spans   spans per request, a multiple of 4 (default 100)
//   --rounds  requests per pass (default 200); the result is the median of 5 passes
//   --dump    print the mapped events of one request, one per line, and nothing else
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/malloc_tuning.h"
#include "ingest/batch.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "otel/otel_mapping.h"
#include "otel/otlp.h"

namespace {

namespace pb_common = opentelemetry::proto::common::v1;
namespace pb_trace = opentelemetry::proto::trace::v1;
namespace pb_collector = opentelemetry::proto::collector::trace::v1;

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A fixed-seed generator, so every run measures the same request.
class Random {
 public:
  explicit Random(uint32_t seed) : state_(seed) {}
  uint32_t Next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }
  int Between(int lo, int hi) { return lo + static_cast<int>(Next() % static_cast<uint32_t>(hi - lo + 1)); }
  std::string Bytes(size_t n) {
    std::string out(n, '\0');
    for (char& c : out) c = static_cast<char>(Next() | 1);  // never all-zero ids
    return out;
  }

 private:
  uint32_t state_;
};

const char* const kWords[] = {
    "the",      "model",  "answer",  "customer", "order",    "refund",  "policy",   "shipping",  "account",
    "password", "reset",  "invoice", "payment",  "delivery", "address", "please",   "thanks",    "question",
    "support",  "ticket", "status",  "update",   "request",  "product", "warranty", "return",    "days",
    "within",   "cannot", "should",  "would",    "could",    "context", "document", "retrieve",  "summary",
    "explain",  "detail", "example", "latency",  "token",    "prompt",  "system",   "assistant", "user",
    "function", "result", "error",   "weather",  "Berlin",   "Paris",   "tomorrow", "meeting",   "schedule"};

std::string Text(Random& r, size_t length) {
  std::string out;
  while (out.size() < length) {
    out += kWords[r.Next() % (sizeof(kWords) / sizeof(kWords[0]))];
    out += r.Next() % 9 == 0 ? ". " : " ";
  }
  out.resize(length);
  return out;
}

// A JSON string literal of plain words (no character needs escaping).
std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

void Attr(google::protobuf::RepeatedPtrField<pb_common::KeyValue>* attrs, const std::string& key,
          const std::string& value) {
  auto* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

void IntAttr(google::protobuf::RepeatedPtrField<pb_common::KeyValue>* attrs, const std::string& key,
             int64_t value) {
  auto* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_int_value(value);
}

void DoubleAttr(google::protobuf::RepeatedPtrField<pb_common::KeyValue>* attrs, const std::string& key,
                double value) {
  auto* kv = attrs->Add();
  kv->set_key(key);
  kv->mutable_value()->set_double_value(value);
}

// One agent run of 4 spans, as otel_load.mjs builds it.
void AgentRun(Random& r, int k, uint64_t now_ns, pb_trace::ScopeSpans* scope) {
  const std::string trace_id = r.Bytes(16);
  std::string span_ids[4];
  for (auto& id : span_ids) id = r.Bytes(8);
  static constexpr int64_t kTimesMs[4][2] = {{1200, 20}, {900, 150}, {140, 60}, {1150, 950}};
  auto span = [&](int i, const std::string& name, int kind, int parent) {
    pb_trace::Span* s = scope->add_spans();
    s->set_trace_id(trace_id);
    s->set_span_id(span_ids[i]);
    if (parent >= 0) s->set_parent_span_id(span_ids[parent]);
    s->set_name(name);
    s->set_kind(static_cast<pb_trace::Span::SpanKind>(kind));
    s->set_start_time_unix_nano(now_ns - static_cast<uint64_t>(kTimesMs[i][0]) * 1'000'000);
    s->set_end_time_unix_nano(now_ns - static_cast<uint64_t>(kTimesMs[i][1]) * 1'000'000);
    return s;
  };
  const int in_tokens = r.Between(50, 900);
  const int out_tokens = r.Between(20, 400);

  pb_trace::Span* root = span(0, "invoke_agent support-agent", 1, -1);
  Attr(root->mutable_attributes(), "gen_ai.operation.name", "invoke_agent");
  Attr(root->mutable_attributes(), "gen_ai.agent.name", "support-agent");
  Attr(root->mutable_attributes(), "user.id", "user-" + std::to_string(r.Between(1, 500)));
  Attr(root->mutable_attributes(), "session.id", "session-" + std::to_string(k % 64));
  {
    auto* kv = root->mutable_attributes()->Add();
    kv->set_key("langfuse.trace.tags");
    auto* values = kv->mutable_value()->mutable_array_value()->mutable_values();
    values->Add()->set_string_value("bench");
    values->Add()->set_string_value("otel");
  }
  Attr(root->mutable_attributes(), "input.value", Text(r, r.Between(250, 350)));
  Attr(root->mutable_attributes(), "output.value", Text(r, r.Between(250, 350)));

  pb_trace::Span* chat = span(1, "chat gpt-4o-mini", 3, 0);
  Attr(chat->mutable_attributes(), "gen_ai.operation.name", "chat");
  Attr(chat->mutable_attributes(), "gen_ai.system", "openai");
  Attr(chat->mutable_attributes(), "gen_ai.request.model", "gpt-4o-mini");
  DoubleAttr(chat->mutable_attributes(), "gen_ai.request.temperature", 0.7);
  IntAttr(chat->mutable_attributes(), "gen_ai.request.max_tokens", 512);
  Attr(chat->mutable_attributes(), "gen_ai.response.model", "gpt-4o-mini-2024-07-18");
  IntAttr(chat->mutable_attributes(), "gen_ai.usage.input_tokens", in_tokens);
  IntAttr(chat->mutable_attributes(), "gen_ai.usage.output_tokens", out_tokens);
  Attr(chat->mutable_attributes(), "gen_ai.input.messages",
       "[{\"role\":\"system\",\"content\":" + Quoted(Text(r, r.Between(120, 180))) +
           "},{\"role\":\"user\",\"content\":" + Quoted(Text(r, r.Between(250, 350))) + "}]");
  Attr(chat->mutable_attributes(), "gen_ai.output.messages",
       "[{\"role\":\"assistant\",\"content\":" + Quoted(Text(r, r.Between(300, 420))) + "}]");

  pb_trace::Span* tool = span(2, "execute_tool search_kb", 1, 0);
  Attr(tool->mutable_attributes(), "gen_ai.operation.name", "execute_tool");
  Attr(tool->mutable_attributes(), "gen_ai.tool.name", "search_kb");
  Attr(tool->mutable_attributes(), "gen_ai.tool.call.id", "call-" + std::to_string(k));
  Attr(tool->mutable_attributes(), "gen_ai.tool.call.arguments",
       "{\"query\":" + Quoted(Text(r, r.Between(120, 200))) + ",\"top_k\":5}");
  Attr(tool->mutable_attributes(), "gen_ai.tool.call.result",
       "{\"hits\":[" + Quoted(Text(r, r.Between(250, 330))) + "," + Quoted(Text(r, r.Between(250, 330))) +
           "]}");
  if (k % 17 == 0) {
    tool->mutable_status()->set_message("tool timeout");
    tool->mutable_status()->set_code(pb_trace::Status::STATUS_CODE_ERROR);
  }

  pb_trace::Span* retrieve = span(3, "retrieve documents", 1, 0);
  Attr(retrieve->mutable_attributes(), "db.system", "qdrant");
  Attr(retrieve->mutable_attributes(), "retriever.index", "kb-2024-11");
  Attr(retrieve->mutable_attributes(), "input.value", Text(r, r.Between(200, 300)));
  Attr(retrieve->mutable_attributes(), "output.value",
       "[" + Quoted(Text(r, r.Between(220, 300))) + "," + Quoted(Text(r, r.Between(220, 300))) + "]");
}

std::string BuildRequest(int spans, uint64_t now_ns) {
  Random r(20241128);
  pb_collector::ExportTraceServiceRequest request;
  auto* rs = request.add_resource_spans();
  Attr(rs->mutable_resource()->mutable_attributes(), "service.name", "otel-bench");
  Attr(rs->mutable_resource()->mutable_attributes(), "deployment.environment", "production");
  Attr(rs->mutable_resource()->mutable_attributes(), "service.version", "2024.11.3");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("bench.genai.instrumentation");
  ss->mutable_scope()->set_version("1.0.0");
  for (int k = 0; k < spans / 4; ++k) AgentRun(r, k, now_ns, ss);
  return request.SerializeAsString();
}

}  // namespace

int main(int argc, char** argv) {
  langfuse::TuneMalloc();  // allocate as the server does
  int spans = 100;
  int rounds = 200;
  bool dump = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dump") {
      dump = true;
    } else if ((arg == "--spans" || arg == "--rounds") && i + 1 < argc) {
      (arg == "--spans" ? spans : rounds) = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: otel_map_bench [--spans N] [--rounds N] [--dump]\n");
      return 2;
    }
  }
  if (spans % 4 != 0) {
    std::fprintf(stderr, "otel_map_bench: --spans must be a multiple of 4\n");
    return 2;
  }

  using namespace langfuse;
  // Fixed times, so --dump prints the same events on every run (apart from the envelope ids).
  const int64_t now_ms = 1732780800000;  // 2024-11-28T08:00:00Z
  const std::string body = BuildRequest(spans, static_cast<uint64_t>(now_ms) * 1'000'000);
  {
    auto decoded = otel::DecodeProtobufRequest(body);
    if (!decoded.ok()) {
      std::fprintf(stderr, "otel_map_bench: the request did not decode\n");
      return 1;
    }
    const otel::MappedSpans mapped = otel::MapToIngestionEvents(*decoded, now_ms);
    if (mapped.accepted_spans != spans || mapped.rejected_spans != 0) {
      std::fprintf(stderr, "otel_map_bench: %lld of %d spans accepted (%s)\n",
                   static_cast<long long>(mapped.accepted_spans), spans, mapped.error_message.c_str());
      return 1;
    }
    if (dump) {
      for (const auto& e : mapped.events) std::printf("%s\n", e.c_str());
      return 0;
    }
  }

  std::vector<double> decode, map, encode, total;
  size_t event_count = 0;
  size_t event_bytes = 0;
  for (int pass = 0; pass < 5; ++pass) {
    double d = 0, m = 0, e = 0;
    for (int r = 0; r < rounds; ++r) {
      const auto t0 = Clock::now();
      auto decoded = otel::DecodeProtobufRequest(body);
      const auto t1 = Clock::now();
      otel::MappedSpans mapped = otel::MapToIngestionEvents(*decoded, now_ms);
      const auto t2 = Clock::now();
      const std::string payload =
          ingest::EncodeQueuePayload("project", ingest::IngestionSource{}, now_ms, mapped.events);
      const auto t3 = Clock::now();
      if (mapped.accepted_spans != spans || payload.empty()) {
        std::fprintf(stderr, "otel_map_bench: a request did not map completely\n");
        return 1;
      }
      event_count = mapped.events.size();
      event_bytes = 0;
      for (const auto& ev : mapped.events) event_bytes += ev.size();
      d += std::chrono::duration<double>(t1 - t0).count();
      m += std::chrono::duration<double>(t2 - t1).count();
      e += std::chrono::duration<double>(t3 - t2).count();
    }
    const double per = 1e6 / (static_cast<double>(spans) * rounds);
    decode.push_back(d * per);
    map.push_back(m * per);
    encode.push_back(e * per);
    total.push_back((d + m + e) * per);
  }
  std::printf(
      "OTLP export, %d spans (%zu B protobuf, %zu events, %.0f B of event JSON per span), median of 5 x %d "
      "requests:\n",
      spans, body.size(), event_count, static_cast<double>(event_bytes) / spans, rounds);
  std::printf(
      "  decode protobuf %.2f us/span, map to events (with validation) %.2f us/span, encode queue payload "
      "%.2f us/span; total %.2f us/span\n",
      Median(decode), Median(map), Median(encode), Median(total));
  std::printf(
      "{\"bench\":\"otel_map\",\"spans_per_request\":%d,\"decode_us\":%.3f,\"map_us\":%.3f,\"encode_us\":%."
      "3f,"
      "\"total_us\":%.3f}\n",
      spans, Median(decode), Median(map), Median(encode), Median(total));
  return 0;
}
