#pragma once

// Scores checked before they are queued, in the web role, as Langfuse's validateAndInflateScore
// checks them in its worker (packages/shared/src/server/ingestion/validateAndInflateScore.ts,
// v3.225.4). Langfuse drops a failing score there without telling the client; here the client
// gets the reason: a 400 from POST /api/public/scores, a per-event 400 in the 207 of
// POST /api/public/ingestion, and nothing is stored for that score.
//
// The rules:
//   - a score that names a configId: the config must exist in the key's project and be valid,
//     its data type must match the score's (when the score states one), it must not be archived,
//     and the value must fit it: NUMERIC within min/max, CATEGORICAL one of the labels, BOOLEAN
//     0 or 1, TEXT 1 to 500 characters. The score then takes the config's name and data type,
//     and a CATEGORICAL score the numeric value of its label;
//   - source ANNOTATION needs a configId, except for CORRECTION scores;
//   - a CORRECTION score names no config and belongs to a trace or an observation, never to a
//     session or a dataset run.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "api/json_views.h"
#include "common/status.h"
#include "ingest/batch.h"
#include "storage/meta/meta_store.h"

namespace langfuse::api {

//! The body field through which a checked CATEGORICAL score carries its label's numeric value to
//! the worker (the event parser honours it only next to a configId, and every event with a
//! configId passes this check, which sets or clears the field).
inline constexpr std::string_view kCategoryValueField = "_configCategoryValue";

//! Score configs by (project, id), read from the transactional store and kept for `ttl`, so that
//! a batch of scores naming one config costs one read. PATCHes through this process invalidate
//! their entry; changes made by another process show after at most `ttl`. Absent configs are not
//! kept (a config created a moment later is seen at once). Thread-safe.
class ScoreConfigCache {
 public:
  ScoreConfigCache(meta::MetaStore& store, std::chrono::milliseconds ttl, size_t capacity);

  //! The config, or nullopt when the project has none with that id. Store errors pass through.
  StatusOr<std::optional<meta::ScoreConfig>> Get(const std::string& project_id, const std::string& config_id);
  //! Forgets the entry (after an update of the config).
  void Invalidate(const std::string& project_id, const std::string& config_id);

 private:
  struct Entry {
    meta::ScoreConfig config;
    std::chrono::steady_clock::time_point expires;
  };

  meta::MetaStore& store_;
  const std::chrono::milliseconds ttl_;
  const size_t capacity_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // GUARDED_BY(mu_); key: project '\n' id
};

//! The process's cache for `store` (5 s, 10,000 configs), created on first use. The API context
//! has no slot for it, so the caches live in a registry keyed by the store.
ScoreConfigCache& ScoreConfigCacheFor(meta::MetaStore& store);

//! What a score becomes once checked against its config.
struct ScoreInflation {
  std::string name;                      //!< the config's name
  std::string data_type;                 //!< the config's data type
  std::optional<double> category_value;  //!< CATEGORICAL: the value of the score's label
};

//! Checks the score `body` (as POST /scores and score-create events carry it) against `config`.
//! kInvalidArgument with Langfuse's messages.
StatusOr<ScoreInflation> CheckScoreAgainstConfig(const Json& body, const meta::ScoreConfig& config);

//! Every rule above for `body` of the project: kInvalidArgument naming the problem, or what the
//! body must become (nullopt when it names no config). Store errors pass through.
StatusOr<std::optional<ScoreInflation>> ValidateScore(ScoreConfigCache& configs,
                                                      const std::string& project_id, const Json& body);

//! Writes the inflation into `body`: name, dataType and, for CATEGORICAL, kCategoryValueField.
void ApplyScoreInflation(const ScoreInflation& inflation, Json& body);

//! Runs ValidateScore on the score-create events of a validated ingestion batch. A failing event
//! leaves `accepted` and `successes` for `errors` (400, "Invalid request data", the reason); an
//! event with a config is rewritten with its inflation. Only events whose text mentions a
//! configId, ANNOTATION or CORRECTION are parsed. Returns a store error (the request then fails
//! as a whole, nothing queued).
Status CheckBatchScores(ScoreConfigCache& configs, const std::string& project_id,
                        ingest::BatchValidation& batch);

}  // namespace langfuse::api
