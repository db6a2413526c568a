#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "common/time.h"

namespace langfuse {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void LogLine(LogLevel level, std::string_view message) {
  std::string line = FormatIso8601Ms(NowMs());
  line += ' ';
  line += kNames[static_cast<int>(level)];
  line += ' ';
  line.append(message);
  line += '\n';
  // One write per line keeps lines from interleaving between threads.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace langfuse
