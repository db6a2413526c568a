#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace langfuse {

//! Milliseconds since the Unix epoch, now.
int64_t NowMs();

//! Parses an ISO-8601 date-time that carries `Z` or a `±HH:MM`/`±HHMM` offset (naive times are
//! rejected, as Langfuse rejects them). Any number of fractional digits; truncated to ms.
std::optional<int64_t> ParseIso8601Ms(std::string_view text);

//! `YYYY-MM-DDTHH:mm:ss.sssZ`, the form Langfuse's responses use.
std::string FormatIso8601Ms(int64_t ms);

//! `YYYY-MM-DD HH:MM:SS.mmm` (UTC), ClickHouse's text form of DateTime64(3).
std::string FormatClickHouseDateTime64(int64_t ms);
//! Parses ClickHouse's text form of DateTime64 (`YYYY-MM-DD HH:MM:SS[.fff...]`, UTC).
std::optional<int64_t> ParseClickHouseDateTime64(std::string_view text);

}  // namespace langfuse
