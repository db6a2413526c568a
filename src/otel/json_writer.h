#pragma once

// JSON text for the OTel mapping's events, appended to a string instead of built as a tree and
// dumped. The output is byte for byte what nlohmann::json's
// `dump(-1, ' ', false, error_handler_t::replace)` writes for the same value, so events written
// piecewise look exactly like the ones the mapping used to dump (object keys sorted, doubles in
// nlohmann's shortest round-trip form, invalid UTF-8 replaced by U+FFFD the way nlohmann does).

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace langfuse::otel {

//! Appends `s` as a JSON string literal (with quotes). `"`, `\` and control characters are
//! escaped (`\n`-style where JSON has one, `\u00xx` otherwise); every ill-formed UTF-8 sequence
//! (a maximal invalid subpart, as Unicode defines it) becomes one U+FFFD.
void WriteJsonString(std::string& out, std::string_view s);

//! Appends the compact JSON text of `value`.
void WriteJson(std::string& out, const nlohmann::json& value);

//! Appends a JSON object of `members`, (key, nlohmann::json) pairs in the order given.
template <typename Members>
void WriteJsonObject(std::string& out, const Members& members) {
  out.push_back('{');
  bool first = true;
  for (const auto& [key, value] : members) {
    if (!first) out.push_back(',');
    first = false;
    WriteJsonString(out, key);
    out.push_back(':');
    WriteJson(out, value);
  }
  out.push_back('}');
}

//! `value`'s compact JSON text (nlohmann's dump with invalid UTF-8 replaced).
std::string DumpJson(const nlohmann::json& value);

}  // namespace langfuse::otel
