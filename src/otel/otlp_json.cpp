// OTLP/JSON -> the in-memory request (simdjson). Follows the OTLP/JSON encoding: lowerCamelCase
// field names (snake_case accepted too, as protobuf's JSON mapping does), hex trace and span ids,
// 64-bit integers as decimal strings or numbers, enums as numbers or names.
#include <charconv>
#include <cmath>

#include <simdjson.h>

#include "common/json_text.h"
#include "ingest/batch.h"
#include "otel/otlp.h"

namespace langfuse::otel {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// A field by its lowerCamelCase name or its snake_case name.
bool Field(object o, std::string_view camel, std::string_view snake, element& out) {
  if (o.at_key(camel).get(out) == simdjson::SUCCESS && !out.is_null()) return true;
  return !snake.empty() && o.at_key(snake).get(out) == simdjson::SUCCESS && !out.is_null();
}

std::string_view StringOr(object o, std::string_view camel, std::string_view snake = {}) {
  element e;
  std::string_view s;
  if (Field(o, camel, snake, e) && e.get_string().get(s) == simdjson::SUCCESS) return s;
  return {};
}

bool ParseUint64(std::string_view s, uint64_t& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// A 64-bit integer as a decimal string, a number, or a Long-like {high, low}.
std::optional<uint64_t> ReadUint64(element e) {
  uint64_t u;
  int64_t i;
  double d;
  std::string_view s;
  object o;
  if (e.get_uint64().get(u) == simdjson::SUCCESS) return u;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return i < 0 ? std::nullopt : std::optional<uint64_t>(i);
  if (e.get_double().get(d) == simdjson::SUCCESS) {
    if (!(d >= 0 && d < 1.8e19)) return std::nullopt;
    return static_cast<uint64_t>(d);
  }
  if (e.get_string().get(s) == simdjson::SUCCESS) {
    if (ParseUint64(s, u)) return u;
    return std::nullopt;
  }
  if (e.get_object().get(o) == simdjson::SUCCESS) {
    int64_t high = 0;
    int64_t low = 0;
    if (o["high"].get_int64().get(high) != simdjson::SUCCESS || o["low"].get_int64().get(low) != simdjson::SUCCESS)
      return std::nullopt;
    return (static_cast<uint64_t>(static_cast<uint32_t>(high)) << 32) | static_cast<uint32_t>(low);
  }
  return std::nullopt;
}

std::optional<uint64_t> ReadTime(object o, std::string_view camel, std::string_view snake) {
  element e;
  if (!Field(o, camel, snake, e)) return std::nullopt;
  auto v = ReadUint64(e);
  if (v && *v == 0) return std::nullopt;
  return v;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int Base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// Ids are hex in OTLP/JSON; protobuf's generic JSON mapping writes bytes as base64, which some
// senders use, so a base64 id of the right byte length is accepted too.
bool ReadId(std::string_view text, size_t bytes, std::string& out) {
  out.clear();
  if (text.empty()) return true;
  if (text.size() == bytes * 2) {
    bool hex = true;
    for (char c : text) hex = hex && HexDigit(c) >= 0;
    if (hex) {
      for (char c : text) out += static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
      return true;
    }
  }
  std::string decoded;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const int d = Base64Digit(c);
    if (d < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      decoded += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (decoded.size() != bytes) return false;
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : decoded) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return true;
}

nlohmann::json ToPlain(element value);

Attributes ToAttributes(object parent) {
  element e;
  array kvs;
  if (!Field(parent, "attributes", "", e) || e.get_array().get(kvs) != simdjson::SUCCESS) return {};
  std::vector<Attributes::Entry> entries;
  entries.reserve(kvs.size());
  for (element kv : kvs) {
    object o;
    std::string_view key;
    if (kv.get_object().get(o) != simdjson::SUCCESS || o["key"].get_string().get(key) != simdjson::SUCCESS) continue;
    element value;
    if (o.at_key("value").get(value) != simdjson::SUCCESS || value.is_null()) {
      entries.emplace_back(std::string(key), "{}");
      continue;
    }
    entries.emplace_back(std::string(key), ToPlain(value));
  }
  return Attributes(std::move(entries));
}

// Langfuse's convertValueToPlainJavascript on an OTLP/JSON AnyValue.
nlohmann::json ToPlain(element value) {
  object o;
  if (value.get_object().get(o) != simdjson::SUCCESS) return simdjson::minify(value);
  element e;
  std::string_view s;
  if (Field(o, "stringValue", "string_value", e)) {
    if (e.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
    return simdjson::minify(e);
  }
  if (Field(o, "doubleValue", "double_value", e)) {
    double d;
    if (e.get_double().get(d) == simdjson::SUCCESS) return d;
    if (e.get_string().get(s) == simdjson::SUCCESS) {
      const std::string text(s);
      char* end = nullptr;
      const double parsed = std::strtod(text.c_str(), &end);
      if (!text.empty() && end == text.c_str() + text.size() && std::isfinite(parsed)) return parsed;
      return text;
    }
  }
  if (Field(o, "boolValue", "bool_value", e)) {
    bool b;
    if (e.get_bool().get(b) == simdjson::SUCCESS) return b;
  }
  if (Field(o, "arrayValue", "array_value", e)) {
    object av;
    element values;
    array arr;
    if (e.get_object().get(av) == simdjson::SUCCESS && av.at_key("values").get(values) == simdjson::SUCCESS &&
        values.get_array().get(arr) == simdjson::SUCCESS) {
      nlohmann::json out = nlohmann::json::array();
      for (element v : arr) out.push_back(ToPlain(v));
      return out;
    }
  }
  if (Field(o, "intValue", "int_value", e)) {
    int64_t i;
    uint64_t u;
    double d;
    if (e.get_int64().get(i) == simdjson::SUCCESS) return i;
    if (e.get_uint64().get(u) == simdjson::SUCCESS) return u;
    if (e.get_double().get(d) == simdjson::SUCCESS) return d;
    if (e.get_string().get(s) == simdjson::SUCCESS) {
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
      if (ec == std::errc() && end == s.data() + s.size()) return i;
    }
  }
  return simdjson::minify(value);
}

int32_t ReadStatusCode(element e) {
  int64_t code;
  std::string_view s;
  if (e.get_int64().get(code) == simdjson::SUCCESS) return static_cast<int32_t>(code);
  if (e.get_string().get(s) == simdjson::SUCCESS) {
    if (s == "STATUS_CODE_OK") return 1;
    if (s == "STATUS_CODE_ERROR") return 2;
  }
  return 0;
}

Span ReadSpan(object s) {
  Span span;
  std::string bad;
  if (!ReadId(StringOr(s, "traceId", "trace_id"), 16, span.trace_id)) bad = "traceId";
  if (!ReadId(StringOr(s, "spanId", "span_id"), 8, span.span_id)) bad = "spanId";
  if (!ReadId(StringOr(s, "parentSpanId", "parent_span_id"), 8, span.parent_span_id)) bad = "parentSpanId";
  if (!bad.empty()) span.id_error = "invalid " + bad + ": expected hex";
  span.name = std::string(StringOr(s, "name"));
  span.start_time_unix_nano = ReadTime(s, "startTimeUnixNano", "start_time_unix_nano");
  span.end_time_unix_nano = ReadTime(s, "endTimeUnixNano", "end_time_unix_nano");
  span.attributes = ToAttributes(s);
  element e;
  array events;
  if (Field(s, "events", "", e) && e.get_array().get(events) == simdjson::SUCCESS) {
    for (element ev : events) {
      object eo;
      if (ev.get_object().get(eo) != simdjson::SUCCESS) continue;
      SpanEvent event;
      event.name = std::string(StringOr(eo, "name"));
      event.time_unix_nano = ReadTime(eo, "timeUnixNano", "time_unix_nano").value_or(0);
      event.attributes = ToAttributes(eo);
      span.events.push_back(std::move(event));
    }
  }
  object status;
  if (Field(s, "status", "", e) && e.get_object().get(status) == simdjson::SUCCESS) {
    element code;
    if (Field(status, "code", "", code)) span.status_code = ReadStatusCode(code);
    span.status_message = std::string(StringOr(status, "message"));
  }
  return span;
}

}  // namespace

size_t ExportRequest::SpanCount() const {
  size_t n = 0;
  for (const auto& rs : resource_spans) {
    for (const auto& ss : rs.scope_spans) n += ss.spans.size();
  }
  return n;
}

StatusOr<ExportRequest> DecodeJsonRequest(std::string_view json) {
  ingest::RequestParser parser;
  element root;
  object top;
  if (parser.get().parse(json.data(), json.size()).get(root) != simdjson::SUCCESS ||
      root.get_object().get(top) != simdjson::SUCCESS) {
    return Status::InvalidArgument("Failed to parse OTel JSON Trace");
  }
  ExportRequest out;
  element e;
  array resource_spans;
  if (!Field(top, "resourceSpans", "resource_spans", e)) return out;
  if (e.get_array().get(resource_spans) != simdjson::SUCCESS) {
    return Status::InvalidArgument("Failed to parse OTel JSON Trace: resourceSpans is not an array");
  }
  for (element rs_element : resource_spans) {
    object rs;
    if (rs_element.get_object().get(rs) != simdjson::SUCCESS) continue;
    ResourceSpans& resource = out.resource_spans.emplace_back();
    object res;
    if (Field(rs, "resource", "", e) && e.get_object().get(res) == simdjson::SUCCESS) {
      resource.resource_attributes = ToAttributes(res);
    }
    array scope_spans;
    if (!Field(rs, "scopeSpans", "scope_spans", e) || e.get_array().get(scope_spans) != simdjson::SUCCESS) continue;
    for (element ss_element : scope_spans) {
      object ss;
      if (ss_element.get_object().get(ss) != simdjson::SUCCESS) continue;
      ScopeSpans& scope = resource.scope_spans.emplace_back();
      object sc;
      if (Field(ss, "scope", "", e) && e.get_object().get(sc) == simdjson::SUCCESS) {
        scope.scope.name = std::string(StringOr(sc, "name"));
        scope.scope.version = std::string(StringOr(sc, "version"));
        scope.scope.attributes = ToAttributes(sc);
      }
      array spans;
      if (!Field(ss, "spans", "", e) || e.get_array().get(spans) != simdjson::SUCCESS) continue;
      for (element span_element : spans) {
        object s;
        if (span_element.get_object().get(s) != simdjson::SUCCESS) {
          // Kept so the mapping counts it as a rejected span.
          Span invalid;
          invalid.id_error = "span is not an object";
          scope.spans.push_back(std::move(invalid));
          continue;
        }
        scope.spans.push_back(ReadSpan(s));
      }
    }
  }
  return out;
}

std::string EncodeJsonResponse(int64_t rejected_spans, const std::string& error_message) {
  if (rejected_spans <= 0 && error_message.empty()) return "{}";
  std::string out = "{\"partialSuccess\":{\"rejectedSpans\":\"" + std::to_string(rejected_spans) +
                    "\",\"errorMessage\":";
  AppendJsonString(out, error_message);
  out += "}}";
  return out;
}

}  // namespace langfuse::otel
