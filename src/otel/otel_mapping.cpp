// The mapping of OTLP spans to ingestion events. Each function mirrors one extractor of Langfuse's
// OtelIngestionProcessor (packages/shared/src/server/otel), with JavaScript's truthiness rules
// spelled out where the order of precedence depends on them.
#include "otel/otel_mapping.h"

#include <cassert>
#include <cmath>
#include <set>

#include <simdjson.h>

#include "common/ids.h"
#include "common/time.h"
#include "ingest/event.h"
#include "otel/json_writer.h"

namespace langfuse::otel {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxReportedErrors = 5;
constexpr size_t kMaxNestedIndex = 10000;
// JSON text in an attribute that nests deeper than this stays a string: nlohmann's dump and copy
// recurse once per level (a few MB of `[` would overflow the stack), and the mapped events are
// parsed again by simdjson, which stops at 1024 levels.
constexpr size_t kMaxJsonTextDepth = 512;
// JavaScript's Date covers +-8.64e15 ms; beyond it toISOString throws and Langfuse drops the value.
constexpr double kMaxJsDateMs = 8.64e15;

// An attribute's value, or nullptr.
const json* Get(const Attributes& a, std::string_view key) { return a.Find(key); }

// A member of a JSON object parsed from an attribute's text; a string_view key is looked up
// without building a std::string for it.
const json* Get(const json& object, std::string_view key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// JavaScript truthiness of an attribute value (absent counts as undefined).
bool Truthy(const json* v) {
  if (v == nullptr || v->is_null()) return false;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_number_float()) return v->get<double>() != 0 && !std::isnan(v->get<double>());
  if (v->is_number()) return v->get<int64_t>() != 0;
  if (v->is_string()) return !v->get_ref<const std::string&>().empty();
  return true;
}

// Langfuse's hasMeaningfulValue: not null, "", [] or {}.
bool Meaningful(const json* v) {
  if (v == nullptr || v->is_null()) return false;
  if (v->is_string()) return !v->get_ref<const std::string&>().empty();
  if (v->is_array() || v->is_object()) return !v->empty();
  return true;
}

std::string Dump(const json& v) { return DumpJson(v); }

// A string verbatim, anything else as JSON text (JavaScript's `typeof x === "string" ? x :
// JSON.stringify(x)`).
std::string JsString(const json& v) { return v.is_string() ? v.get<std::string>() : Dump(v); }

// JavaScript's String(x) for the values attributes hold.
std::string JsToString(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0) out += ',';
      out += JsToString(v[i]);
    }
    return out;
  }
  return Dump(v);
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Whether the arrays and objects of `text` nest at most `limit` levels (string contents are
// skipped; the text need not be valid JSON).
bool JsonDepthWithin(std::string_view text, size_t limit) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

std::optional<json> ParseJson(const json& v) {
  if (!v.is_string() || !JsonDepthWithin(v.get_ref<const std::string&>(), kMaxJsonTextDepth)) return std::nullopt;
  json parsed = json::parse(v.get_ref<const std::string&>(), nullptr, false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

// A number from a number or a numeric string (JavaScript's Number(x), NaN -> nullopt).
std::optional<double> ToNumber(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  if (s.empty()) return 0.0;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || std::isnan(d)) return std::nullopt;
  return d;
}

// ---------------------------------------------------------------------------------------------
// environment, name, metadata, user, session, tags

std::string ExtractEnvironment(const Attributes& a, const Attributes& resource) {
  for (const char* key : {"langfuse.environment", "deployment.environment.name", "deployment.environment"}) {
    if (const json* v = Get(a, key); Truthy(v)) return JsString(*v);
    if (const json* v = Get(resource, key); Truthy(v)) return JsString(*v);
  }
  return "default";
}

std::string ExtractName(const std::string& span_name, const Attributes& a) {
  if (const json* v = Get(a, "gen_ai.tool.name"); Truthy(v)) return JsString(*v);
  if (const json* v = Get(a, "genkit:name")) return JsString(*v);
  if (const json* v = Get(a, "logfire.msg"); Truthy(v)) return JsString(*v);
  if (const json* v = Get(a, "ai.toolCall.name")) return JsString(*v);
  if (const json* op = Get(a, "ai.operationId")) {
    const json* function_id = Get(a, "ai.telemetry.functionId");
    return (Truthy(function_id) ? JsToString(*function_id) + ":" : std::string()) + JsToString(*op);
  }
  return span_name;
}

// A metadata attribute: a JSON object text or an object; anything else is dropped.
json ParseMetadataAttribute(const json* v) {
  if (v == nullptr || v->is_null()) return json::object();
  if (v->is_object()) return *v;
  if (auto parsed = ParseJson(*v); parsed && parsed->is_object()) return std::move(*parsed);
  return json::object();
}

json ExtractMetadata(const Attributes& a, bool observation) {
  const std::string_view prefix = observation ? "langfuse.observation.metadata" : "langfuse.trace.metadata";
  const json* primary = Get(a, prefix);
  json out = ParseMetadataAttribute(Truthy(primary) ? primary : Get(a, "langfuse.metadata"));
  static const std::set<std::string, std::less<>> kExcluded = {
      "ai.telemetry.metadata.userId", "ai.telemetry.metadata.sessionId", "ai.telemetry.metadata.tags",
      "ai.telemetry.metadata.langfusePrompt"};
  for (const auto& [key, value] : a.items()) {
    for (const std::string_view p :
         {prefix, std::string_view("langfuse.metadata"), std::string_view("ai.telemetry.metadata")}) {
      if (key.size() <= p.size() + 1 || !StartsWith(key, p) || key[p.size()] != '.' || kExcluded.count(key)) continue;
      out[key.substr(p.size() + 1)] = value;
    }
  }
  return out;
}

std::optional<std::string> FirstTruthyString(const Attributes& a, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (const json* v = Get(a, key); Truthy(v)) return JsString(*v);
  }
  return std::nullopt;
}

std::optional<std::string> ExtractUserId(const Attributes& a) {
  return FirstTruthyString(a, {"langfuse.user.id", "user.id", "langfuse.observation.metadata.langfuse_user_id",
                               "langfuse.trace.metadata.langfuse_user_id", "ai.telemetry.metadata.userId"});
}

std::optional<std::string> ExtractSessionId(const Attributes& a) {
  return FirstTruthyString(a, {"langfuse.session.id", "session.id", "gen_ai.conversation.id",
                               "langfuse.observation.metadata.langfuse_session_id",
                               "langfuse.trace.metadata.langfuse_session_id", "ai.telemetry.metadata.sessionId"});
}

std::optional<bool> ExtractPublic(const Attributes& a) {
  const json* v = Get(a, "langfuse.trace.public");
  if (v == nullptr) v = Get(a, "langfuse.public");
  if (v == nullptr || v->is_null()) return std::nullopt;
  return (v->is_boolean() && v->get<bool>()) || (v->is_string() && v->get<std::string>() == "true");
}

std::vector<std::string> ExtractTags(const Attributes& a) {
  const json* tags = nullptr;
  for (const char* key : {"langfuse.trace.tags", "langfuse.tags", "langfuse.observation.metadata.langfuse_tags",
                          "langfuse.trace.metadata.langfuse_tags", "ai.telemetry.metadata.tags", "tag.tags"}) {
    if (const json* v = Get(a, key); Truthy(v)) {
      tags = v;
      break;
    }
  }
  std::vector<std::string> out;
  if (tags == nullptr) return out;
  auto from_array = [&](const json& arr) {
    for (const auto& t : arr) out.push_back(JsToString(t));
  };
  if (tags->is_array()) {
    from_array(*tags);
    return out;
  }
  if (!tags->is_string()) return out;
  const std::string& s = tags->get_ref<const std::string&>();
  const size_t first = s.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && s[first] == '[') {
    if (auto parsed = ParseJson(*tags); parsed && parsed->is_array()) {
      from_array(*parsed);
      return out;
    }
  }
  if (s.find(',') != std::string::npos) {
    size_t start = 0;
    for (;;) {
      const size_t comma = s.find(',', start);
      std::string tag = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      const size_t b = tag.find_first_not_of(" \t\r\n");
      const size_t e = tag.find_last_not_of(" \t\r\n");
      out.push_back(b == std::string::npos ? std::string() : tag.substr(b, e - b + 1));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return out;
  }
  out.push_back(s);
  return out;
}

bool HasTraceUpdates(const Attributes& a) {
  for (const char* key :
       {"langfuse.trace.name", "langfuse.trace.input", "langfuse.trace.output", "langfuse.trace.metadata", "user.id",
        "session.id", "langfuse.trace.public", "langfuse.trace.tags", "langfuse.user.id", "langfuse.session.id",
        "langfuse.observation.metadata.langfuse_user_id", "langfuse.observation.metadata.langfuse_session_id",
        "langfuse.observation.metadata.langfuse_tags", "langfuse.trace.metadata.langfuse_session_id",
        "langfuse.trace.metadata.langfuse_user_id", "langfuse.trace.metadata.langfuse_tags",
        "ai.telemetry.metadata.sessionId", "ai.telemetry.metadata.userId", "ai.telemetry.metadata.tags", "tag.tags"}) {
    if (Truthy(Get(a, key))) return true;
  }
  for (const auto& [key, value] : a.items()) {
    if (StartsWith(key, "langfuse.trace.metadata")) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// input and output

struct InputOutput {
  json input;  // null: none
  json output;
};

json ValueOrNull(const json* v) { return v == nullptr ? json() : *v; }

// Key order matters here (the result may be stored as text), so ordered JSON is used.
json PrependSystemInstructions(const json& input, const json& system) {
  using ordered = nlohmann::ordered_json;
  ordered messages;
  if (input.is_string()) {
    if (!JsonDepthWithin(input.get_ref<const std::string&>(), kMaxJsonTextDepth)) return input;
    messages = ordered::parse(input.get_ref<const std::string&>(), nullptr, false);
    if (messages.is_discarded()) return input;
  } else {
    messages = ordered::parse(Dump(input), nullptr, false);
  }
  if (!messages.is_array()) return input;
  for (const auto& m : messages) {
    if (m.is_object() && m.contains("role") && m["role"] == "system") return input;
  }
  std::string content;
  json parsed_system = system;
  if (system.is_string()) {
    auto parsed = ParseJson(system);
    parsed_system = parsed ? *parsed : system;
  }
  if (parsed_system.is_array()) {
    for (size_t i = 0; i < parsed_system.size(); ++i) {
      if (i > 0) content += '\n';
      const json& p = parsed_system[i];
      const json* c = p.is_object() ? Get(p, "content") : nullptr;
      content += Truthy(c) ? JsToString(*c) : (p.is_object() ? "[object Object]" : JsToString(p));
    }
  } else {
    content = parsed_system.is_object() ? "[object Object]" : JsToString(parsed_system);
  }
  ordered merged = ordered::array();
  merged.push_back(ordered{{"role", "system"}, {"content", content}});
  for (const auto& m : messages) merged.push_back(m);
  const std::string text = merged.dump(-1, ' ', false, json::error_handler_t::replace);
  return input.is_string() ? json(text) : json::parse(text);
}

std::optional<InputOutput> GenAiInputOutput(const Attributes& a) {
  json input = ValueOrNull(Get(a, "gen_ai.input.messages"));
  json output = ValueOrNull(Get(a, "gen_ai.output.messages"));
  if (Truthy(&input) && Truthy(Get(a, "gen_ai.system_instructions"))) {
    input = PrependSystemInstructions(input, *Get(a, "gen_ai.system_instructions"));
  }
  if (Truthy(&input) || Truthy(&output)) return InputOutput{std::move(input), std::move(output)};
  input = ValueOrNull(Get(a, "gen_ai.tool.call.arguments"));
  output = ValueOrNull(Get(a, "gen_ai.tool.call.result"));
  if (Truthy(&input) || Truthy(&output)) return InputOutput{std::move(input), std::move(output)};
  return std::nullopt;
}

// `slots_left` bounds the array elements the whole conversion may create: dense indexes (what
// instrumentations send) never need more elements than there are keys, while sparse ones such as
// `.0.9999`, `.1.9999`, ... would otherwise pad ten thousand nulls per key.
bool SetNested(json& root, const std::vector<std::string>& path, const json& value, size_t& slots_left) {
  static const std::set<std::string> kDangerous = {"__proto__", "constructor", "prototype"};
  auto is_index = [](const std::string& s) {
    return !s.empty() && s.size() <= 5 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  json* current = &root;
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string& key = path[i];
    if (kDangerous.count(key)) return false;
    const bool last = i + 1 == path.size();
    json* next = nullptr;
    if (current->is_array()) {
      if (!is_index(key) || std::stoul(key) > kMaxNestedIndex) return false;
      const size_t index = std::stoul(key);
      if (current->size() <= index) {
        if (index + 1 - current->size() > slots_left) return false;
        slots_left -= index + 1 - current->size();
        while (current->size() <= index) current->push_back(nullptr);
      }
      next = &(*current)[index];
    } else if (current->is_object()) {
      next = &(*current)[key];
    } else {
      return false;  // a value where a container was expected; Langfuse fails here too
    }
    if (last) {
      *next = value;
    } else if (next->is_null()) {
      *next = is_index(path[i + 1]) ? json::array() : json::object();
    }
    current = next;
  }
  return true;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) return out;
    start = pos + 1;
  }
}

// Flattened keys `<prefix>.0.role`, `<prefix>.0.content`... as nested arrays/objects.
json KeyPathToNested(const Attributes& a, const std::string& prefix) {
  if (const json* v = Get(a, prefix); Truthy(v)) return *v;
  json result = json::object();
  bool use_array = false;
  std::vector<std::pair<std::string, const json*>> entries;
  for (const auto& [key, value] : a.items()) {
    if (key.size() <= prefix.size() + 1 || !StartsWith(key, prefix) || key[prefix.size()] != '.') continue;
    std::string rest = key.substr(prefix.size() + 1);
    const size_t dot = rest.find('.');
    if (dot != std::string::npos && dot > 0 && rest.substr(0, dot).find_first_not_of("0123456789") == std::string::npos)
      use_array = true;
    entries.emplace_back(std::move(rest), &value);
  }
  if (use_array) result = json::array();
  size_t slots_left = entries.size();
  for (const auto& [rest, value] : entries) SetNested(result, Split(rest, '.'), *value, slots_left);
  return result;
}

InputOutput ExtractInputOutput(const Span& span, const Attributes& a, const std::string& scope_name, bool trace_domain) {
  InputOutput io;
  // Langfuse SDKs
  const json* trace_input = Get(a, "langfuse.trace.input");
  const json* trace_output = Get(a, "langfuse.trace.output");
  io.input = ValueOrNull(trace_domain && Truthy(trace_input) ? trace_input : Get(a, "langfuse.observation.input"));
  io.output = ValueOrNull(trace_domain && Truthy(trace_output) ? trace_output : Get(a, "langfuse.observation.output"));
  if (!io.input.is_null() || !io.output.is_null()) return io;

  // Vercel AI SDK
  if (scope_name == "ai") {
    for (const char* key : {"ai.prompt.messages", "ai.prompt", "ai.toolCall.args"}) {
      if (const json* v = Get(a, key)) {
        io.input = *v;
        break;
      }
    }
    const json* text = Get(a, "ai.response.text");
    const json* tool_calls = Get(a, "ai.response.toolCalls");
    if (text && tool_calls) {
      io.output = nlohmann::ordered_json{{"role", "assistant"}, {"content", *text}, {"tool_calls", *tool_calls}}.dump(
          -1, ' ', false, json::error_handler_t::replace);
    } else if (Truthy(text)) {
      io.output = *text;
    } else {
      for (const char* key : {"ai.result.text", "ai.toolCall.result", "ai.response.object", "ai.result.object",
                              "ai.response.toolCalls", "ai.result.toolCalls"}) {
        if (const json* v = Get(a, key)) {
          io.output = *v;
          break;
        }
      }
    }
    if (auto gen_ai = GenAiInputOutput(a)) {
      if (io.input.is_null()) io.input = gen_ai->input;
      if (io.output.is_null()) io.output = gen_ai->output;
    }
    return io;
  }

  // GenAI semantic conventions >= 1.37: an operation-details span event
  for (const auto& event : span.events) {
    if (event.name != "gen_ai.client.inference.operation.details") continue;
    if (auto gen_ai = GenAiInputOutput(event.attributes)) return std::move(*gen_ai);
  }

  // GenAI message events
  json inputs = json::array();
  json outputs = json::array();
  for (const auto& event : span.events) {
    if (event.name == "gen_ai.system.message" || event.name == "gen_ai.user.message" ||
        event.name == "gen_ai.assistant.message" || event.name == "gen_ai.tool.message") {
      json message = json::object();
      message["role"] = event.name.substr(7, event.name.size() - 7 - 8);
      for (const auto& [k, v] : event.attributes.items()) message[k] = v;
      inputs.push_back(std::move(message));
    } else if (event.name == "gen_ai.choice") {
      outputs.push_back(event.attributes.ToJson());
    }
  }
  if (!inputs.empty() || !outputs.empty()) {
    io.input = inputs.empty() ? json() : inputs;
    io.output = outputs.empty() ? json() : outputs.size() == 1 ? outputs[0] : outputs;
    return io;
  }

  // Legacy Semantic Kernel events
  const SpanEvent* prompt_event = nullptr;
  const SpanEvent* completion_event = nullptr;
  for (const auto& event : span.events) {
    if (event.name == "gen_ai.content.prompt" && !prompt_event) prompt_event = &event;
    if (event.name == "gen_ai.content.completion" && !completion_event) completion_event = &event;
  }
  if (prompt_event || completion_event) {
    const Span no_events;
    const Attributes none;
    const Attributes& in = prompt_event ? prompt_event->attributes : none;
    const Attributes& out = completion_event ? completion_event->attributes : none;
    json nested_in = ExtractInputOutput(no_events, in, scope_name, false).input;
    json nested_out = ExtractInputOutput(no_events, out, scope_name, false).output;
    io.input = Truthy(&nested_in) ? nested_in : in.ToJson();
    io.output = Truthy(&nested_out) ? nested_out : out.ToJson();
    return io;
  }

  // Google Vertex AI ADK
  {
    json in = ValueOrNull(Get(a, "gcp.vertex.agent.llm_request"));
    json out = ValueOrNull(Get(a, "gcp.vertex.agent.llm_response"));
    if (!Truthy(&in) || in == "{}") in = ValueOrNull(Get(a, "gcp.vertex.agent.tool_call_args"));
    if (!Truthy(&out) || out == "{}") out = ValueOrNull(Get(a, "gcp.vertex.agent.tool_response"));
    if (Truthy(&in) || Truthy(&out)) return {std::move(in), std::move(out)};
  }

  auto pair_if_truthy = [&](const char* in_key, const char* out_key) -> std::optional<InputOutput> {
    const json* in = Get(a, in_key);
    const json* out = Get(a, out_key);
    if (Truthy(in) || Truthy(out)) return InputOutput{ValueOrNull(in), ValueOrNull(out)};
    return std::nullopt;
  };
  // Logfire
  if (auto r = pair_if_truthy("prompt", "all_messages_events")) return std::move(*r);
  // LiveKit
  {
    const json* in = Get(a, "lk.input_text");
    if (in == nullptr) in = Get(a, "lk.user_transcript");
    if (in == nullptr) in = Get(a, "lk.chat_ctx");
    const json* out = Get(a, "lk.function_tool.output");
    if (!Truthy(out)) out = Get(a, "lk.response.text");
    if (Truthy(in) || Truthy(out)) return {ValueOrNull(in), ValueOrNull(out)};
  }
  // Logfire: one `events` array of GenAI events
  if (const json* events_attr = Get(a, "events"); events_attr && (events_attr->is_string() || events_attr->is_array())) {
    json events = events_attr->is_array() ? *events_attr : ParseJson(*events_attr).value_or(json::array());
    if (events.is_array()) {
      json choice;
      json input_events = json::array();
      for (const auto& e : events) {
        const bool is_choice = e.is_object() && e.contains("event.name") && e["event.name"] == "gen_ai.choice";
        if (is_choice && choice.is_null()) choice = e;
        if (!is_choice) input_events.push_back(e);
      }
      if (!choice.is_null() || !input_events.empty()) {
        return {input_events.empty() ? json() : input_events, choice};
      }
    }
  }
  if (auto r = pair_if_truthy("mlflow.spanInputs", "mlflow.spanOutputs")) return std::move(*r);  // MLflow
  // OpenLLMetry
  if (auto r = pair_if_truthy("traceloop.entity.input", "traceloop.entity.output")) return std::move(*r);
  if (auto r = pair_if_truthy("input.value", "output.value")) return std::move(*r);  // OpenInference, SmolAgents
  if (auto r = pair_if_truthy("input", "output")) return std::move(*r);              // Pydantic, Pipecat
  if (scope_name == "pydantic-ai") {
    json in = ValueOrNull(Get(a, "pydantic_ai.all_messages"));
    json out = ValueOrNull(Get(a, "final_result"));
    if (Truthy(&in) && Truthy(Get(a, "gen_ai.system_instructions"))) {
      in = PrependSystemInstructions(in, *Get(a, "gen_ai.system_instructions"));
    }
    if (Truthy(&in) || Truthy(&out)) return {std::move(in), std::move(out)};
  }
  if (auto r = pair_if_truthy("tool_arguments", "tool_response")) return std::move(*r);  // Pydantic AI tools

  // OpenLLMetry's flattened gen_ai.prompt.N.* / gen_ai.completion.N.*
  bool has_prompt = false;
  bool has_completion = false;
  bool has_llm_in = false;
  bool has_llm_out = false;
  for (const auto& [key, value] : a.items()) {
    has_prompt = has_prompt || StartsWith(key, "gen_ai.prompt");
    has_completion = has_completion || StartsWith(key, "gen_ai.completion");
    has_llm_in = has_llm_in || StartsWith(key, "llm.input_messages");
    has_llm_out = has_llm_out || StartsWith(key, "llm.output_messages");
  }
  if (has_prompt || has_completion) {
    return {KeyPathToNested(a, "gen_ai.prompt"), KeyPathToNested(a, "gen_ai.completion")};
  }
  // OpenInference llm.input_messages.N.message.* / llm.output_messages.N.message.*
  if (has_llm_in || has_llm_out) {
    return {KeyPathToNested(a, "llm.input_messages"), KeyPathToNested(a, "llm.output_messages")};
  }
  if (auto gen_ai = GenAiInputOutput(a)) return std::move(*gen_ai);
  return io;
}

// The span attributes not used for input/output, as strings: kept in metadata.attributes. Written
// as the JSON object text (keys in the attributes' sorted order); `scratch` is reused for values
// that are not strings.
void WriteFilteredAttributes(std::string& out, const Attributes& a, std::string& scratch) {
  static const std::set<std::string, std::less<>> kInputOutputKeys = {
      "langfuse.trace.input", "langfuse.trace.output", "langfuse.observation.input", "langfuse.observation.output",
      "ai.prompt.messages", "ai.prompt", "ai.toolCall.args", "ai.response.text", "ai.result.text",
      "ai.toolCall.result", "ai.response.object", "ai.result.object", "ai.response.toolCalls", "ai.result.toolCalls",
      "gcp.vertex.agent.llm_request", "gcp.vertex.agent.llm_response", "gcp.vertex.agent.tool_call_args",
      "gcp.vertex.agent.tool_response", "prompt", "all_messages_events", "events", "lk.input_text",
      "lk.user_transcript", "lk.chat_ctx", "lk.user_input", "lk.function_tool.output", "lk.response.text",
      "mlflow.spanInputs", "mlflow.spanOutputs", "traceloop.entity.input", "traceloop.entity.output", "input.value",
      "output.value", "final_result", "pydantic_ai.all_messages", "gen_ai.system_instructions", "input", "output",
      "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
      "genkit:input", "genkit:output", "flue.turn.input", "flue.turn.output", "flue.tool.arguments",
      "flue.tool.result", "flue.task.prompt", "flue.task.result", "flue.operation.result", "flue.workflow.payload",
      "flue.workflow.result"};
  out.push_back('{');
  bool first = true;
  for (const auto& [key, value] : a.items()) {
    if (kInputOutputKeys.count(key)) continue;
    if (StartsWith(key, "gen_ai.prompt") || StartsWith(key, "gen_ai.completion") ||
        StartsWith(key, "llm.input_messages") || StartsWith(key, "llm.output_messages") ||
        StartsWith(key, "langfuse.trace.metadata") || StartsWith(key, "langfuse.observation.metadata") ||
        StartsWith(key, "ai.telemetry.metadata")) {
      continue;
    }
    if (!first) out.push_back(',');
    first = false;
    WriteJsonString(out, key);
    out.push_back(':');
    if (value.is_string()) {
      WriteJsonString(out, value.get_ref<const std::string&>());
    } else {
      scratch.clear();
      WriteJson(scratch, value);  // JsString: a non-string attribute as its JSON text
      WriteJsonString(out, scratch);
    }
  }
  out.push_back('}');
}

// ---------------------------------------------------------------------------------------------
// observation type, model, parameters, usage, cost

bool MatchesVercelOperation(const Attributes& a, const std::vector<std::string_view>& prefixes) {
  if (const json* name = Get(a, "operation.name"); Meaningful(name) && name->is_string()) {
    for (auto p : prefixes) {
      if (StartsWith(name->get_ref<const std::string&>(), p)) return true;
    }
  }
  if (const json* id = Get(a, "ai.operationId"); Meaningful(id) && id->is_string()) {
    for (auto p : prefixes) {
      if (id->get_ref<const std::string&>() == p) return true;
    }
  }
  return false;
}

std::optional<std::string> MapValue(const Attributes& a, const char* key,
                                    std::initializer_list<std::pair<std::string_view, std::string_view>> table) {
  const json* v = Get(a, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  for (const auto& [from, to] : table) {
    if (v->get_ref<const std::string&>() == from) return std::string(to);
  }
  return std::nullopt;
}

std::string MapObservationType(const Attributes& a, const Attributes& resource, const Scope& scope,
                               const std::string& span_name) {
  static const std::vector<std::string_view> kGenerationLike = {
      "ai.generateText.doGenerate", "ai.streamText.doStream", "ai.generateObject.doGenerate",
      "ai.streamObject.doStream", "ai.embedMany.doEmbed", "ai.embed.doEmbed"};
  // (0) Python SDK <= 3.3.0 marked generations as spans.
  if (const json* t = Get(a, "langfuse.observation.type"); t && *t == "span" && scope.name == "langfuse-sdk" &&
                                                            Get(resource, "telemetry.sdk.language") &&
                                                            *Get(resource, "telemetry.sdk.language") == "python") {
    bool old = true;
    if (!scope.version.empty()) {
      auto parts = Split(scope.version, '.');
      const int major = std::atoi(parts[0].c_str());
      const int minor = parts.size() > 1 ? std::atoi(parts[1].c_str()) : 0;
      old = !(major > 3 || (major == 3 && minor > 3));
    }
    if (old) {
      for (const char* key : {"langfuse.observation.model.name", "langfuse.observation.cost_details",
                              "langfuse.observation.usage_details", "langfuse.observation.completion_start_time",
                              "langfuse.observation.model.parameters", "langfuse.observation.prompt.name",
                              "langfuse.observation.prompt.version"}) {
        if (Get(a, key)) return "GENERATION";
      }
    }
  }
  if (auto t = MapValue(a, "langfuse.observation.type",
                        {{"span", "SPAN"}, {"generation", "GENERATION"}, {"event", "EVENT"},
                         {"embedding", "EMBEDDING"}, {"agent", "AGENT"}, {"tool", "TOOL"}, {"chain", "CHAIN"},
                         {"retriever", "RETRIEVER"}, {"guardrail", "GUARDRAIL"}, {"evaluator", "EVALUATOR"}}))
    return *t;
  if (auto t = MapValue(a, "openinference.span.kind",
                        {{"CHAIN", "CHAIN"}, {"RETRIEVER", "RETRIEVER"}, {"LLM", "GENERATION"},
                         {"EMBEDDING", "EMBEDDING"}, {"AGENT", "AGENT"}, {"TOOL", "TOOL"}, {"GUARDRAIL", "GUARDRAIL"},
                         {"EVALUATOR", "EVALUATOR"}}))
    return *t;
  if (auto t = MapValue(a, "gen_ai.operation.name",
                        {{"chat", "GENERATION"}, {"completion", "GENERATION"}, {"text_completion", "GENERATION"},
                         {"generate_content", "GENERATION"}, {"generate", "GENERATION"}, {"embeddings", "EMBEDDING"},
                         {"invoke_agent", "AGENT"}, {"create_agent", "AGENT"}, {"execute_tool", "TOOL"}}))
    return *t;
  if (auto t = MapValue(a, "genkit:metadata:subtype",
                        {{"background-model", "GENERATION"}, {"model", "GENERATION"}, {"embedder", "EMBEDDING"},
                         {"tool", "TOOL"}, {"tool.v2", "TOOL"}, {"retriever", "RETRIEVER"}, {"evaluator", "EVALUATOR"}}))
    return *t;
  const bool vercel_model = Meaningful(Get(a, "langfuse.observation.model.name")) ||
                            Meaningful(Get(a, "ai.model.id")) || Meaningful(Get(a, "gen_ai.request.model")) ||
                            Meaningful(Get(a, "gen_ai.response.model"));
  if (vercel_model && MatchesVercelOperation(a, kGenerationLike)) {
    if (MatchesVercelOperation(a, {"ai.generateText.doGenerate", "ai.streamText.doStream",
                                   "ai.generateObject.doGenerate", "ai.streamObject.doStream"}))
      return "GENERATION";
    return "EMBEDDING";
  }
  {
    const json* op_name = Get(a, "operation.name");
    const json* op_id = Get(a, "ai.operationId");
    const bool ai_operation =
        (Meaningful(op_name) && op_name->is_string() && StartsWith(op_name->get_ref<const std::string&>(), "ai.")) ||
        (Meaningful(op_id) && op_id->is_string() && StartsWith(op_id->get_ref<const std::string&>(), "ai."));
    if (ai_operation && !MatchesVercelOperation(a, kGenerationLike) && MatchesVercelOperation(a, {"ai.toolCall"}))
      return "TOOL";
  }
  if (Meaningful(Get(a, "gen_ai.tool.name")) || Meaningful(Get(a, "gen_ai.tool.call.id"))) return "TOOL";
  if (Meaningful(Get(a, "flue.tool.name")) || Meaningful(Get(a, "flue.tool.call_id"))) return "TOOL";
  if (Meaningful(Get(a, "flue.task.id")) || Meaningful(Get(a, "flue.task.agent"))) return "AGENT";
  if (scope.name == "livekit-agents") {
    if (span_name == "agent_turn" || span_name == "start_agent_activity") return "AGENT";
    if (span_name == "function_tool") return "TOOL";
  }
  for (const char* key :
       {"langfuse.observation.model.name", "gen_ai.request.model", "gen_ai.response.model", "llm.model_name", "model"}) {
    if (Meaningful(Get(a, key))) return "GENERATION";
  }
  return "SPAN";
}

bool IsAiSdkAgentOperation(const Attributes& a) {
  const json* op = Get(a, "gen_ai.operation.name");
  return op && (*op == "invoke_agent" || *op == "agent_step");
}

std::optional<std::string> ExtractModel(const Attributes& a) {
  for (const char* key : {"langfuse.observation.model.name", "gen_ai.response.model", "ai.model.id",
                          "gen_ai.request.model", "llm.response.model", "llm.model_name", "model"}) {
    if (const json* v = Get(a, key); Truthy(v)) return JsString(*v);
  }
  if (const json* sub = Get(a, "genkit:metadata:subtype"); sub && *sub == "model") {
    if (const json* v = Get(a, "genkit:name"); Truthy(v)) return JsString(*v);
  }
  return std::nullopt;
}

// Model parameters are a map of strings and numbers; anything else is JSON text.
json SanitizeModelParams(const json& params) {
  json out = json::object();
  for (const auto& [k, v] : params.items()) out[k] = (v.is_string() || v.is_number()) ? v : json(Dump(v));
  return out;
}

json ExtractModelParameters(const Attributes& a, const std::string& scope_name) {
  auto parse_object = [&](const char* key) -> std::optional<json> {
    const json* v = Get(a, key);
    if (!Truthy(v)) return std::nullopt;
    auto parsed = ParseJson(*v);
    if (parsed && parsed->is_object()) return SanitizeModelParams(*parsed);
    return std::nullopt;
  };
  if (auto p = parse_object("langfuse.observation.model.parameters")) return std::move(*p);
  if (scope_name == "ai") {
    auto str = [&](std::initializer_list<const char*> keys) -> json {
      for (const char* key : keys) {
        if (const json* v = Get(a, key)) return JsToString(*v);
      }
      return nullptr;
    };
    return json{{"maxSteps", str({"ai.settings.maxSteps"})},
                {"toolChoice", str({"ai.prompt.toolChoice"})},
                {"maxTokens", str({"gen_ai.request.max_tokens"})},
                {"finishReason", str({"gen_ai.response.finish_reasons", "gen_ai.finishReason"})},
                {"system", str({"gen_ai.system", "ai.model.provider"})},
                {"maxRetries", str({"ai.settings.maxRetries"})},
                {"mode", str({"ai.settings.mode"})},
                {"temperature", str({"gen_ai.request.temperature"})}};
  }
  if (auto p = parse_object("llm.invocation_parameters")) return std::move(*p);
  if (auto p = parse_object("model_config")) return std::move(*p);
  json out = json::object();
  for (const auto& [key, value] : a.items()) {
    if (!StartsWith(key, "gen_ai.request.") || key == "gen_ai.request.model") continue;
    out[key.substr(15)] = value;
  }
  return SanitizeModelParams(out);
}

// A JSON-object attribute (usage or cost details): absent or invalid JSON -> nullopt (fall
// through), a non-object -> {}.
std::optional<json> JsonObjectAttribute(const Attributes& a, const char* key) {
  const json* v = Get(a, key);
  if (!Truthy(v)) return std::nullopt;
  if (!v->is_string()) return json::object();
  auto parsed = ParseJson(*v);
  if (!parsed) return std::nullopt;
  return parsed->is_object() ? *parsed : json::object();
}

json GenericUsage(const Attributes& a) {
  std::map<std::string, double> raw;
  for (const auto& [key, value] : a.items()) {
    std::string k;
    if (StartsWith(key, "gen_ai.usage.") && key != "gen_ai.usage.cost") {
      k = key.substr(13);
    } else if (StartsWith(key, "llm.token_count.")) {
      k = key.substr(16);
    } else {
      continue;
    }
    if (auto n = ToNumber(value)) raw[k] = *n;
  }
  json out = json::object();
  if (raw.empty()) return out;
  auto first = [&](std::initializer_list<const char*> keys) -> std::optional<double> {
    for (const char* k : keys) {
      if (auto it = raw.find(k); it != raw.end()) return it->second;
    }
    return std::nullopt;
  };
  const auto input = first({"prompt_tokens", "input_tokens", "prompt"});
  const auto output = first({"completion_tokens", "output_tokens", "completion"});
  const auto total = first({"total_tokens", "total"});
  const auto cache_read = first({"cache_read.input_tokens", "cache_read_tokens", "details.cache_read_tokens",
                                 "details.cache_read_input_tokens", "prompt_details.cache_read", "input_cached_tokens"});
  const auto cache_creation =
      first({"cache_creation.input_tokens", "cache_write_tokens", "details.cache_write_tokens",
             "details.cache_creation_input_tokens", "prompt_details.cache_write", "input_cache_creation"});
  static const std::set<std::string> kConsumed = {
      "prompt_tokens", "input_tokens", "prompt", "completion_tokens", "output_tokens", "completion", "total_tokens",
      "total", "cache_read.input_tokens", "cache_read_tokens", "details.cache_read_tokens",
      "details.cache_read_input_tokens", "prompt_details.cache_read", "input_cached_tokens",
      "cache_creation.input_tokens", "cache_write_tokens", "details.cache_write_tokens",
      "details.cache_creation_input_tokens", "prompt_details.cache_write", "input_cache_creation"};
  for (const auto& [k, v] : raw) {
    if (kConsumed.count(k)) continue;
    out[StartsWith(k, "details.") ? k.substr(8) : k] = v;
  }
  if (input) out["input"] = std::max(*input - cache_read.value_or(0) - cache_creation.value_or(0), 0.0);
  if (output) out["output"] = *output;
  if (total) out["total"] = *total;
  if (cache_read) out["input_cached_tokens"] = *cache_read;
  if (cache_creation) out["input_cache_creation"] = *cache_creation;
  return out;
}

json VercelUsage(const Attributes& a) {
  std::map<std::string, double> usage;
  auto int_of = [&](const char* key) -> std::optional<double> {
    const json* v = Get(a, key);
    if (!v) return std::nullopt;
    auto n = ToNumber(*v);
    return n ? std::optional<double>(std::trunc(*n)) : std::nullopt;
  };
  auto set_if = [&](const char* target, std::optional<double> v) {
    if (v && !usage.count(target)) usage[target] = *v;
  };
  set_if("input", Get(a, "gen_ai.usage.prompt_tokens") ? int_of("gen_ai.usage.prompt_tokens")
                                                       : int_of("gen_ai.usage.input_tokens"));
  set_if("output", Get(a, "gen_ai.usage.completion_tokens") ? int_of("gen_ai.usage.completion_tokens")
                                                            : int_of("gen_ai.usage.output_tokens"));
  set_if("total", int_of("ai.usage.tokens"));
  set_if("input_cached_tokens", int_of("ai.usage.cachedInputTokens"));
  set_if("output_reasoning_tokens", int_of("ai.usage.reasoningTokens"));
  if (const json* pm = Get(a, "ai.response.providerMetadata")) {
    auto parsed = pm->is_object() ? std::optional<json>(*pm) : ParseJson(*pm);
    auto num = [](const json& o, const char* key) -> std::optional<double> {
      if (!o.is_object() || !o.contains(key) || !o[key].is_number()) return std::nullopt;
      return o[key].get<double>();
    };
    if (parsed && parsed->is_object()) {
      if (parsed->contains("openai")) {
        const json& o = (*parsed)["openai"];
        set_if("input_cached_tokens", num(o, "cachedPromptTokens"));
        set_if("accepted_prediction_tokens", num(o, "acceptedPredictionTokens"));
        set_if("rejected_prediction_tokens", num(o, "rejectedPredictionTokens"));
        set_if("output_reasoning_tokens", num(o, "reasoningTokens"));
      }
      if (parsed->contains("anthropic") && (*parsed)["anthropic"].is_object() &&
          (*parsed)["anthropic"].contains("usage")) {
        const json& u = (*parsed)["anthropic"]["usage"];
        set_if("input_cache_creation", num(u, "cache_creation_input_tokens"));
        set_if("input_cached_tokens", num(u, "cache_read_input_tokens"));
        if (u.is_object() && u.contains("cache_creation") && u["cache_creation"].is_object()) {
          set_if("input_cache_creation_5m", num(u["cache_creation"], "ephemeral_5m_input_tokens"));
          set_if("input_cache_creation_1h", num(u["cache_creation"], "ephemeral_1h_input_tokens"));
          usage["input_cache_creation"] = std::max(
              usage["input_cache_creation"] - usage["input_cache_creation_5m"] - usage["input_cache_creation_1h"], 0.0);
        }
      }
      if (parsed->contains("bedrock") && (*parsed)["bedrock"].is_object() && (*parsed)["bedrock"].contains("usage")) {
        const json& u = (*parsed)["bedrock"]["usage"];
        set_if("input_cache_read", num(u, "cacheReadInputTokens"));
        set_if("input_cache_write", num(u, "cacheWriteInputTokens"));
        set_if("input_cache_creation", num(u, "cacheCreationInputTokens"));
      }
    }
  }
  auto get = [&](const char* k) { return usage.count(k) ? usage[k] : 0.0; };
  usage["input"] = std::max(get("input") - get("input_cached_tokens") - get("input_cache_creation") -
                                get("input_cache_creation_5m") - get("input_cache_creation_1h") -
                                get("input_cache_read"),
                            0.0);
  usage["output"] = std::max(get("output") - get("output_reasoning_tokens"), 0.0);
  json out = json::object();
  for (const auto& [k, v] : usage) out[k] = v;
  return out;
}

json ExtractUsageDetails(const Attributes& a, const std::string& scope_name) {
  if (auto u = JsonObjectAttribute(a, "langfuse.observation.usage_details")) return std::move(*u);
  if (scope_name == "ai") return VercelUsage(a);
  return GenericUsage(a);
}

json ExtractCostDetails(const Attributes& a) {
  if (auto c = JsonObjectAttribute(a, "langfuse.observation.cost_details")) return std::move(*c);
  for (const char* key : {"gen_ai.usage.cost", "llm.cost.total"}) {
    const json* v = Get(a, key);
    if (v == nullptr || v->is_null() || *v == "") continue;
    auto n = ToNumber(*v);
    return n ? json{{"total", *n}} : json{{"total", *v}};
  }
  return json::object();
}

std::optional<int64_t> ParseLooseIso(const std::string& text) {
  if (auto ms = ParseIso8601Ms(text)) return ms;
  // Python's isoformat() without a zone is UTC.
  return ParseIso8601Ms(text + "Z");
}

std::optional<int64_t> ExtractCompletionStartTime(const Attributes& a, int64_t start_ms) {
  if (const json* v = Get(a, "langfuse.observation.completion_start_time"); v && v->is_string()) {
    if (auto ms = ParseLooseIso(v->get<std::string>())) return ms;
    if (auto parsed = ParseJson(*v); parsed && parsed->is_string()) {
      if (auto ms = ParseLooseIso(parsed->get<std::string>())) return ms;
    }
  }
  const json* first_chunk = Get(a, "ai.response.msToFirstChunk");
  if (first_chunk == nullptr) first_chunk = Get(a, "ai.stream.msToFirstChunk");
  if (Truthy(first_chunk)) {
    if (auto n = ToNumber(*first_chunk); n && std::isfinite(*n)) {
      // Both terms are exact in a double below 2^53; the sum is checked before the conversion.
      const double ms = static_cast<double>(start_ms) + std::ceil(*n);
      if (std::fabs(ms) <= kMaxJsDateMs) return static_cast<int64_t>(ms);
    }
  }
  return std::nullopt;
}

std::optional<int64_t> PromptVersion(const json& v) {
  auto n = ToNumber(v);
  if (!n || *n < 0 || *n > 65535 || *n != std::floor(*n)) return std::nullopt;
  return static_cast<int64_t>(*n);
}

// ---------------------------------------------------------------------------------------------
// ids and events

bool IsHexId(const std::string& id, size_t hex_chars) {
  if (id.size() != hex_chars || id.find_first_not_of("0123456789abcdef") != std::string::npos) return false;
  return id.find_first_not_of('0') != std::string::npos;  // all-zero ids are invalid in OTLP
}

std::string SpanIdError(const Span& span) {
  if (!span.id_error.empty()) return span.id_error;
  if (!IsHexId(span.trace_id, 32)) return "invalid traceId: expected 16 non-zero bytes";
  if (!IsHexId(span.span_id, 16)) return "invalid spanId: expected 8 non-zero bytes";
  if (!span.parent_span_id.empty() && !IsHexId(span.parent_span_id, 16))
    return "invalid parentSpanId: expected 8 bytes";
  return {};
}

int64_t NanosToMs(uint64_t nanos) { return static_cast<int64_t>(nanos / 1'000'000); }

std::optional<std::string> StringAttr(const Attributes& a, const char* key) {
  const json* v = Get(a, key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  return JsString(*v);
}

// What every event of a scope's spans repeats, worked out once per request: the resource's own
// metadata keys, and the JSON text of the resource attributes and of the scope.
struct SharedParts {
  json resource_metadata;
  std::string resource_json;
  std::string scope_json;
};

std::string ScopeJsonText(const Scope& scope) {
  // {"attributes":...,"name":...,"version":...}: nlohmann's key order, version only when set.
  std::string out = "{\"attributes\":";
  WriteJson(out, scope.attributes);
  out += ",\"name\":";
  WriteJsonString(out, scope.name);
  if (!scope.version.empty()) {
    out += ",\"version\":";
    WriteJsonString(out, scope.version);
  }
  out.push_back('}');
  return out;
}

struct SpanContext {
  const Span& span;
  const Scope& scope;
  const Attributes& resource;
  const SharedParts& shared;
  bool langfuse_sdk;
  int64_t now_ms;
  const std::string& now_text;  //!< now_ms as ISO 8601
};

struct SpanTimes {
  int64_t start_ms;
  int64_t end_ms;
  std::string start_text;  //!< ISO 8601
  std::string end_text;
};

SpanTimes ResolveTimes(const Span& span, int64_t now_ms) {
  std::optional<int64_t> start;
  std::optional<int64_t> end;
  if (span.start_time_unix_nano) start = NanosToMs(*span.start_time_unix_nano);
  if (span.end_time_unix_nano) end = NanosToMs(*span.end_time_unix_nano);
  SpanTimes times{start.value_or(end.value_or(now_ms)), end.value_or(start.value_or(now_ms)), {}, {}};
  times.start_text = FormatIso8601Ms(times.start_ms);
  times.end_text = FormatIso8601Ms(times.end_ms);
  return times;
}

// Writes one JSON object member by member. Events used to be nlohmann objects, which keep their
// keys sorted; callers add members in that same order, so the text stays what it was.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) { out_.push_back('{'); }

  //! Starts the member `key` (a plain ASCII name) and returns the text to append its value to.
  std::string& Key(std::string_view key) {
    assert(last_key_.empty() || last_key_ < key);
    last_key_ = key;
    out_ += first_ ? "\"" : ",\"";
    first_ = false;
    out_ += key;
    out_ += "\":";
    return out_;
  }
  void String(std::string_view key, std::string_view value) { WriteJsonString(Key(key), value); }
  void Value(std::string_view key, const json& value) { WriteJson(Key(key), value); }
  void OptionalString(std::string_view key, const std::optional<std::string>& value) {
    if (value) String(key, *value);
  }
  void NonNull(std::string_view key, const json& value) {
    if (!value.is_null()) Value(key, value);
  }
  void End() { out_.push_back('}'); }

 private:
  std::string& out_;
  std::string_view last_key_;
  bool first_ = true;
};

// The metadata object: `extracted` (the metadata attributes) with the mapping's own keys,
// `attributes` (when `attributes` is set), `resourceAttributes` and `scope`, replacing extracted
// keys of the same name; all in sorted key order.
void WriteMetadata(std::string& out, const json& extracted, const Attributes* attributes, const SpanContext& c,
                   std::string& scratch) {
  struct Own {
    std::string_view key;
    int which;
  };
  Own own[3];
  size_t count = 0;
  if (attributes != nullptr) own[count++] = {"attributes", 0};
  own[count++] = {"resourceAttributes", 1};
  own[count++] = {"scope", 2};
  bool first = true;
  auto start_member = [&](std::string_view key) {
    if (!first) out.push_back(',');
    first = false;
    WriteJsonString(out, key);
    out.push_back(':');
  };
  auto write_own = [&](const Own& o) {
    start_member(o.key);
    if (o.which == 0) {
      WriteFilteredAttributes(out, *attributes, scratch);
    } else {
      out += o.which == 1 ? c.shared.resource_json : c.shared.scope_json;
    }
  };
  out.push_back('{');
  size_t next = 0;
  for (const auto& [key, value] : extracted.items()) {
    while (next < count && own[next].key < key) write_own(own[next++]);
    if (next < count && own[next].key == key) continue;  // replaced by the mapping's own key
    start_member(key);
    WriteJson(out, value);
  }
  while (next < count) write_own(own[next++]);
  out.push_back('}');
}

// The resource's metadata merged with a span's: the resource's alone when the span adds nothing.
const json& MergedMetadata(const json& resource_metadata, const json& span_metadata, json& storage) {
  if (span_metadata.empty()) return resource_metadata;
  storage = resource_metadata;
  storage.update(span_metadata);
  return storage;
}

void WriteEnvelopeEnd(std::string& out, const std::string& timestamp, std::string_view type) {
  out += ",\"id\":\"";
  out += NewUuidV4();
  out += "\",\"timestamp\":\"";
  out += timestamp;
  out += "\",\"type\":\"";
  out += type;
  out += "\"}";
}

// trace-create: full for a root span, the trace-level attributes for a non-root span that has
// them, otherwise shallow (only the id and environment). Appends the event's JSON to `out`.
void WriteTraceEvent(std::string& out, const SpanContext& c, const SpanTimes& times, bool is_root, bool has_updates,
                     bool& shallow, std::string& scratch) {
  const Attributes& a = c.span.attributes;
  shallow = !is_root && !has_updates;
  out += "{\"body\":";
  ObjectWriter body(out);
  body.String("environment", ExtractEnvironment(a, c.resource));
  body.String("id", c.span.trace_id);
  if (!shallow) {
    InputOutput io;
    if (is_root) {
      io = ExtractInputOutput(c.span, a, c.scope.name, true);
    } else {
      io = {ValueOrNull(Get(a, "langfuse.trace.input")), ValueOrNull(Get(a, "langfuse.trace.output"))};
    }
    body.NonNull("input", io.input);

    json span_metadata = ExtractMetadata(a, false);
    if (is_root) span_metadata.update(ExtractMetadata(a, true));
    json merged;
    const json& metadata = MergedMetadata(c.shared.resource_metadata, span_metadata, merged);
    WriteMetadata(body.Key("metadata"), metadata, is_root && !c.langfuse_sdk ? &a : nullptr, c, scratch);

    if (is_root) {
      body.String("name", StringAttr(a, "langfuse.trace.name").value_or(ExtractName(c.span.name, a)));
    } else {
      body.OptionalString("name", StringAttr(a, "langfuse.trace.name"));
    }
    body.NonNull("output", io.output);
    if (auto is_public = ExtractPublic(a)) body.Key("public") += *is_public ? "true" : "false";
    auto release = StringAttr(a, "langfuse.release");
    if (!release) release = StringAttr(c.resource, "langfuse.release");
    body.OptionalString("release", release);
    body.OptionalString("sessionId", ExtractSessionId(a));
    if (auto tags = ExtractTags(a); !tags.empty()) {
      std::string& text = body.Key("tags");
      text.push_back('[');
      for (size_t i = 0; i < tags.size(); ++i) {
        if (i > 0) text.push_back(',');
        WriteJsonString(text, tags[i]);
      }
      text.push_back(']');
    }
    // Only the root span states the trace's timestamp; other spans put their start in the
    // envelope, which the worker uses until the root span's own start arrives.
    if (is_root) body.String("timestamp", times.start_text);
    body.OptionalString("userId", ExtractUserId(a));
    auto version = StringAttr(a, "langfuse.version");
    if (!version) version = StringAttr(c.resource, "service.version");
    body.OptionalString("version", version);
  }
  body.End();
  WriteEnvelopeEnd(out, times.start_text, "trace-create");
}

// The observation's *-create event, appended to `out`; returns its type ("span-create", ...).
std::string WriteObservationEvent(std::string& out, const SpanContext& c, const SpanTimes& times,
                                  std::string& scratch) {
  const Attributes& a = c.span.attributes;
  const std::string type = MapObservationType(a, c.resource, c.scope, c.span.name);
  const bool agent_operation = IsAiSdkAgentOperation(a);

  out += "{\"body\":";
  ObjectWriter body(out);
  if (auto cst = ExtractCompletionStartTime(a, times.start_ms)) {
    body.String("completionStartTime", FormatIso8601Ms(*cst));
  }
  if (!agent_operation) body.Value("costDetails", ExtractCostDetails(a));
  body.String("endTime", times.end_text);
  body.String("environment", ExtractEnvironment(a, c.resource));
  body.String("id", c.span.span_id);
  const InputOutput io = ExtractInputOutput(c.span, a, c.scope.name, false);
  body.NonNull("input", io.input);

  std::string level = c.span.status_code == 2 ? "ERROR" : "DEFAULT";
  if (const json* l = Get(a, "langfuse.observation.level"); l && l->is_string()) {
    const std::string& v = l->get_ref<const std::string&>();
    if (v == "DEBUG" || v == "DEFAULT" || v == "WARNING" || v == "ERROR") level = v;
  }
  body.String("level", level);

  json merged;
  const json& metadata = MergedMetadata(c.shared.resource_metadata, ExtractMetadata(a, true), merged);
  WriteMetadata(body.Key("metadata"), metadata, c.langfuse_sdk ? nullptr : &a, c, scratch);

  if (!agent_operation) body.OptionalString("model", ExtractModel(a));
  body.Value("modelParameters", ExtractModelParameters(a, c.scope.name));
  body.String("name", ExtractName(c.span.name, a));
  body.NonNull("output", io.output);
  if (!c.span.parent_span_id.empty()) body.String("parentObservationId", c.span.parent_span_id);
  if (type == "GENERATION") {
    json name = ValueOrNull(Get(a, "langfuse.observation.prompt.name"));
    json version_value = ValueOrNull(Get(a, "langfuse.observation.prompt.version"));
    if (name.is_null()) name = ValueOrNull(Get(a, "langfuse.prompt.name"));
    if (version_value.is_null()) version_value = ValueOrNull(Get(a, "langfuse.prompt.version"));
    if (const json* p = Get(a, "ai.telemetry.metadata.langfusePrompt"); Truthy(p) && (name.is_null() || version_value.is_null())) {
      if (auto parsed = ParseJson(*p); parsed && parsed->is_object()) {
        if (name.is_null()) name = ValueOrNull(Get(*parsed, "name"));
        if (version_value.is_null()) version_value = ValueOrNull(Get(*parsed, "version"));
      }
    }
    auto prompt_version = version_value.is_null() ? std::nullopt : PromptVersion(version_value);
    if (name.is_string() && prompt_version) {
      body.Value("promptName", name);
      body.Key("promptVersion") += std::to_string(*prompt_version);
    }
  }
  body.String("startTime", times.start_text);
  if (auto msg = StringAttr(a, "langfuse.observation.status_message")) {
    body.String("statusMessage", *msg);
  } else if (!c.span.status_message.empty()) {
    body.String("statusMessage", c.span.status_message);
  }
  body.String("traceId", c.span.trace_id);
  if (!agent_operation) body.Value("usageDetails", ExtractUsageDetails(a, c.scope.name));
  auto version = StringAttr(a, "langfuse.version");
  if (!version) version = StringAttr(c.resource, "service.version");
  body.OptionalString("version", version);
  body.End();

  std::string event_type = type;
  for (char& ch : event_type) ch = static_cast<char>(ch - 'A' + 'a');
  event_type += "-create";
  WriteEnvelopeEnd(out, c.now_text, event_type);
  return event_type;
}

}  // namespace

MappedSpans MapToIngestionEvents(const ExportRequest& request, int64_t now_ms, size_t max_event_bytes) {
  MappedSpans out;
  size_t event_bytes = 0;
  simdjson::dom::parser parser;
  std::set<std::string> seen_traces;
  std::set<std::string> full_traces;
  struct Pending {
    std::string json;
    std::string type;
    std::string shallow_trace_id;  // set for shallow trace-create events
  };
  std::vector<Pending> pending;
  std::vector<std::string> reasons;
  auto reject = [&](std::string reason) {
    ++out.rejected_spans;
    if (reasons.size() < kMaxReportedErrors) reasons.push_back(std::move(reason));
  };
  // Validates an event as POST /api/public/ingestion would. Only the verdict is needed, so
  // input, output and metadata are checked without being copied.
  ingest::EventScope check;
  check.check_only = true;
  auto validate = [&](std::string& text, std::string& error) {
    simdjson::dom::element element;
    text.reserve(text.size() + simdjson::SIMDJSON_PADDING);  // parsed in place, not copied
    if (parser.parse(text.data(), text.size(), false).get(element) != simdjson::SUCCESS) {
      error = "event is not valid JSON";
      return false;
    }
    std::optional<ingest::EventError> event_error;
    ingest::ParseEvent(element, check, event_error);
    if (event_error) error = event_error->error;
    return !event_error;
  };
  const std::string now_text = FormatIso8601Ms(now_ms);
  std::string scratch;
  // Events are written and validated here, then copied out at their exact size; the buffer keeps
  // its capacity from one event to the next.
  std::string buffer;

  for (const auto& rs : request.resource_spans) {
    SharedParts shared;
    shared.resource_metadata = ExtractMetadata(rs.resource_attributes, false);
    WriteJson(shared.resource_json, rs.resource_attributes);
    for (const auto& ss : rs.scope_spans) {
      const bool langfuse_sdk = StartsWith(ss.scope.name, "langfuse-sdk");
      if (!ss.spans.empty()) shared.scope_json = ScopeJsonText(ss.scope);
      for (const auto& span : ss.spans) {
        if (std::string why = SpanIdError(span); !why.empty()) {
          reject("span " + (span.span_id.empty() ? std::string("?") : span.span_id) + ": " + why);
          continue;
        }
        auto reject_too_large = [&] {
          reject("span " + span.span_id + ": the request's events exceed " + std::to_string(max_event_bytes) +
                 " bytes");
        };
        if (event_bytes >= max_event_bytes) {
          reject_too_large();
          continue;
        }
        const SpanContext context{span, ss.scope, rs.resource_attributes, shared, langfuse_sdk, now_ms, now_text};
        const SpanTimes times = ResolveTimes(span, now_ms);
        const Attributes& a = span.attributes;
        const json* as_root = Get(a, "langfuse.internal.as_root");
        const bool is_root = span.parent_span_id.empty() || (as_root && JsToString(*as_root) == "true");
        const bool has_updates = HasTraceUpdates(a);

        std::vector<Pending> span_events;
        bool full_trace = false;
        std::string error;
        bool ok = true;
        if (is_root || has_updates || !seen_traces.count(span.trace_id)) {
          bool shallow = false;
          buffer.clear();
          WriteTraceEvent(buffer, context, times, is_root, has_updates, shallow, scratch);
          ok = validate(buffer, error);
          span_events.push_back({buffer, "trace-create", shallow ? span.trace_id : std::string()});
          full_trace = !shallow;
        }
        if (ok) {
          buffer.clear();
          std::string type = WriteObservationEvent(buffer, context, times, scratch);
          ok = validate(buffer, error);
          span_events.push_back({buffer, std::move(type), {}});
        }
        if (!ok) {
          reject("span " + span.span_id + ": " + error);
          continue;
        }
        size_t span_bytes = 0;
        for (const auto& e : span_events) span_bytes += e.json.size();
        if (span_bytes > max_event_bytes - event_bytes) {
          reject_too_large();
          continue;
        }
        event_bytes += span_bytes;
        // Only an accepted span's full trace event makes the shallow ones of its trace redundant.
        if (full_trace) full_traces.insert(span.trace_id);
        seen_traces.insert(span.trace_id);
        ++out.accepted_spans;
        for (auto& e : span_events) pending.push_back(std::move(e));
      }
    }
  }
  // A shallow trace event is redundant when the batch holds a full one for the same trace.
  for (auto& p : pending) {
    if (!p.shallow_trace_id.empty() && full_traces.count(p.shallow_trace_id)) continue;
    out.events.push_back(std::move(p.json));
    out.event_types.push_back(std::move(p.type));
  }
  for (size_t i = 0; i < reasons.size(); ++i) {
    if (i > 0) out.error_message += "; ";
    out.error_message += reasons[i];
  }
  if (out.rejected_spans > static_cast<int64_t>(reasons.size())) {
    out.error_message += " (and " + std::to_string(out.rejected_spans - reasons.size()) + " more)";
  }
  return out;
}

}  // namespace langfuse::otel
