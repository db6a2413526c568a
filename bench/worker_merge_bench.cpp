// worker_merge_bench: the CPU of the ingestion worker's merge thread (lf-worker) per event,
// without the queue's disk or chDB: decoding queue entries and grouping their events by entity
// (Batch::Add), then merging each entity into its row and keeping the rows in the recent-rows
// cache (MergeBatch). Every entity is new, as in `bench/ingest_load.mjs`: the stored-row reader
// finds nothing, as a store would.
//
// Usage: node bench/ingest_load.mjs --dry-run | head -1 > /tmp/body.json
//        worker_merge_bench /tmp/body.json [--batch-events N] [--batches N]
// Each queue entry is the body's events with their ids made unique; a batch is --batch-events
// (10,000) events. Prints microseconds per event, the mean over --batches (30) batches after two
// unmeasured ones (the cache rotates its generations every few batches, so a mean is fairer than
// a median).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/malloc_tuning.h"
#include "ingest/batch.h"
#include "worker/batch_merge.h"

namespace {

using namespace langfuse;
using Clock = std::chrono::steady_clock;

// A store that holds none of the rows asked for.
class EmptyStore final : public worker::internal::StoredRowReader {
 public:
  StatusOr<std::vector<traces::TraceRecord>> Traces(const std::string&,
                                                    const std::vector<std::string>&) override {
    return std::vector<traces::TraceRecord>{};
  }
  StatusOr<std::vector<traces::ObservationRecord>> Observations(const std::string&,
                                                                const std::vector<std::string>&) override {
    return std::vector<traces::ObservationRecord>{};
  }
  StatusOr<std::vector<traces::ScoreRecord>> Scores(const std::string&,
                                                    const std::vector<std::string>&) override {
    return std::vector<traces::ScoreRecord>{};
  }
};

// `text` with every occurrence of `from` replaced by `to`.
std::string ReplaceAll(const std::string& text, const std::string& from, const std::string& to) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  size_t pos = 0;
  for (size_t hit; (hit = text.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(text, pos, hit - pos);
    out += to;
  }
  out.append(text, pos);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  langfuse::TuneMalloc();  // allocate as the server does
  if (argc < 2) {
    std::fprintf(stderr, "usage: worker_merge_bench BODY.json [--batch-events N] [--batches N]\n");
    return 2;
  }
  size_t batch_events = 10'000;
  int batches = 30;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--batch-events") batch_events = std::max(1, std::atoi(argv[i + 1]));
    if (flag == "--batches") batches = std::max(1, std::atoi(argv[i + 1]));
  }
  std::ifstream file(argv[1]);
  std::stringstream text;
  text << file.rdbuf();
  std::string body = text.str();
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();

  simdjson::dom::parser web_parser, worker_parser;
  auto checked = ingest::ValidateBatch(web_parser, body, ingest::EventScope{});
  if (!checked.ok() || checked->accepted.empty()) {
    std::fprintf(stderr, "worker_merge_bench: %s is not an ingestion body with accepted events\n", argv[1]);
    return 2;
  }
  // ingest_load.mjs names everything `<run id>-<conversation>-<suffix>`: the run id is the first
  // envelope id without its last two parts. Each queue entry gets its own run id.
  const std::string& first_id = checked->successes.front();
  const size_t cut = first_id.rfind('-', first_id.rfind('-') - 1);
  if (first_id.rfind('-') == std::string::npos || cut == std::string::npos) {
    std::fprintf(stderr, "worker_merge_bench: the envelope ids are not those of bench/ingest_load.mjs\n");
    return 2;
  }
  const std::string run_id = first_id.substr(0, cut + 1);
  const size_t per_entry = checked->accepted.size();
  const size_t entries_per_batch = std::max<size_t>(1, batch_events / per_entry);

  ingest::IngestionSource source;
  source.api_key_id = "bench-key";
  size_t next_entry = 0;
  auto make_batch_items = [&] {
    std::vector<queue::QueueItem> items;
    for (size_t i = 0; i < entries_per_batch; ++i) {
      const std::string unique = run_id + "q" + std::to_string(next_entry) + "-";
      std::vector<std::string> events;
      events.reserve(per_entry);
      for (const auto& event : checked->accepted) events.push_back(ReplaceAll(event, run_id, unique));
      queue::QueueItem item;
      item.id = std::to_string(++next_entry);
      item.payload = ingest::EncodeQueuePayload("bench-project", source, 1'700'000'000'000, events);
      item.event_count = static_cast<uint32_t>(events.size());
      items.push_back(std::move(item));
    }
    return items;
  };

  worker::internal::Caches caches(30'000, 64u << 20);  // the worker's defaults
  EmptyStore store;
  double add_seconds = 0, merge_seconds = 0;
  size_t events = 0, rows = 0;
  for (int b = -2; b < batches; ++b) {
    auto items = make_batch_items();
    auto batch = std::make_unique<worker::internal::Batch>();
    worker::internal::MergedRows merged;
    const auto t0 = Clock::now();
    for (auto& item : items) batch->Add(std::move(item), worker_parser);
    const auto t1 = Clock::now();
    Status status = worker::internal::MergeBatch(*batch, caches, store, 1'700'000'001'000, merged);
    const auto t2 = Clock::now();
    const size_t batch_rows = merged.traces->size() + merged.observations->size() + merged.scores->size();
    if (!status.ok() || batch->event_count() != entries_per_batch * per_entry || batch_rows == 0) {
      std::fprintf(stderr, "worker_merge_bench: the batch did not merge (%s)\n", status.message().c_str());
      return 1;
    }
    if (b < 0) continue;
    add_seconds += std::chrono::duration<double>(t1 - t0).count();
    merge_seconds += std::chrono::duration<double>(t2 - t1).count();
    events += batch->event_count();
    rows += batch_rows;
  }
  const double per = 1e6 / static_cast<double>(events);
  std::printf("worker merge thread, %d batches of %zu events (%.1f rows per 100 events), mean:\n", batches,
              entries_per_batch * per_entry, 100.0 * static_cast<double>(rows) / static_cast<double>(events));
  std::printf(
      "  decode + group (Batch::Add) %.2f us/event, merge + cache %.2f us/event, total %.2f us/event\n",
      add_seconds * per, merge_seconds * per, (add_seconds + merge_seconds) * per);
  std::printf(
      "{\"bench\":\"worker_merge\",\"batch_events\":%zu,\"add_us\":%.3f,\"merge_us\":%.3f,\"total_us\":%.3f}"
      "\n",
      entries_per_batch * per_entry, add_seconds * per, merge_seconds * per,
      (add_seconds + merge_seconds) * per);
  return 0;
}
