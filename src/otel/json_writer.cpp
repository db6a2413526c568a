#include "otel/json_writer.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace langfuse::otel {
namespace {

// 0: copied as is; 1: escaped; 2: the first byte of a multi-byte (or invalid) sequence.
constexpr std::array<uint8_t, 256> MakeByteClasses() {
  std::array<uint8_t, 256> classes{};
  for (int c = 0; c < 0x20; ++c) classes[c] = 1;
  classes['"'] = 1;
  classes['\\'] = 1;
  for (int c = 0x80; c < 0x100; ++c) classes[c] = 2;
  return classes;
}
constexpr std::array<uint8_t, 256> kByteClass = MakeByteClasses();

// The length of the well-formed UTF-8 sequence starting at s[i] (a byte >= 0x80), or 0 when it
// is ill-formed; then `skip` is the length of its maximal invalid subpart: the lead byte and the
// continuation bytes that were still acceptable (at least 1). The byte after that subpart starts
// the next sequence, which is how nlohmann's decoder resumes after a rejected byte.
size_t Utf8Sequence(std::string_view s, size_t i, size_t& skip) {
  const auto c = static_cast<uint8_t>(s[i]);
  size_t continuation = 0;
  uint8_t lo = 0x80;
  uint8_t hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    continuation = 1;
  } else if (c == 0xE0) {
    continuation = 2;
    lo = 0xA0;  // no overlong forms
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    continuation = 2;
  } else if (c == 0xED) {
    continuation = 2;
    hi = 0x9F;  // no surrogates
  } else if (c == 0xF0) {
    continuation = 3;
    lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    continuation = 3;
  } else if (c == 0xF4) {
    continuation = 3;
    hi = 0x8F;  // nothing above U+10FFFF
  } else {
    skip = 1;  // a continuation byte, C0/C1 or F5..FF: never a lead byte
    return 0;
  }
  for (size_t k = 1; k <= continuation; ++k) {
    if (i + k >= s.size()) {
      skip = k;  // truncated by the end of the string
      return 0;
    }
    const auto b = static_cast<uint8_t>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
      skip = k;
      return 0;
    }
  }
  return continuation + 1;
}

void WriteEscaped(std::string& out, uint8_t c) {
  static constexpr char kHex[] = "0123456789abcdef";
  switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\f':
      out += "\\f";
      break;
    case '\r':
      out += "\\r";
      break;
    default: {
      const char escape[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out.append(escape, sizeof(escape));
    }
  }
}

void WriteDouble(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  // nlohmann's own Grisu2 formatting, so doubles read like nlohmann prints them ("512.0", "1e+21").
  std::array<char, 64> buffer;
  const char* end = nlohmann::detail::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), static_cast<size_t>(end - buffer.data()));
}

template <typename Integer>
void WriteInteger(std::string& out, Integer value) {
  std::array<char, 24> buffer;
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), static_cast<size_t>(result.ptr - buffer.data()));
}

// Whether any of the 8 bytes in `w` is a control character, '"', '\\' or non-ASCII (the classic
// "has a zero byte" / "has a byte less than n" word tricks; exact for "any", which is all we ask).
bool HasSpecialByte(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  const uint64_t below_space = (w - kOnes * 0x20) & ~w & kHighs;
  return (below_space | has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\')) | (w & kHighs)) != 0;
}

}  // namespace

void WriteJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    size_t plain = i;
    // Text is mostly plain ASCII: skip it a word at a time, then byte by byte up to the next
    // byte that needs attention.
    for (uint64_t w; plain + 8 <= s.size(); plain += 8) {
      std::memcpy(&w, s.data() + plain, sizeof(w));
      if (HasSpecialByte(w)) break;
    }
    while (plain < s.size() && kByteClass[static_cast<uint8_t>(s[plain])] == 0) ++plain;
    out.append(s.data() + i, plain - i);
    i = plain;
    if (i == s.size()) break;
    const auto c = static_cast<uint8_t>(s[i]);
    if (kByteClass[c] == 1) {
      WriteEscaped(out, c);
      ++i;
      continue;
    }
    size_t skip = 0;
    if (const size_t length = Utf8Sequence(s, i, skip); length > 0) {
      out.append(s.data() + i, length);
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      i += skip;
    }
  }
  out.push_back('"');
}

void WriteJson(std::string& out, const nlohmann::json& value) {
  using value_t = nlohmann::json::value_t;
  switch (value.type()) {
    case value_t::null:
      out += "null";
      return;
    case value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    case value_t::number_integer:
      WriteInteger(out, value.get<int64_t>());
      return;
    case value_t::number_unsigned:
      WriteInteger(out, value.get<uint64_t>());
      return;
    case value_t::number_float:
      WriteDouble(out, value.get<double>());
      return;
    case value_t::string:
      WriteJsonString(out, value.get_ref<const std::string&>());
      return;
    case value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& element : value.get_ref<const nlohmann::json::array_t&>()) {
        if (!first) out.push_back(',');
        first = false;
        WriteJson(out, element);
      }
      out.push_back(']');
      return;
    }
    case value_t::object:
      WriteJsonObject(out, value.get_ref<const nlohmann::json::object_t&>());
      return;
    case value_t::binary:
    case value_t::discarded:
      break;  // never built by the decoders or the mapping
  }
  out += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string DumpJson(const nlohmann::json& value) {
  std::string out;
  WriteJson(out, value);
  return out;
}

}  // namespace langfuse::otel
