#include "storage/traces/record_json.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <limits>
#include <optional>

#include <fmt/core.h>

#include "common/json_text.h"
#include "common/time.h"

namespace langfuse::traces {
namespace {

using Element = simdjson::dom::element;
using simdjson::dom::element_type;

// Decimal64(12) is Decimal(18, 12): six integer digits.
constexpr double kDecimal64_12Limit = 1e6;

// ---- scalar readers: accept every shape a ClickHouse JSON output setting can produce ----------

template <typename T>
bool FromChars(std::string_view s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool ReadInt64(Element v, int64_t& out) {
  switch (v.type()) {
    case element_type::INT64:
      return v.get_int64().get(out) == simdjson::SUCCESS;
    case element_type::UINT64: {
      uint64_t u = 0;
      if (v.get_uint64().get(u) != simdjson::SUCCESS || u > uint64_t{std::numeric_limits<int64_t>::max()})
        return false;
      out = static_cast<int64_t>(u);
      return true;
    }
    case element_type::STRING: {
      std::string_view s;
      return v.get_string().get(s) == simdjson::SUCCESS && FromChars(s, out);
    }
    default:
      return false;
  }
}

bool ReadUInt64(Element v, uint64_t& out) {
  switch (v.type()) {
    case element_type::UINT64:
      return v.get_uint64().get(out) == simdjson::SUCCESS;
    case element_type::INT64: {
      int64_t i = 0;
      if (v.get_int64().get(i) != simdjson::SUCCESS || i < 0) return false;
      out = static_cast<uint64_t>(i);
      return true;
    }
    case element_type::STRING: {
      std::string_view s;
      return v.get_string().get(s) == simdjson::SUCCESS && FromChars(s, out);
    }
    default:
      return false;
  }
}

// Float64 and Decimal: ClickHouse writes NaN and infinities as null (output_format_json_quote_denormals=0).
bool ReadDouble(Element v, double& out) {
  switch (v.type()) {
    case element_type::DOUBLE:
    case element_type::INT64:
    case element_type::UINT64:
      return v.get_double().get(out) == simdjson::SUCCESS;
    case element_type::NULL_VALUE:
      out = std::numeric_limits<double>::quiet_NaN();
      return true;
    case element_type::STRING: {
      std::string_view s;
      return v.get_string().get(s) == simdjson::SUCCESS && FromChars(s, out);
    }
    default:
      return false;
  }
}

bool ReadDateTimeMs(Element v, int64_t& out) {
  if (v.type() != element_type::STRING) return ReadInt64(v, out);
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return false;
  if (FromChars(s, out)) return true;  // date_time_output_format=unix_timestamp-like integers
  if (auto ms = ParseClickHouseDateTime64(s)) {
    out = *ms;
    return true;
  }
  if (auto ms = ParseIso8601Ms(s)) {  // date_time_output_format=iso ("...Z")
    out = *ms;
    return true;
  }
  return false;
}

bool ReadString(Element v, std::string& out) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return false;
  out.assign(s);
  return true;
}

// ---- codecs: Write(out, value) and Read(element, value) per ClickHouse column type -----------

void AppendInteger(std::string& out, auto value) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, end);
}

bool DecimalFits(double v) { return std::isfinite(v) && std::fabs(v) < kDecimal64_12Limit; }

// ---- RowBinary: ClickHouse's binary row format (little-endian fixed-width numbers, LEB128
// lengths). Strings get the same UTF-8 repair as the JSON writer, so both paths store the same.

template <typename T>
void PutFixed(std::string& out, T v) {
  static_assert(std::is_trivially_copyable_v<T>);
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));  // x86-64 and aarch64 are little-endian, as RowBinary is
  out.append(bytes, sizeof(T));
}

void PutVarUInt(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

size_t VarUIntSize(uint64_t v);

void PutString(std::string& out, std::string_view v) {
  PutVarUInt(out, v.size());
  const size_t at = out.size();
  AppendValidUtf8(out, v);
  const size_t written = out.size() - at;
  if (written != v.size()) {
    // Repairs changed the length: rewrite the prefix (rare: only for invalid UTF-8).
    std::string repaired = out.substr(at);
    out.resize(at - VarUIntSize(v.size()));
    PutVarUInt(out, repaired.size());
    out += repaired;
  }
}

size_t VarUIntSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Decimal64(12) from a double, through its shortest decimal text so the stored value is the
// one the JSON path stores (ClickHouse parses that text exactly); digits past the 12th
// fractional digit are cut off.
int64_t ToDecimal64_12(double v) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  // d.ddddde[+-]xx
  std::string_view text(buf, static_cast<size_t>(end - buf));
  bool negative = false;
  if (!text.empty() && text[0] == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  const size_t e = text.find('e');
  std::string digits;
  for (char c : text.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::from_chars(text.data() + e + 1 + (text[e + 1] == '+'), text.data() + text.size(), exponent);
  // value = 0.d1d2d3... * 10^(exponent + 1); scaled by 10^12.
  const int shift = exponent + 1 + 12;  // digits before the decimal point of the scaled value
  int64_t scaled = 0;
  for (int i = 0; i < shift; ++i) {
    scaled = scaled * 10 + (i < static_cast<int>(digits.size()) ? digits[static_cast<size_t>(i)] - '0' : 0);
  }
  return negative ? -scaled : scaled;
}

struct StringCodec {
  static void Write(std::string& out, const std::string& v) { AppendJsonString(out, v); }
  static void WriteBinary(std::string& out, const std::string& v) { PutString(out, v); }
  static bool Read(Element e, std::string& v) { return ReadString(e, v); }
};

struct NullableStringCodec {
  static void WriteBinary(std::string& out, const std::optional<std::string>& v) {
    out.push_back(v ? '\0' : '\1');
    if (v) PutString(out, *v);
  }
  static void Write(std::string& out, const std::optional<std::string>& v) {
    if (v)
      AppendJsonString(out, *v);
    else
      out += "null";
  }
  static bool Read(Element e, std::optional<std::string>& v) {
    if (e.is_null()) {
      v.reset();
      return true;
    }
    return ReadString(e, v.emplace());
  }
};

struct DateTime64Codec {
  static void WriteBinary(std::string& out, int64_t ms) {
    PutFixed<int64_t>(out, std::clamp(ms, kMinDateTime64Ms, kMaxDateTime64Ms));
  }
  static void Write(std::string& out, int64_t ms) {
    AppendInteger(out, std::clamp(ms, kMinDateTime64Ms, kMaxDateTime64Ms));
  }
  static bool Read(Element e, int64_t& ms) { return ReadDateTimeMs(e, ms); }
};

struct NullableDateTime64Codec {
  static void WriteBinary(std::string& out, const std::optional<int64_t>& ms) {
    out.push_back(ms ? '\0' : '\1');
    if (ms) DateTime64Codec::WriteBinary(out, *ms);
  }
  static void Write(std::string& out, const std::optional<int64_t>& ms) {
    if (ms)
      DateTime64Codec::Write(out, *ms);
    else
      out += "null";
  }
  static bool Read(Element e, std::optional<int64_t>& ms) {
    if (e.is_null()) {
      ms.reset();
      return true;
    }
    return ReadDateTimeMs(e, ms.emplace());
  }
};

struct BoolCodec {
  static void Write(std::string& out, bool v) { out += v ? "true" : "false"; }
  static void WriteBinary(std::string& out, bool v) { out.push_back(v ? '\1' : '\0'); }
  static bool Read(Element e, bool& v) {
    if (e.type() == element_type::BOOL) return e.get_bool().get(v) == simdjson::SUCCESS;
    uint64_t u = 0;
    if (!ReadUInt64(e, u) || u > 1) return false;
    v = u == 1;
    return true;
  }
};

struct UInt8Codec {
  static void Write(std::string& out, uint8_t v) { AppendInteger(out, unsigned{v}); }
  static void WriteBinary(std::string& out, uint8_t v) { PutFixed<uint8_t>(out, v); }
  static bool Read(Element e, uint8_t& v) {
    uint64_t u = 0;
    if (!ReadUInt64(e, u) || u > 255) return false;
    v = static_cast<uint8_t>(u);
    return true;
  }
};

struct NullableUInt16Codec {
  static void WriteBinary(std::string& out, const std::optional<uint16_t>& v) {
    out.push_back(v ? '\0' : '\1');
    if (v) PutFixed<uint16_t>(out, *v);
  }
  static void Write(std::string& out, const std::optional<uint16_t>& v) {
    if (v)
      AppendInteger(out, unsigned{*v});
    else
      out += "null";
  }
  static bool Read(Element e, std::optional<uint16_t>& v) {
    if (e.is_null()) {
      v.reset();
      return true;
    }
    uint64_t u = 0;
    if (!ReadUInt64(e, u) || u > 65535) return false;
    v = static_cast<uint16_t>(u);
    return true;
  }
};

struct Float64Codec {
  static void Write(std::string& out, double v) { AppendJsonNumber(out, v); }
  // JSON has no NaN or infinity, so the JSON path stores 0 for them (null as default): same here.
  static void WriteBinary(std::string& out, double v) { PutFixed<double>(out, std::isfinite(v) ? v : 0.0); }
  static bool Read(Element e, double& v) { return ReadDouble(e, v); }
};

struct NullableDecimalCodec {
  static void WriteBinary(std::string& out, const std::optional<double>& v) {
    const bool present = v && DecimalFits(*v);
    out.push_back(present ? '\0' : '\1');
    if (present) PutFixed<int64_t>(out, ToDecimal64_12(*v));
  }
  static void Write(std::string& out, const std::optional<double>& v) {
    if (v && DecimalFits(*v))
      AppendJsonNumber(out, *v);
    else
      out += "null";
  }
  static bool Read(Element e, std::optional<double>& v) {
    if (e.is_null()) {
      v.reset();
      return true;
    }
    return ReadDouble(e, v.emplace());
  }
};

// Map(K, V) as a JSON object; `ValueCodec` handles V. Entries ValueCodec::Skip() rejects are
// left out (a bad cost must not fail the batch).
template <typename ValueCodec, typename V>
struct MapCodec {
  static void Write(std::string& out, const std::map<std::string, V>& m) {
    out.push_back('{');
    bool first = true;
    for (const auto& [k, v] : m) {
      if (ValueCodec::Skip(v)) continue;
      if (!first) out.push_back(',');
      first = false;
      AppendJsonString(out, k);
      out.push_back(':');
      ValueCodec::Write(out, v);
    }
    out.push_back('}');
  }
  static void WriteBinary(std::string& out, const std::map<std::string, V>& m) {
    size_t n = 0;
    for (const auto& [k, v] : m) n += ValueCodec::Skip(v) ? 0 : 1;
    PutVarUInt(out, n);
    for (const auto& [k, v] : m) {
      if (ValueCodec::Skip(v)) continue;
      PutString(out, k);
      ValueCodec::WriteBinary(out, v);
    }
  }
  static bool Read(Element e, std::map<std::string, V>& m) {
    simdjson::dom::object obj;
    if (e.get_object().get(obj) != simdjson::SUCCESS) return false;
    m.clear();
    for (const auto field : obj) {
      V v{};
      if (!ValueCodec::Read(field.value, v)) return false;
      m.insert_or_assign(std::string(field.key), std::move(v));
    }
    return true;
  }
};

struct MapStringValue {
  static bool Skip(const std::string&) { return false; }
  static void Write(std::string& out, const std::string& v) { AppendJsonString(out, v); }
  static void WriteBinary(std::string& out, const std::string& v) { PutString(out, v); }
  static bool Read(Element e, std::string& v) { return ReadString(e, v); }
};

struct MapUInt64Value {
  static bool Skip(uint64_t) { return false; }
  static void Write(std::string& out, uint64_t v) { AppendInteger(out, v); }
  static void WriteBinary(std::string& out, uint64_t v) { PutFixed<uint64_t>(out, v); }
  static bool Read(Element e, uint64_t& v) { return ReadUInt64(e, v); }
};

struct MapDecimalValue {
  static bool Skip(double v) { return !DecimalFits(v); }
  static void Write(std::string& out, double v) { AppendJsonNumber(out, v); }
  static void WriteBinary(std::string& out, double v) { PutFixed<int64_t>(out, ToDecimal64_12(v)); }
  static bool Read(Element e, double& v) { return ReadDouble(e, v); }
};

using StringMapCodec = MapCodec<MapStringValue, std::string>;
using UInt64MapCodec = MapCodec<MapUInt64Value, uint64_t>;
using DecimalMapCodec = MapCodec<MapDecimalValue, double>;

struct StringArrayCodec {
  static void Write(std::string& out, const std::vector<std::string>& a) {
    out.push_back('[');
    for (size_t i = 0; i < a.size(); ++i) {
      if (i > 0) out.push_back(',');
      AppendJsonString(out, a[i]);
    }
    out.push_back(']');
  }
  static void WriteBinary(std::string& out, const std::vector<std::string>& a) {
    PutVarUInt(out, a.size());
    for (const std::string& item : a) PutString(out, item);
  }
  static bool Read(Element e, std::vector<std::string>& a) {
    simdjson::dom::array arr;
    if (e.get_array().get(arr) != simdjson::SUCCESS) return false;
    a.clear();
    for (const Element item : arr) {
      if (!ReadString(item, a.emplace_back())) return false;
    }
    return true;
  }
};

// ---- column tables ---------------------------------------------------------------------------

template <typename M>
struct MemberOf;
template <typename C, typename F>
struct MemberOf<F C::*> {
  using Class = C;
};

template <typename R>
struct Column {
  std::string_view name;
  std::string_view type;  //!< the table's column type, sent in the RowBinary header
  void (*write)(std::string& out, const R& row);
  void (*write_binary)(std::string& out, const R& row);
  bool (*read)(Element value, R& row);
};

template <typename Codec, auto kMember>
auto Col(std::string_view name, std::string_view type) {
  using R = typename MemberOf<decltype(kMember)>::Class;
  return Column<R>{name, type, [](std::string& out, const R& row) { Codec::Write(out, row.*kMember); },
                   [](std::string& out, const R& row) { Codec::WriteBinary(out, row.*kMember); },
                   [](Element value, R& row) { return Codec::Read(value, row.*kMember); }};
}

using Tr = TraceRecord;
using Ob = ObservationRecord;
using Sc = ScoreRecord;

// Order = the table's column order (see migrations.cpp).
const std::vector<Column<Tr>>& TraceColumns() {
  static const std::vector<Column<Tr>> kColumns = {
      Col<StringCodec, &Tr::id>("id", "String"),
      Col<DateTime64Codec, &Tr::timestamp_ms>("timestamp", "DateTime64(3)"),
      Col<StringCodec, &Tr::name>("name", "String"),
      Col<NullableStringCodec, &Tr::user_id>("user_id", "Nullable(String)"),
      Col<StringMapCodec, &Tr::metadata>("metadata", "Map(LowCardinality(String), String)"),
      Col<NullableStringCodec, &Tr::release>("release", "Nullable(String)"),
      Col<NullableStringCodec, &Tr::version>("version", "Nullable(String)"),
      Col<StringCodec, &Tr::project_id>("project_id", "String"),
      Col<StringCodec, &Tr::environment>("environment", "LowCardinality(String)"),
      Col<BoolCodec, &Tr::is_public>("public", "Bool"),
      Col<BoolCodec, &Tr::bookmarked>("bookmarked", "Bool"),
      Col<StringArrayCodec, &Tr::tags>("tags", "Array(String)"),
      Col<NullableStringCodec, &Tr::input>("input", "Nullable(String)"),
      Col<NullableStringCodec, &Tr::output>("output", "Nullable(String)"),
      Col<NullableStringCodec, &Tr::session_id>("session_id", "Nullable(String)"),
      Col<DateTime64Codec, &Tr::created_at_ms>("created_at", "DateTime64(3)"),
      Col<DateTime64Codec, &Tr::updated_at_ms>("updated_at", "DateTime64(3)"),
      Col<DateTime64Codec, &Tr::event_ts_ms>("event_ts", "DateTime64(3)"),
      Col<UInt8Codec, &Tr::is_deleted>("is_deleted", "UInt8"),
  };
  return kColumns;
}

const std::vector<Column<Ob>>& ObservationColumns() {
  static const std::vector<Column<Ob>> kColumns = {
      Col<StringCodec, &Ob::id>("id", "String"),
      Col<StringCodec, &Ob::trace_id>("trace_id", "String"),
      Col<StringCodec, &Ob::project_id>("project_id", "String"),
      Col<StringCodec, &Ob::environment>("environment", "LowCardinality(String)"),
      Col<StringCodec, &Ob::type>("type", "LowCardinality(String)"),
      Col<NullableStringCodec, &Ob::parent_observation_id>("parent_observation_id", "Nullable(String)"),
      Col<DateTime64Codec, &Ob::start_time_ms>("start_time", "DateTime64(3)"),
      Col<NullableDateTime64Codec, &Ob::end_time_ms>("end_time", "Nullable(DateTime64(3))"),
      Col<StringCodec, &Ob::name>("name", "String"),
      Col<StringMapCodec, &Ob::metadata>("metadata", "Map(LowCardinality(String), String)"),
      Col<StringCodec, &Ob::level>("level", "LowCardinality(String)"),
      Col<NullableStringCodec, &Ob::status_message>("status_message", "Nullable(String)"),
      Col<NullableStringCodec, &Ob::version>("version", "Nullable(String)"),
      Col<NullableStringCodec, &Ob::input>("input", "Nullable(String)"),
      Col<NullableStringCodec, &Ob::output>("output", "Nullable(String)"),
      Col<NullableStringCodec, &Ob::provided_model_name>("provided_model_name", "Nullable(String)"),
      Col<NullableStringCodec, &Ob::internal_model_id>("internal_model_id", "Nullable(String)"),
      Col<NullableStringCodec, &Ob::model_parameters>("model_parameters", "Nullable(String)"),
      Col<UInt64MapCodec, &Ob::provided_usage_details>("provided_usage_details", "Map(LowCardinality(String), UInt64)"),
      Col<UInt64MapCodec, &Ob::usage_details>("usage_details", "Map(LowCardinality(String), UInt64)"),
      Col<DecimalMapCodec, &Ob::provided_cost_details>("provided_cost_details", "Map(LowCardinality(String), Decimal(18, 12))"),
      Col<DecimalMapCodec, &Ob::cost_details>("cost_details", "Map(LowCardinality(String), Decimal(18, 12))"),
      Col<NullableDecimalCodec, &Ob::total_cost>("total_cost", "Nullable(Decimal(18, 12))"),
      Col<NullableDateTime64Codec, &Ob::completion_start_time_ms>("completion_start_time", "Nullable(DateTime64(3))"),
      Col<NullableStringCodec, &Ob::prompt_id>("prompt_id", "Nullable(String)"),
      Col<NullableStringCodec, &Ob::prompt_name>("prompt_name", "Nullable(String)"),
      Col<NullableUInt16Codec, &Ob::prompt_version>("prompt_version", "Nullable(UInt16)"),
      Col<DateTime64Codec, &Ob::created_at_ms>("created_at", "DateTime64(3)"),
      Col<DateTime64Codec, &Ob::updated_at_ms>("updated_at", "DateTime64(3)"),
      Col<DateTime64Codec, &Ob::event_ts_ms>("event_ts", "DateTime64(3)"),
      Col<UInt8Codec, &Ob::is_deleted>("is_deleted", "UInt8"),
      Col<NullableStringCodec, &Ob::usage_pricing_tier_id>("usage_pricing_tier_id", "Nullable(String)"),
      Col<NullableStringCodec, &Ob::usage_pricing_tier_name>("usage_pricing_tier_name", "Nullable(String)"),
      Col<StringMapCodec, &Ob::tool_definitions>("tool_definitions", "Map(String, String)"),
      Col<StringArrayCodec, &Ob::tool_calls>("tool_calls", "Array(String)"),
      Col<StringArrayCodec, &Ob::tool_call_names>("tool_call_names", "Array(String)"),
  };
  return kColumns;
}

const std::vector<Column<Sc>>& ScoreColumns() {
  static const std::vector<Column<Sc>> kColumns = {
      Col<StringCodec, &Sc::id>("id", "String"),
      Col<DateTime64Codec, &Sc::timestamp_ms>("timestamp", "DateTime64(3)"),
      Col<StringCodec, &Sc::project_id>("project_id", "String"),
      Col<StringCodec, &Sc::environment>("environment", "LowCardinality(String)"),
      Col<NullableStringCodec, &Sc::trace_id>("trace_id", "Nullable(String)"),
      Col<NullableStringCodec, &Sc::session_id>("session_id", "Nullable(String)"),
      Col<NullableStringCodec, &Sc::dataset_run_id>("dataset_run_id", "Nullable(String)"),
      Col<NullableStringCodec, &Sc::observation_id>("observation_id", "Nullable(String)"),
      Col<StringCodec, &Sc::name>("name", "String"),
      Col<Float64Codec, &Sc::value>("value", "Float64"),
      Col<StringCodec, &Sc::source>("source", "String"),
      Col<NullableStringCodec, &Sc::comment>("comment", "Nullable(String)"),
      Col<StringMapCodec, &Sc::metadata>("metadata", "Map(LowCardinality(String), String)"),
      Col<NullableStringCodec, &Sc::author_user_id>("author_user_id", "Nullable(String)"),
      Col<NullableStringCodec, &Sc::config_id>("config_id", "Nullable(String)"),
      Col<StringCodec, &Sc::data_type>("data_type", "String"),
      Col<NullableStringCodec, &Sc::string_value>("string_value", "Nullable(String)"),
      Col<NullableStringCodec, &Sc::queue_id>("queue_id", "Nullable(String)"),
      Col<DateTime64Codec, &Sc::created_at_ms>("created_at", "DateTime64(3)"),
      Col<DateTime64Codec, &Sc::updated_at_ms>("updated_at", "DateTime64(3)"),
      Col<DateTime64Codec, &Sc::event_ts_ms>("event_ts", "DateTime64(3)"),
      Col<UInt8Codec, &Sc::is_deleted>("is_deleted", "UInt8"),
      Col<NullableStringCodec, &Sc::execution_trace_id>("execution_trace_id", "Nullable(String)"),
      Col<StringCodec, &Sc::long_string_value>("long_string_value", "String"),
      Col<StringCodec, &Sc::ingestion_api_key>("ingestion_api_key", "String"),
      Col<StringCodec, &Sc::ingestion_sdk_name>("ingestion_sdk_name", "LowCardinality(String)"),
      Col<StringCodec, &Sc::ingestion_sdk_version>("ingestion_sdk_version", "LowCardinality(String)"),
  };
  return kColumns;
}

// ---- generic row writer / parser over a column table -------------------------------------------

template <typename R>
std::string SelectList(const std::vector<Column<R>>& columns) {
  std::string out;
  for (const Column<R>& c : columns) {
    if (!out.empty()) out += ", ";
    out += '`';
    out += c.name;
    out += '`';
  }
  return out;
}

template <typename R>
void AppendRow(std::string& out, const std::vector<Column<R>>& columns, const R& row) {
  out.push_back('{');
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    out += columns[i].name;  // plain ASCII identifiers: nothing to escape
    out += "\":";
    columns[i].write(out, row);
  }
  out += "}\n";
}

template <typename R>
std::string RowsToJson(const std::vector<Column<R>>& columns, const std::vector<R>& rows) {
  std::string out;
  for (const R& row : rows) AppendRow(out, columns, row);
  return out;
}

template <typename R>
const Column<R>* FindColumn(const std::vector<Column<R>>& columns, std::string_view key, size_t& next) {
  // Output columns usually come in the order asked for: try the expected one first.
  if (next < columns.size() && columns[next].name == key) return &columns[next++];
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == key) {
      next = i + 1;
      return &columns[i];
    }
  }
  return nullptr;
}

bool IsBlank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

template <typename R>
StatusOr<std::vector<R>> ParseRows(std::string_view text, const std::vector<Column<R>>& columns,
                                   std::string_view table) {
  std::vector<R> rows;
  if (IsBlank(text)) return rows;
  // One padded copy of the whole answer; each line is parsed in place (the bytes after any line
  // are the rest of the buffer plus simdjson's padding, so no per-line copy is needed).
  const simdjson::padded_string buffer(text);
  simdjson::dom::parser parser;
  size_t pos = 0;
  size_t line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line(buffer.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (IsBlank(line)) continue;
    Element doc;
    if (const auto error = parser.parse(line.data(), line.size(), /*realloc_if_needed=*/false).get(doc)) {
      return Status::Internal(fmt::format("{} row at line {}: invalid JSON ({})", table, line_no,
                                          simdjson::error_message(error)));
    }
    simdjson::dom::object object;
    if (doc.get_object().get(object) != simdjson::SUCCESS) {
      return Status::Internal(fmt::format("{} row at line {}: not a JSON object", table, line_no));
    }
    R& row = rows.emplace_back();
    size_t next = 0;
    for (const auto field : object) {
      const Column<R>* column = FindColumn(columns, field.key, next);
      if (column == nullptr) continue;  // a column this codec does not know (newer schema)
      if (!column->read(field.value, row)) {
        return Status::Internal(fmt::format("{} row at line {}: column `{}` has an unexpected value", table,
                                            line_no, column->name));
      }
    }
  }
  return rows;
}

}  // namespace

std::string_view TraceSelectColumns() {
  static const std::string kList = SelectList(TraceColumns());
  return kList;
}
std::string_view ObservationSelectColumns() {
  static const std::string kList = SelectList(ObservationColumns());
  return kList;
}
std::string_view ScoreSelectColumns() {
  static const std::string kList = SelectList(ScoreColumns());
  return kList;
}

namespace {

const std::vector<Column<Ob>>& PublicObservationColumns() {
  static const std::vector<Column<Ob>> kColumns = [] {
    static constexpr std::string_view kNotShown[] = {
        "provided_usage_details", "provided_cost_details", "usage_pricing_tier_id",
        "usage_pricing_tier_name", "tool_definitions", "tool_calls", "tool_call_names"};
    std::vector<Column<Ob>> shown;
    for (const Column<Ob>& c : ObservationColumns()) {
      if (std::find(std::begin(kNotShown), std::end(kNotShown), c.name) == std::end(kNotShown)) {
        shown.push_back(c);
      }
    }
    return shown;
  }();
  return kColumns;
}

}  // namespace

std::string_view PublicObservationSelectColumns() {
  static const std::string kList = SelectList(PublicObservationColumns());
  return kList;
}

void AppendTraceJson(std::string& out, const TraceRecord& row) { AppendRow(out, TraceColumns(), row); }
void AppendObservationJson(std::string& out, const ObservationRecord& row) {
  AppendRow(out, ObservationColumns(), row);
}
void AppendScoreJson(std::string& out, const ScoreRecord& row) { AppendRow(out, ScoreColumns(), row); }

template <typename R>
std::string RowsToRowBinary(const std::vector<Column<R>>& columns, const std::vector<R>& rows) {
  std::string out;
  out.reserve(rows.size() * 1024);
  PutVarUInt(out, columns.size());
  for (const Column<R>& c : columns) PutString(out, c.name);
  for (const Column<R>& c : columns) PutString(out, c.type);
  for (const R& row : rows) {
    for (const Column<R>& c : columns) c.write_binary(out, row);
  }
  return out;
}

std::string TracesToRowBinary(const std::vector<TraceRecord>& rows) { return RowsToRowBinary(TraceColumns(), rows); }
std::string ObservationsToRowBinary(const std::vector<ObservationRecord>& rows) {
  return RowsToRowBinary(ObservationColumns(), rows);
}
std::string ScoresToRowBinary(const std::vector<ScoreRecord>& rows) { return RowsToRowBinary(ScoreColumns(), rows); }

std::string TracesToJsonEachRow(const std::vector<TraceRecord>& rows) {
  return RowsToJson(TraceColumns(), rows);
}
std::string ObservationsToJsonEachRow(const std::vector<ObservationRecord>& rows) {
  return RowsToJson(ObservationColumns(), rows);
}
std::string ScoresToJsonEachRow(const std::vector<ScoreRecord>& rows) {
  return RowsToJson(ScoreColumns(), rows);
}

StatusOr<std::vector<TraceRecord>> ParseTracesJsonEachRow(std::string_view text) {
  return ParseRows(text, TraceColumns(), "traces");
}
StatusOr<std::vector<ObservationRecord>> ParseObservationsJsonEachRow(std::string_view text) {
  return ParseRows(text, ObservationColumns(), "observations");
}
StatusOr<std::vector<ScoreRecord>> ParseScoresJsonEachRow(std::string_view text) {
  return ParseRows(text, ScoreColumns(), "scores");
}

ObservationRecord AsPublicObservationRead(const ObservationRecord& row) {
  std::string line;
  AppendObservationJson(line, row);
  auto rows = ParseRows(line, PublicObservationColumns(), "observations");
  return rows.ok() && rows->size() == 1 ? std::move(rows->front()) : ObservationRecord{};
}

}  // namespace langfuse::traces
