// Decoding of OTLP requests: protobuf (built with the generated classes), OTLP/JSON, gzip.
#include <zlib.h>

#include <gtest/gtest.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "otel/otlp.h"

namespace langfuse::otel {
namespace {

namespace pb = opentelemetry::proto;

std::string Gzip(std::string_view data) {
  z_stream s{};
  EXPECT_EQ(deflateInit2(&s, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&s, data.size()) + 64, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

pb::collector::trace::v1::ExportTraceServiceRequest SampleRequest() {
  pb::collector::trace::v1::ExportTraceServiceRequest request;
  auto* rs = request.add_resource_spans();
  auto* ra = rs->mutable_resource()->add_attributes();
  ra->set_key("service.name");
  ra->mutable_value()->set_string_value("svc");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("langfuse-sdk");
  ss->mutable_scope()->set_version("3.2.0");
  auto* span = ss->add_spans();
  span->set_trace_id(std::string("\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19", 16));
  span->set_span_id(std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  span->set_name("root");
  span->set_start_time_unix_nano(1700000000123456789ULL);
  span->set_end_time_unix_nano(1700000001000000000ULL);
  auto add = [&](const std::string& key) {
    auto* kv = span->add_attributes();
    kv->set_key(key);
    return kv->mutable_value();
  };
  add("s")->set_string_value("text");
  add("i")->set_int_value(9007199254740993LL);
  add("d")->set_double_value(0.25);
  add("nan")->set_double_value(std::nan(""));
  add("b")->set_bool_value(true);
  auto* arr = add("arr")->mutable_array_value();
  arr->add_values()->set_string_value("x");
  arr->add_values()->set_int_value(2);
  auto* kvl = add("kv")->mutable_kvlist_value()->add_values();
  kvl->set_key("k");
  kvl->mutable_value()->set_string_value("v");
  add("bytes")->set_bytes_value("hi");
  auto* ev = span->add_events();
  ev->set_name("gen_ai.user.message");
  ev->set_time_unix_nano(5);
  auto* eva = ev->add_attributes();
  eva->set_key("content");
  eva->mutable_value()->set_string_value("hello");
  span->mutable_status()->set_code(pb::trace::v1::Status::STATUS_CODE_ERROR);
  span->mutable_status()->set_message("boom");
  return request;
}

TEST(OtlpProtobuf, DecodesEveryValueKind) {
  auto decoded = DecodeProtobufRequest(SampleRequest().SerializeAsString());
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  ASSERT_EQ(decoded->SpanCount(), 1u);
  const auto& rs = decoded->resource_spans[0];
  EXPECT_EQ(rs.resource_attributes["service.name"], "svc");
  EXPECT_EQ(rs.scope_spans[0].scope.name, "langfuse-sdk");
  EXPECT_EQ(rs.scope_spans[0].scope.version, "3.2.0");
  const Span& span = rs.scope_spans[0].spans[0];
  EXPECT_EQ(span.trace_id, "0a0b0c0d0e0f10111213141516171819");
  EXPECT_EQ(span.span_id, "0102030405060708");
  EXPECT_EQ(span.parent_span_id, "");
  EXPECT_EQ(*span.start_time_unix_nano, 1700000000123456789ULL);
  EXPECT_EQ(span.attributes["s"], "text");
  EXPECT_EQ(span.attributes["i"].get<int64_t>(), 9007199254740993LL);
  EXPECT_EQ(span.attributes["d"], 0.25);
  EXPECT_EQ(span.attributes["nan"], "NaN");
  EXPECT_EQ(span.attributes["b"], true);
  EXPECT_EQ(span.attributes["arr"], nlohmann::json::parse(R"(["x",2])"));
  EXPECT_EQ(span.attributes["kv"], R"({"kvlistValue":{"values":[{"key":"k","value":{"stringValue":"v"}}]}})");
  EXPECT_EQ(span.attributes["bytes"], R"({"bytesValue":"aGk="})");
  ASSERT_EQ(span.events.size(), 1u);
  EXPECT_EQ(span.events[0].name, "gen_ai.user.message");
  EXPECT_EQ(span.events[0].attributes["content"], "hello");
  EXPECT_EQ(span.status_code, 2);
  EXPECT_EQ(span.status_message, "boom");
}

TEST(OtlpDecode, ARepeatedAttributeKeyKeepsItsLastValueInBothEncodings) {
  // An exporter may send a key twice; Langfuse builds a plain object, so the last value wins.
  auto request = SampleRequest();
  auto* span = request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0);
  auto* again = span->add_attributes();
  again->set_key("s");
  again->mutable_value()->set_string_value("second");
  auto decoded = DecodeProtobufRequest(request.SerializeAsString());
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  const Attributes& attributes = decoded->resource_spans[0].scope_spans[0].spans[0].attributes;
  EXPECT_EQ(attributes["s"], "second");
  EXPECT_EQ(attributes.size(), 8u) << "one entry per key";

  const std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0a0b0c0d0e0f10111213141516171819",
      "spanId":"0102030405060708","name":"s","attributes":[{"key":"k","value":{"stringValue":"first"}},
      {"key":"other","value":{"intValue":"1"}},{"key":"k","value":{"stringValue":"last"}}]}]}]}]})";
  auto json_decoded = DecodeJsonRequest(body);
  ASSERT_TRUE(json_decoded.ok()) << json_decoded.status().message();
  const Attributes& json_attributes = json_decoded->resource_spans[0].scope_spans[0].spans[0].attributes;
  EXPECT_EQ(json_attributes["k"], "last");
  EXPECT_EQ(json_attributes["other"], 1);
  EXPECT_EQ(json_attributes.size(), 2u);
}

TEST(OtlpProtobuf, TruncatedBytesAreRejected) {
  const std::string bytes = SampleRequest().SerializeAsString();
  for (size_t cut : {bytes.size() - 1, bytes.size() / 2, size_t{3}}) {
    auto decoded = DecodeProtobufRequest(std::string_view(bytes).substr(0, cut));
    EXPECT_FALSE(decoded.ok()) << "cut at " << cut;
  }
  EXPECT_FALSE(DecodeProtobufRequest("\xff\xff\xff\xff\xff").ok());
  auto empty = DecodeProtobufRequest("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->SpanCount(), 0u);
}

TEST(OtlpProtobuf, ResponseCarriesPartialSuccess) {
  pb::collector::trace::v1::ExportTraceServiceResponse response;
  ASSERT_TRUE(response.ParseFromString(EncodeProtobufResponse(0, "")));
  EXPECT_FALSE(response.has_partial_success());
  ASSERT_TRUE(response.ParseFromString(EncodeProtobufResponse(2, "bad ids")));
  EXPECT_EQ(response.partial_success().rejected_spans(), 2);
  EXPECT_EQ(response.partial_success().error_message(), "bad ids");
  EXPECT_EQ(EncodeJsonResponse(0, ""), "{}");
  EXPECT_EQ(nlohmann::json::parse(EncodeJsonResponse(3, "x"))["partialSuccess"]["rejectedSpans"], "3");
}

TEST(OtlpJson, DecodesHexIdsInt64StringsAndValueForms) {
  const std::string body = R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.version","value":{"stringValue":"1.2"}}]},
    "scopeSpans":[{"scope":{"name":"ai","version":"4"},"spans":[{
      "traceId":"0A0B0C0D0E0F10111213141516171819","spanId":"0102030405060708","parentSpanId":"",
      "name":"s","startTimeUnixNano":"1700000000123456789","endTimeUnixNano":1700000001000000000,
      "attributes":[{"key":"i","value":{"intValue":"42"}},{"key":"n","value":{"intValue":7}},
        {"key":"d","value":{"doubleValue":1.5}},{"key":"inf","value":{"doubleValue":"Infinity"}},
        {"key":"b","value":{"boolValue":false}},{"key":"a","value":{"arrayValue":{"values":[{"stringValue":"x"}]}}},
        {"key":"kv","value":{"kvlistValue":{"values":[]}}},{"key":"empty","value":{}}],
      "events":[{"name":"e","timeUnixNano":"12","attributes":[{"key":"k","value":{"stringValue":"v"}}]}],
      "status":{"code":2,"message":"bad"}}]}]}]})";
  auto decoded = DecodeJsonRequest(body);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  const Span& span = decoded->resource_spans[0].scope_spans[0].spans[0];
  EXPECT_EQ(span.trace_id, "0a0b0c0d0e0f10111213141516171819");
  EXPECT_EQ(span.span_id, "0102030405060708");
  EXPECT_EQ(*span.start_time_unix_nano, 1700000000123456789ULL);
  EXPECT_EQ(*span.end_time_unix_nano, 1700000001000000000ULL);
  EXPECT_EQ(span.attributes["i"], 42);
  EXPECT_EQ(span.attributes["n"], 7);
  EXPECT_EQ(span.attributes["d"], 1.5);
  EXPECT_EQ(span.attributes["inf"], "Infinity");
  EXPECT_EQ(span.attributes["b"], false);
  EXPECT_EQ(span.attributes["a"], nlohmann::json::parse(R"(["x"])"));
  EXPECT_EQ(span.attributes["kv"], R"({"kvlistValue":{"values":[]}})");
  EXPECT_EQ(span.attributes["empty"], "{}");
  EXPECT_EQ(span.events[0].time_unix_nano, 12u);
  EXPECT_EQ(span.status_code, 2);
  EXPECT_EQ(decoded->resource_spans[0].resource_attributes["service.version"], "1.2");
}

TEST(OtlpJson, Base64IdsAndSnakeCaseAreAccepted) {
  const std::string body = R"({"resource_spans":[{"scope_spans":[{"spans":[{
      "trace_id":"CgsMDQ4PEBESExQVFhcYGQ==","span_id":"AQIDBAUGBwg=","name":"s"}]}]}]})";
  auto decoded = DecodeJsonRequest(body);
  ASSERT_TRUE(decoded.ok());
  const Span& span = decoded->resource_spans[0].scope_spans[0].spans[0];
  EXPECT_EQ(span.trace_id, "0a0b0c0d0e0f10111213141516171819");
  EXPECT_EQ(span.span_id, "0102030405060708");
  EXPECT_TRUE(span.id_error.empty());
}

TEST(OtlpJson, BadInput) {
  EXPECT_FALSE(DecodeJsonRequest("{not json").ok());
  EXPECT_FALSE(DecodeJsonRequest("[]").ok());
  EXPECT_FALSE(DecodeJsonRequest(R"({"resourceSpans":5})").ok());
  auto empty = DecodeJsonRequest(R"({"resourceSpans":[]})");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->SpanCount(), 0u);
  auto bad_id = DecodeJsonRequest(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz!","spanId":"01"}]}]}]})");
  ASSERT_TRUE(bad_id.ok());
  EXPECT_FALSE(bad_id->resource_spans[0].scope_spans[0].spans[0].id_error.empty());
}

TEST(Gunzip, RoundTripAndCorruption) {
  const std::string text(100000, 'a');
  auto inflated = Gunzip(Gzip(text));
  ASSERT_TRUE(inflated.ok()) << inflated.status().message();
  EXPECT_EQ(*inflated, text);
  const std::string gz = Gzip("hello world");
  auto truncated = Gunzip(std::string_view(gz).substr(0, gz.size() - 6));
  EXPECT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Gunzip("not gzip at all").ok());
  // Exactly at the cap is fine.
  auto exact = Gunzip(Gzip(std::string(1000, 'x')), 1000);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->size(), 1000u);
}

TEST(Gunzip, BombIsStoppedAtTheCap) {
  const std::string bomb = Gzip(std::string(64u << 20, '\0'));  // 64 MiB of zeros, ~64 KiB compressed
  ASSERT_LT(bomb.size(), 200u * 1024);
  auto inflated = Gunzip(bomb);
  ASSERT_FALSE(inflated.ok());
  EXPECT_EQ(inflated.status().code(), StatusCode::kPayloadTooLarge);
  auto small_cap = Gunzip(Gzip(std::string(1001, 'x')), 1000);
  EXPECT_EQ(small_cap.status().code(), StatusCode::kPayloadTooLarge);
}

}  // namespace
}  // namespace langfuse::otel
