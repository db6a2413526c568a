#include "app/dlq_command.h"

#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "app/application.h"
#include "common/time.h"
#include "config/config.h"
#include "ingest/batch.h"
#include "queue/event_queue.h"

namespace langfuse::app {
namespace {

constexpr const char* kHelp = R"(Usage: langfuse dlq list [--limit N]
       langfuse dlq replay [ID ...]

Events whose insert failed LANGFUSE_INGESTION_CLICKHOUSE_MAX_ATTEMPTS times are kept in a
dead-letter store instead of being dropped. `list` prints one JSON object per entry (id, when it
was accepted and failed, the reason, the project and event count). `replay` sends the given
entries (all when no id is given) back to the ingestion queue; the running server's worker
picks them up. Works on the queue the server uses: Redis (REDIS_CONNECTION_STRING or REDIS_HOST,
dead letters in the stream <REDIS_KEY_PREFIX>langfuse:ingestion:dlq) when configured, else the
local queue in LANGFUSE_DATA_DIR (default ./data).
)";

StatusOr<std::unique_ptr<queue::EventQueue>> OpenQueue(const Config& config) {
  // The local queue file is not created here: a wrong LANGFUSE_DATA_DIR should be an error.
  if (!config.redis_configured && !std::filesystem::exists(config.QueueDbPath())) {
    return Status::NotFound("no queue at " + config.QueueDbPath() + " (is LANGFUSE_DATA_DIR right?)");
  }
  return OpenConfiguredEventQueue(config);
}

}  // namespace

int RunDlqCommand(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kHelp, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const Config config = LoadConfig();
  auto queue = OpenQueue(config);
  if (!queue.ok()) {
    std::fprintf(stderr, "langfuse dlq: %s\n", queue.status().message().c_str());
    return 1;
  }
  const std::string& verb = args[0];
  if (verb == "list") {
    size_t limit = 1000;
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i] == "--limit" && i + 1 < args.size()) {
        limit = std::stoul(args[++i]);
      } else {
        std::fprintf(stderr, "langfuse dlq list: unexpected argument '%s'\n", args[i].c_str());
        return 2;
      }
    }
    auto letters = (*queue)->ListDeadLetters(limit);
    if (!letters.ok()) {
      std::fprintf(stderr, "langfuse dlq: %s\n", letters.status().message().c_str());
      return 1;
    }
    for (const auto& d : *letters) {
      auto json = ingest::QueuePayloadJson(d.payload);
      auto payload = nlohmann::json::parse(json.ok() ? *json : std::string(), nullptr, false);
      nlohmann::ordered_json line = {{"id", d.id},
                                     {"acceptedAt", FormatIso8601Ms(d.enqueued_at_ms)},
                                     {"failedAt", FormatIso8601Ms(d.failed_at_ms)},
                                     {"events", d.event_count},
                                     {"projectId", payload.is_object() ? payload.value("projectId", "") : ""},
                                     {"reason", d.reason}};
      std::printf("%s\n", line.dump().c_str());
    }
    std::fprintf(stderr, "%zu dead-letter entr%s\n", letters->size(), letters->size() == 1 ? "y" : "ies");
    return 0;
  }
  if (verb == "replay") {
    std::vector<std::string> ids(args.begin() + 1, args.end());
    auto replayed = (*queue)->ReplayDeadLetters(ids);
    if (!replayed.ok()) {
      std::fprintf(stderr, "langfuse dlq: %s\n", replayed.status().message().c_str());
      return 1;
    }
    std::printf("%lld entr%s sent back to the queue\n", static_cast<long long>(*replayed), *replayed == 1 ? "y" : "ies");
    return 0;
  }
  std::fprintf(stderr, "langfuse dlq: unknown verb '%s'\n\n%s", verb.c_str(), kHelp);
  return 2;
}

}  // namespace langfuse::app
