#include "api/score_validation.h"

#include <map>

#include <fmt/core.h>

namespace langfuse::api {
namespace {

constexpr std::string_view kAnnotationNeedsConfig =
    "configId is required when source is ANNOTATION (except for CORRECTION scores).";
constexpr std::string_view kConfigNotFound =
    "The configId you provided does not match a valid config in this project";
constexpr size_t kTextMaxLength = 500;

// A string member, nullopt when absent, null or not a string.
std::optional<std::string> StringMember(const Json& body, const char* key) {
  const auto it = body.find(key);
  if (it == body.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// Langfuse tests these members for truthiness: a non-empty string.
bool NonEmpty(const Json& body, const char* key) {
  const auto id = StringMember(body, key);
  return id && !id->empty();
}

std::string FormatNumber(double value) { return fmt::format("{}", value); }

Status Invalid(std::string_view why) {
  return Status::InvalidArgument(
      fmt::format("Ingested score body not valid against provided config: {}", why));
}

// The config's categories as [{label, value}]; nullopt when the stored JSON is not that shape
// (Langfuse then treats the config as invalid, i.e. as not found).
std::optional<std::vector<std::pair<std::string, double>>> Categories(const meta::ScoreConfig& config) {
  std::vector<std::pair<std::string, double>> out;
  if (!config.categories) return out;
  const Json parsed = Json::parse(*config.categories, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) return std::nullopt;
  for (const Json& category : parsed) {
    if (!category.is_object()) return std::nullopt;
    const auto label = category.find("label");
    const auto value = category.find("value");
    if (label == category.end() || !label->is_string() || value == category.end() || !value->is_number()) {
      return std::nullopt;
    }
    out.emplace_back(label->get<std::string>(), value->get<double>());
  }
  return out;
}

// Whether an ingestion event's text can need a check at all (cheap, before any parsing).
bool MayNeedCheck(std::string_view event) {
  if (event.find("\"score-create\"") == std::string_view::npos) return false;
  return event.find("configId") != std::string_view::npos ||
         event.find("ANNOTATION") != std::string_view::npos ||
         event.find("CORRECTION") != std::string_view::npos ||
         event.find(kCategoryValueField) != std::string_view::npos;
}

}  // namespace

ScoreConfigCache::ScoreConfigCache(meta::MetaStore& store, std::chrono::milliseconds ttl, size_t capacity)
    : store_(store), ttl_(ttl), capacity_(capacity) {}

StatusOr<std::optional<meta::ScoreConfig>> ScoreConfigCache::Get(const std::string& project_id,
                                                                 const std::string& config_id) {
  const std::string key = project_id + '\n' + config_id;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    const auto it = entries_.find(key);
    if (it != entries_.end() && it->second.expires > now)
      return std::optional<meta::ScoreConfig>(it->second.config);
  }
  auto read = store_.GetScoreConfig(project_id, config_id);
  if (!read.ok() || !read->has_value()) return read;
  std::lock_guard lock(mu_);
  if (entries_.size() >= capacity_) {
    std::erase_if(entries_, [&](const auto& entry) { return entry.second.expires <= now; });
    if (entries_.size() >= capacity_) entries_.clear();
  }
  entries_[key] = Entry{**read, now + ttl_};
  return read;
}

void ScoreConfigCache::Invalidate(const std::string& project_id, const std::string& config_id) {
  std::lock_guard lock(mu_);
  entries_.erase(project_id + '\n' + config_id);
}

ScoreConfigCache& ScoreConfigCacheFor(meta::MetaStore& store) {
  static std::mutex registry_mu;
  // Never destroyed: handlers may still run while static destructors do.
  static auto* registry = new std::map<meta::MetaStore*, std::unique_ptr<ScoreConfigCache>>();
  std::lock_guard lock(registry_mu);
  auto& cache = (*registry)[&store];
  // No reuse across requests: with several web processes a config changed through one must
  // apply at once through the others, and the lookup is one indexed read.
  if (!cache) cache = std::make_unique<ScoreConfigCache>(store, std::chrono::milliseconds(0), 10'000);
  return *cache;
}

StatusOr<ScoreInflation> CheckScoreAgainstConfig(const Json& body, const meta::ScoreConfig& config) {
  const auto categories = Categories(config);
  if (!categories) return Status::InvalidArgument(std::string(kConfigNotFound));
  if (const auto data_type = StringMember(body, "dataType"); data_type && *data_type != config.data_type) {
    return Status::InvalidArgument(
        fmt::format("Data type mismatch based on config: expected {}, got {}", config.data_type, *data_type));
  }
  if (config.is_archived) {
    return Status::InvalidArgument(
        "Config is archived and cannot be used to create new scores. Please restore the config first.");
  }
  ScoreInflation inflation{config.name, config.data_type, std::nullopt};
  const auto value = body.find("value");
  const bool is_number = value != body.end() && value->is_number();
  const bool is_string = value != body.end() && value->is_string();
  if (config.data_type == "NUMERIC") {
    if (!is_number) return Invalid("value must be a number for a NUMERIC config");
    const double v = value->get<double>();
    if (config.max_value && v > *config.max_value) {
      return Invalid(fmt::format("Value exceeds maximum value of {} defined in config",
                                 FormatNumber(*config.max_value)));
    }
    if (config.min_value && v < *config.min_value) {
      return Invalid(fmt::format("Value is below minimum value of {} defined in config",
                                 FormatNumber(*config.min_value)));
    }
  } else if (config.data_type == "CATEGORICAL") {
    if (!is_string) return Invalid("value must be a category label (a string) for a CATEGORICAL config");
    const std::string label = value->get<std::string>();
    for (const auto& [category, number] : *categories) {
      if (category == label) {
        inflation.category_value = number;
        break;
      }
    }
    if (!inflation.category_value) {
      return Invalid(
          fmt::format("Value {} does not map to a valid category. Pass a valid category value.", label));
    }
  } else if (config.data_type == "BOOLEAN") {
    if (!is_number || (value->get<double>() != 0 && value->get<double>() != 1)) {
      return Invalid("Value must be either 0 or 1");
    }
  } else if (config.data_type == "TEXT") {
    if (!is_string || value->get_ref<const std::string&>().empty() ||
        value->get_ref<const std::string&>().size() > kTextMaxLength) {
      return Invalid("value must be a string of 1 to 500 characters for a TEXT config");
    }
  } else {
    return Status::InvalidArgument(std::string(kConfigNotFound));
  }
  return inflation;
}

StatusOr<std::optional<ScoreInflation>> ValidateScore(ScoreConfigCache& configs,
                                                      const std::string& project_id, const Json& body) {
  const auto data_type = StringMember(body, "dataType");
  const bool has_config = NonEmpty(body, "configId");
  if (data_type == "CORRECTION") {
    const auto config_id = body.find("configId");
    if (config_id != body.end() && !config_id->is_null()) {
      return Status::InvalidArgument("configId: CORRECTION scores cannot reference a score config");
    }
    if (NonEmpty(body, "sessionId")) {
      return Status::InvalidArgument(
          "CORRECTION scores cannot be associated with sessions. Please associate with a trace or "
          "observation "
          "instead.");
    }
    if (NonEmpty(body, "datasetRunId")) {
      return Status::InvalidArgument(
          "CORRECTION scores cannot be associated with dataset runs. Please associate with a trace or "
          "observation instead.");
    }
    return std::optional<ScoreInflation>();
  }
  if (!has_config) {
    if (StringMember(body, "source") == "ANNOTATION")
      return Status::InvalidArgument(std::string(kAnnotationNeedsConfig));
    return std::optional<ScoreInflation>();
  }
  auto config = configs.Get(project_id, *StringMember(body, "configId"));
  if (!config.ok()) return config.status();
  if (!config->has_value()) return Status::InvalidArgument(std::string(kConfigNotFound));
  auto inflation = CheckScoreAgainstConfig(body, **config);
  if (!inflation.ok()) return inflation.status();
  return std::optional<ScoreInflation>(std::move(inflation).value());
}

void ApplyScoreInflation(const ScoreInflation& inflation, Json& body) {
  body["name"] = inflation.name;
  body["dataType"] = inflation.data_type;
  if (inflation.category_value) {
    body[std::string(kCategoryValueField)] = *inflation.category_value;
  } else {
    body.erase(std::string(kCategoryValueField));
  }
}

Status CheckBatchScores(ScoreConfigCache& configs, const std::string& project_id,
                        ingest::BatchValidation& batch) {
  std::vector<std::string> kept;
  kept.reserve(batch.accepted.size());
  size_t cursor = 0;  // successes before it belong to events already passed
  for (std::string& text : batch.accepted) {
    if (!MayNeedCheck(text)) {
      kept.push_back(std::move(text));
      continue;
    }
    Json event = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!event.is_object() || StringMember(event, "type") != "score-create" || !event["body"].is_object()) {
      kept.push_back(std::move(text));
      continue;
    }
    Json& body = event["body"];
    auto checked = ValidateScore(configs, project_id, body);
    if (checked.ok()) {
      if (checked->has_value()) {
        ApplyScoreInflation(**checked, body);
        text = event.dump(-1, ' ', false, Json::error_handler_t::replace);
      } else if (body.erase(std::string(kCategoryValueField)) > 0) {
        // Only this check may set the field.
        text = event.dump(-1, ' ', false, Json::error_handler_t::replace);
      }
      kept.push_back(std::move(text));
      continue;
    }
    if (checked.status().code() != StatusCode::kInvalidArgument) return checked.status();
    // The event leaves the successes (the first success of this id and type from the cursor on:
    // successes keep the events' order) for the errors.
    const std::string id = StringMember(event, "id").value_or("unknown");
    for (size_t j = cursor; j < batch.successes.size(); ++j) {
      if (batch.successes[j] == id && batch.accepted_types[j] == "score-create") {
        batch.successes.erase(batch.successes.begin() + static_cast<std::ptrdiff_t>(j));
        batch.accepted_types.erase(batch.accepted_types.begin() + static_cast<std::ptrdiff_t>(j));
        cursor = j;
        break;
      }
    }
    batch.errors.emplace_back(id,
                              ingest::EventError{400, "Invalid request data", checked.status().message()});
    batch.rejected_types.push_back("score-create");
  }
  batch.accepted = std::move(kept);
  return Status::Ok();
}

}  // namespace langfuse::api
