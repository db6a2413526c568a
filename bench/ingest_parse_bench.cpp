// ingest_parse_bench: the CPU an ingestion request's events cost in our own code, without HTTP,
// the queue's disk or chDB: validating a POST /api/public/ingestion body as the web role does,
// encoding the queue payload, and decoding it again as the worker does.
//
// Usage: node bench/ingest_load.mjs --dry-run | head -1 > /tmp/body.json
//        ingest_parse_bench /tmp/body.json [--rounds N]
// Prints microseconds per event for each step (the median of 5 passes of N rounds each).
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

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  langfuse::TuneMalloc();  // allocate as the server does
  if (argc < 2) {
    std::fprintf(stderr, "usage: ingest_parse_bench BODY.json [--rounds N]\n");
    return 2;
  }
  int rounds = 500;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  std::ifstream file(argv[1]);
  std::stringstream text;
  text << file.rdbuf();
  std::string body = text.str();
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();

  using namespace langfuse;
  simdjson::dom::parser web_parser, worker_parser;
  auto first = ingest::ValidateBatch(web_parser, body, ingest::EventScope{});
  if (!first.ok() || first->accepted.empty()) {
    std::fprintf(stderr, "ingest_parse_bench: %s is not an ingestion body with accepted events\n", argv[1]);
    return 2;
  }
  const double events = static_cast<double>(first->accepted.size());
  std::vector<double> validate, encode, decode;
  for (int pass = 0; pass < 5; ++pass) {
    double v = 0, e = 0, d = 0;
    for (int r = 0; r < rounds; ++r) {
      const auto t0 = Clock::now();
      auto checked = ingest::ValidateBatch(web_parser, body, ingest::EventScope{});
      const auto t1 = Clock::now();
      const std::string payload = ingest::EncodeQueuePayload("project", ingest::IngestionSource{}, 0, checked->accepted);
      const auto t2 = Clock::now();
      auto decoded = ingest::DecodeQueuePayload(worker_parser, payload);
      const auto t3 = Clock::now();
      if (!decoded.ok() || decoded->events.size() != checked->accepted.size()) {
        std::fprintf(stderr, "ingest_parse_bench: the payload did not decode to the accepted events\n");
        return 1;
      }
      v += std::chrono::duration<double>(t1 - t0).count();
      e += std::chrono::duration<double>(t2 - t1).count();
      d += std::chrono::duration<double>(t3 - t2).count();
    }
    const double per = 1e6 / (events * rounds);
    validate.push_back(v * per);
    encode.push_back(e * per);
    decode.push_back(d * per);
  }
  std::printf("ingestion parsing, %.0f events of %.0f B per request, median of 5 x %d requests:\n", events,
              static_cast<double>(body.size()) / events, rounds);
  std::printf("  web: validate %.2f us/event, encode queue payload %.2f us/event\n", Median(validate),
              Median(encode));
  std::printf("  worker: decode queue payload %.2f us/event\n", Median(decode));
  std::printf("{\"bench\":\"ingest_parse\",\"events_per_request\":%.0f,\"validate_us\":%.3f,\"encode_us\":%.3f,"
              "\"decode_us\":%.3f}\n",
              events, Median(validate), Median(encode), Median(decode));
  return 0;
}
