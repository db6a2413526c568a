#include "common/time.h"

#include <chrono>
#include <cstdio>

namespace langfuse {
namespace {

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool Digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// Parses "YYYY-MM-DD?HH:MM:SS[.fff]" at the start of `s` where ? is `sep_ok`; returns the index
// after the seconds/fraction, or 0 on failure.
size_t ParseDateTimePrefix(std::string_view s, bool allow_space, int64_t& ms_out) {
  int y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, mo) || s[7] != '-' ||
      !Digits(s, 8, 2, d))
    return 0;
  if (!(s[10] == 'T' || s[10] == 't' || (allow_space && s[10] == ' '))) return 0;
  if (!Digits(s, 11, 2, h) || s[13] != ':' || !Digits(s, 14, 2, mi) || s[16] != ':' || !Digits(s, 17, 2, sec))
    return 0;
  if (mo < 1 || mo > 12 || d < 1 || d > static_cast<int>(DaysInMonth(y, mo)) || h > 23 || mi > 59 || sec > 60)
    return 0;
  size_t pos = 19;
  int frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const size_t start = pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) {
        frac_ms = frac_ms * 10 + (s[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (pos == start) return 0;
    while (digits < 3) {
      frac_ms *= 10;
      ++digits;
    }
  }
  if (sec == 60) sec = 59;  // a leap second is clamped rather than rejected
  const int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  ms_out = ((days * 24 + h) * 60 + mi) * 60'000 + static_cast<int64_t>(sec) * 1000 + frac_ms;
  return pos;
}

}  // namespace

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<int64_t> ParseIso8601Ms(std::string_view s) {
  int64_t ms = 0;
  size_t pos = ParseDateTimePrefix(s, /*allow_space=*/false, ms);
  if (pos == 0 || pos >= s.size()) return std::nullopt;
  if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) return ms;
  if (s[pos] != '+' && s[pos] != '-') return std::nullopt;
  const int sign = s[pos] == '+' ? 1 : -1;
  int oh, om;
  if (!Digits(s, pos + 1, 2, oh)) return std::nullopt;
  size_t next = pos + 3;
  if (next < s.size() && s[next] == ':') ++next;
  if (!Digits(s, next, 2, om) || next + 2 != s.size() || oh > 23 || om > 59) return std::nullopt;
  return ms - sign * (static_cast<int64_t>(oh) * 60 + om) * 60'000;
}

std::optional<int64_t> ParseClickHouseDateTime64(std::string_view s) {
  int64_t ms = 0;
  const size_t pos = ParseDateTimePrefix(s, /*allow_space=*/true, ms);
  if (pos == 0 || pos != s.size()) return std::nullopt;
  return ms;
}

namespace {
// YYYY-MM-DD<sep>HH:MM:SS.mmm, followed by `suffix` (years outside 0-9999 as %04d writes them).
std::string Format(int64_t ms, char separator, std::string_view suffix) {
  int64_t days = ms / 86'400'000;
  int64_t rem = ms % 86'400'000;
  if (rem < 0) {
    rem += 86'400'000;
    --days;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  const int h = static_cast<int>(rem / 3'600'000);
  const int mi = static_cast<int>(rem / 60'000 % 60);
  const int sec = static_cast<int>(rem / 1000 % 60);
  const int milli = static_cast<int>(rem % 1000);
  if (y < 0 || y > 9999) {  // rare: the general path
    char buf[48];
    std::snprintf(buf, sizeof(buf), "%04d-%02u-%02u%c%02d:%02d:%02d.%03d", static_cast<int>(y), m, d, separator, h,
                  mi, sec, milli);
    return std::string(buf) + std::string(suffix);
  }
  char buf[24];
  const auto put = [&buf](int at, int value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10) buf[at + i] = static_cast<char>('0' + value % 10);
  };
  put(0, static_cast<int>(y), 4);
  buf[4] = '-';
  put(5, static_cast<int>(m), 2);
  buf[7] = '-';
  put(8, static_cast<int>(d), 2);
  buf[10] = separator;
  put(11, h, 2);
  buf[13] = ':';
  put(14, mi, 2);
  buf[16] = ':';
  put(17, sec, 2);
  buf[19] = '.';
  put(20, milli, 3);
  std::string out;
  out.reserve(23 + suffix.size());
  out.append(buf, 23);
  out.append(suffix);
  return out;
}
}  // namespace

std::string FormatIso8601Ms(int64_t ms) { return Format(ms, 'T', "Z"); }

std::string FormatClickHouseDateTime64(int64_t ms) { return Format(ms, ' ', ""); }

}  // namespace langfuse
