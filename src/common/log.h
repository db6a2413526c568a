#pragma once

#include <fmt/core.h>

#include <string_view>

namespace langfuse {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

//! Sets the lowest level written (from LANGFUSE_LOG_LEVEL at start-up).
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
//! Writes one line to stderr: time, level, message. Thread-safe; one write(2) per line.
void LogLine(LogLevel level, std::string_view message);

template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (LogEnabled(level)) LogLine(level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace langfuse

#define LOG_DEBUG(...) ::langfuse::Log(::langfuse::LogLevel::kDebug, __VA_ARGS__)
#define LOG_INFO(...) ::langfuse::Log(::langfuse::LogLevel::kInfo, __VA_ARGS__)
#define LOG_WARN(...) ::langfuse::Log(::langfuse::LogLevel::kWarn, __VA_ARGS__)
#define LOG_ERROR(...) ::langfuse::Log(::langfuse::LogLevel::kError, __VA_ARGS__)
