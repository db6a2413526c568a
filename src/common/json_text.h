#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace langfuse {

//! Appends `s` as a JSON string literal (with quotes) to `out`. Invalid UTF-8 bytes are replaced
//! by U+FFFD so the output is always valid JSON.
void AppendJsonString(std::string& out, std::string_view s);
//! `s` as a JSON string literal.
std::string JsonString(std::string_view s);
//! Appends `s` with every invalid UTF-8 byte replaced by U+FFFD (as AppendJsonString does), unescaped.
void AppendValidUtf8(std::string& out, std::string_view s);
//! Appends a double as JSON (NaN and infinities, which JSON lacks, become null).
void AppendJsonNumber(std::string& out, double v);

}  // namespace langfuse
