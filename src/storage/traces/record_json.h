#pragma once

// JSONEachRow codecs for the tracing records: one table per record type lists its columns in the
// ClickHouse table's order and how each is written and read, so the INSERT payload, the SELECT
// column list and the parser cannot drift apart.
//
// Written (INSERT ... FORMAT JSONEachRow), as Langfuse's worker writes them:
//  - DateTime64(3) as epoch-millisecond integers (ClickHouse reads a JSON integer as ticks of
//    the column's scale, timezone-free), clamped to DateTime64's range 1900-01-01..2299-12-31 so
//    every stored value reads back as it was written;
//  - Nullable as null; Map as an object; Array as an array; Bool as true/false;
//  - Decimal64(12) as a JSON number; a value Decimal64(12) cannot hold (not finite or
//    |x| >= 1e6) would fail the whole batch, so it is written as null (total_cost) or its map
//    entry is left out (cost maps);
//  - strings through AppendJsonString (invalid UTF-8 becomes U+FFFD).
//
// Read (SELECT output in JSONEachRow): DateTime64 as the UTC text "YYYY-MM-DD hh:mm:ss.fff" (the
// transports pin session_timezone = UTC) or an integer of milliseconds; 64-bit integers and
// decimals as numbers or quoted strings; Float64 null (NaN/inf) as NaN. Keys the codec does not
// know are ignored, missing keys keep the record's defaults, so a `SELECT *` over a table with
// newer columns parses too.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/traces/records.h"

namespace langfuse::traces {

//! The column list for a SELECT that feeds the parser: "`id`, `timestamp`, ..." in table order.
std::string_view TraceSelectColumns();
std::string_view ObservationSelectColumns();
std::string_view ScoreSelectColumns();

//! The observation columns the public API's observation views show: all but the provided usage
//! and cost details, the pricing tier and the tool columns, which Langfuse's public observation
//! has no field for. The API's reads select these only (a 1,000-observation trace reads about a
//! tenth faster).
std::string_view PublicObservationSelectColumns();
//! `row` as a read of PublicObservationSelectColumns() gives it back: the columns left out at
//! their defaults.
ObservationRecord AsPublicObservationRead(const ObservationRecord& row);

//! Appends one JSONEachRow line (ending in '\n') for the row.
void AppendTraceJson(std::string& out, const TraceRecord& row);
void AppendObservationJson(std::string& out, const ObservationRecord& row);
void AppendScoreJson(std::string& out, const ScoreRecord& row);

//! All rows as one JSONEachRow payload.
std::string TracesToJsonEachRow(const std::vector<TraceRecord>& rows);
std::string ObservationsToJsonEachRow(const std::vector<ObservationRecord>& rows);
std::string ScoresToJsonEachRow(const std::vector<ScoreRecord>& rows);

//! All rows as one RowBinaryWithNamesAndTypes payload (header with every column's name and
//! type, then the rows): what the worker inserts, several times cheaper for the engine to read
//! than JSON. Stores exactly what the JSONEachRow payload of the same rows stores.
inline constexpr std::string_view kRowBinaryFormat = "RowBinaryWithNamesAndTypes";
std::string TracesToRowBinary(const std::vector<TraceRecord>& rows);
std::string ObservationsToRowBinary(const std::vector<ObservationRecord>& rows);
std::string ScoresToRowBinary(const std::vector<ScoreRecord>& rows);

//! Parses JSONEachRow output (one object per line; blank lines skipped). An error names the row
//! and column that could not be read.
StatusOr<std::vector<TraceRecord>> ParseTracesJsonEachRow(std::string_view text);
StatusOr<std::vector<ObservationRecord>> ParseObservationsJsonEachRow(std::string_view text);
StatusOr<std::vector<ScoreRecord>> ParseScoresJsonEachRow(std::string_view text);

//! DateTime64(3)'s range in milliseconds (1900-01-01 00:00:00.000 .. 2299-12-31 23:59:59.999 UTC).
inline constexpr int64_t kMinDateTime64Ms = -2208988800000;
inline constexpr int64_t kMaxDateTime64Ms = 10413791999999;

}  // namespace langfuse::traces
