#include "storage/traces/clickhouse_sql.h"

#include <array>
#include <charconv>
#include <map>
#include <memory>
#include <mutex>

#include <fmt/core.h>

#include "common/time.h"
#include "storage/traces/clickhouse_transport.h"

namespace langfuse::traces {
namespace {

constexpr std::array<SessionSetting, 7> kSessionSettings{{
    // DateTime text (parameters, SELECT output, toDate()/toYYYYMM() in sort and partition keys)
    // in UTC whatever the host's TZ: chDB otherwise takes the process's local zone, while
    // Langfuse's ClickHouse runs in UTC.
    {"session_timezone", "UTC"},
    // The record codecs parse DateTime64 from this text form ("YYYY-MM-DD hh:mm:ss.fff").
    {"date_time_output_format", "simple"},
    // 64-bit integers and decimals as JSON numbers (simdjson reads both exactly enough); the
    // codecs also accept the quoted form a differently configured server would send.
    {"output_format_json_quote_64bit_integers", "0"},
    {"output_format_json_quote_decimals", "0"},
    // Stored bytes that are not UTF-8 (written by other clients) come out as U+FFFD instead of
    // making the whole answer unparseable.
    {"output_format_json_validate_utf8", "1"},
    // Langfuse applies this on ClickHouse >= 25.4 (`CLICKHOUSE_DISABLE_LAZY_MATERIALIZATION=auto`):
    // lazy materialization fails some compound predicates ("Not found column and(...)").
    {"query_plan_optimize_lazy_materialization", "0"},
    // An INSERT into a ReplacingMergeTree writes its rows as they come instead of first collapsing
    // rows that share a sort key: the worker writes one row per key already, and FINAL (or
    // LIMIT 1 BY id) collapses versions wherever they lie, in one part or several. Collapsing on
    // insert took about 40 % of an observations INSERT's CPU (100,000 rows in blocks of 25,000:
    // 0.76-0.84 s, 0.45-0.51 s without).
    {"optimize_on_insert", "0"},
}};

// Error names (the "(NAME)" ClickHouse puts after its message) that describe a condition a later
// retry can clear, as opposed to a broken statement.
constexpr std::array<std::string_view, 15> kTransientErrors{
    "TIMEOUT_EXCEEDED",
    "TOO_SLOW",
    "TOO_MANY_SIMULTANEOUS_QUERIES",
    "MEMORY_LIMIT_EXCEEDED",
    "TOO_MANY_PARTS",
    "QUERY_WAS_CANCELLED",
    "ABORTED",
    "CANNOT_SCHEDULE_TASK",
    "KEEPER_EXCEPTION",
    "TABLE_IS_READ_ONLY",
    "NETWORK_ERROR",
    "SOCKET_TIMEOUT",
    "ALL_CONNECTION_TRIES_FAILED",
    "NO_FREE_CONNECTION",
    "UNKNOWN_STATUS_OF_INSERT",
};

bool IsNameChar(char c, bool allow_dot_dash) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         (allow_dot_dash && (c == '.' || c == '-'));
}

// The escapes shared by ClickHouse's escaped (TSV) and quoted text forms, for the bytes that
// would otherwise end or corrupt the value.
void AppendEscaped(std::string& out, std::string_view s, bool escape_quote) {
  for (const char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\0':
        out += "\\0";
        break;
      case '\'':
        if (escape_quote)
          out += "\\'";
        else
          out.push_back(c);
        break;
      default:
        out.push_back(c);
    }
  }
}

}  // namespace

std::span<const SessionSetting> SessionSettings() { return kSessionSettings; }

TransportMetrics& GetTransportMetrics(std::string_view transport) {
  static std::mutex mu;
  static auto* by_name = new std::map<std::string, std::unique_ptr<TransportMetrics>, std::less<>>;
  std::lock_guard lock(mu);
  if (auto it = by_name->find(transport); it != by_name->end()) return *it->second;
  MetricsRegistry& m = Metrics();
  const auto labels = [&](std::string_view kind) {
    return fmt::format(R"(transport="{}",kind="{}")", transport, kind);
  };
  constexpr const char* kSeconds = "langfuse_clickhouse_statement_seconds";
  constexpr const char* kSecondsHelp = "Time of one ClickHouse statement, by transport and kind";
  constexpr const char* kErrors = "langfuse_clickhouse_statement_errors_total";
  constexpr const char* kErrorsHelp = "ClickHouse statements that failed, by transport and kind";
  auto metrics = std::make_unique<TransportMetrics>(TransportMetrics{
      m.GetHistogram(kSeconds, kSecondsHelp, labels("read")),
      m.GetHistogram(kSeconds, kSecondsHelp, labels("write")),
      m.GetHistogram(kSeconds, kSecondsHelp, labels("insert")),
      m.GetCounter(kErrors, kErrorsHelp, labels("read")),
      m.GetCounter(kErrors, kErrorsHelp, labels("write")),
      m.GetCounter(kErrors, kErrorsHelp, labels("insert")),
      m.GetCounter("langfuse_clickhouse_connection_wait_timeouts_total",
                   "Statements refused because no ClickHouse connection became free in time",
                   fmt::format(R"(transport="{}")", transport)),
  });
  return *by_name->emplace(std::string(transport), std::move(metrics)).first->second;
}

Status StatusFromClickHouseError(std::string_view what, std::string_view error) {
  std::string message(what);
  message += ": ";
  message += error;
  for (const std::string_view name : kTransientErrors) {
    if (error.find(fmt::format("({})", name)) != std::string_view::npos)
      return Status::Unavailable(std::move(message));
  }
  return Status::Internal(std::move(message));
}

bool IsSafeSqlName(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!IsNameChar(c, /*allow_dot_dash=*/true)) return false;
  }
  return true;
}

bool IsSqlIdentifier(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!IsNameChar(c, /*allow_dot_dash=*/false)) return false;
  }
  return true;
}

bool IsReadOnlyStatement(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(') {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      i = sql.find('\n', i);
      if (i == std::string_view::npos) return false;
    } else if (sql.substr(i, 2) == "/*") {
      i = sql.find("*/", i + 2);
      if (i == std::string_view::npos) return false;
      i += 2;
    } else {
      break;
    }
  }
  size_t end = i;
  while (end < sql.size() && ((sql[end] >= 'a' && sql[end] <= 'z') || (sql[end] >= 'A' && sql[end] <= 'Z')))
    ++end;
  std::string word(sql.substr(i, end - i));
  for (char& c : word) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return word == "SELECT" || word == "WITH" || word == "SHOW" || word == "DESCRIBE" || word == "DESC" ||
         word == "EXPLAIN" || word == "EXISTS";
}

std::string InsertStatement(std::string_view table, std::string_view dedup_token) {
  std::string sql = "INSERT INTO ";
  // Back-quote each dotted part: `-` is legal in our names but not in a bare identifier.
  size_t start = 0;
  while (true) {
    const size_t dot = table.find('.', start);
    sql += '`';
    sql += table.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    sql += '`';
    if (dot == std::string_view::npos) break;
    sql += '.';
    start = dot + 1;
  }
  if (!dedup_token.empty()) {
    sql += " SETTINGS insert_deduplicate = 1, insert_deduplication_token = '";
    sql += dedup_token;
    sql += '\'';
  }
  return sql;
}

QueryParam StringParam(std::string name, std::string_view value) {
  QueryParam p{std::move(name), {}};
  p.value.reserve(value.size());
  AppendEscaped(p.value, value, /*escape_quote=*/false);
  return p;
}

QueryParam StringArrayParam(std::string name, const std::vector<std::string>& values) {
  QueryParam p{std::move(name), "["};
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) p.value += ',';
    p.value += '\'';
    AppendEscaped(p.value, values[i], /*escape_quote=*/true);
    p.value += '\'';
  }
  p.value += ']';
  return p;
}

QueryParam Int64Param(std::string name, int64_t value) { return {std::move(name), std::to_string(value)}; }

QueryParam UInt64Param(std::string name, uint64_t value) { return {std::move(name), std::to_string(value)}; }

QueryParam DateTime64MsParam(std::string name, int64_t ms) {
  return {std::move(name), FormatClickHouseDateTime64(ms)};
}

}  // namespace langfuse::traces
