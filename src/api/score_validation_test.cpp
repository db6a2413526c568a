#include "api/score_validation.h"

#include <cstdlib>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "common/ids.h"

namespace langfuse::api {
namespace {

// A migrated SQLite store with one project and one config of each kind (a real store: the cache
// and the checks read through MetaStore as the server does).
class ScoreValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* root = std::getenv("LANGFUSE_TEST_TMP");
    std::filesystem::path dir = (root != nullptr && *root != '\0') ? root : "/tmp";
    dir /= "score-validation";
    std::filesystem::create_directories(dir);
    path_ = (dir / ("meta-" + NewUuidV4() + ".db")).string();
    auto opened = meta::OpenSqliteMetaStore(path_);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    store_ = std::move(opened).value();
    ASSERT_TRUE(store_->Migrate(nullptr).ok());
    ASSERT_TRUE(store_->UpsertOrganization({"org", "Org", 1, 1}).ok());
    ASSERT_TRUE(store_->UpsertProject({"p", "org", "P", 1, 1, std::nullopt}).ok());
    ASSERT_TRUE(store_->UpsertProject({"other", "org", "O", 1, 1, std::nullopt}).ok());
    Create("num", "accuracy", "NUMERIC", 0, 10, std::nullopt);
    Create("cat", "tone", "CATEGORICAL", std::nullopt, std::nullopt,
           R"([{"label":"bad","value":-1},{"label":"good","value":2.5}])");
    Create("bool", "is_correct", "BOOLEAN", std::nullopt, std::nullopt,
           R"([{"label":"True","value":1},{"label":"False","value":0}])");
    Create("text", "note", "TEXT", std::nullopt, std::nullopt, std::nullopt);
  }
  void TearDown() override {
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }

  void Create(const std::string& id, const std::string& name, const std::string& type,
              std::optional<double> min, std::optional<double> max, std::optional<std::string> categories,
              const std::string& project = "p") {
    meta::ScoreConfig c;
    c.id = id;
    c.project_id = project;
    c.name = name;
    c.data_type = type;
    c.min_value = min;
    c.max_value = max;
    c.categories = std::move(categories);
    c.created_at_ms = c.updated_at_ms = 1;
    ASSERT_TRUE(store_->CreateScoreConfig(c).ok()) << id;
  }

  // The message of a rejected body, "" when it passed.
  std::string Rejection(ScoreConfigCache& cache, const std::string& body_json) {
    auto result = ValidateScore(cache, "p", Json::parse(body_json));
    if (result.ok()) return "";
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << result.status().message();
    return result.status().message();
  }

  std::string path_;
  std::unique_ptr<meta::MetaStore> store_;
};

TEST_F(ScoreValidationTest, ChecksScoresAgainstTheirConfig) {
  ScoreConfigCache cache(*store_, std::chrono::seconds(60), 100);
  EXPECT_EQ(Rejection(cache, R"({"name":"x","value":11,"configId":"num"})"),
            "Ingested score body not valid against provided config: Value exceeds maximum value of 10 "
            "defined in config");
  EXPECT_EQ(Rejection(cache, R"({"name":"x","value":-0.5,"configId":"num"})"),
            "Ingested score body not valid against provided config: Value is below minimum value of 0 "
            "defined in config");
  EXPECT_NE(Rejection(cache, R"({"name":"x","value":"high","configId":"num"})"), "");
  EXPECT_EQ(Rejection(cache, R"({"name":"x","value":1,"dataType":"BOOLEAN","configId":"num"})"),
            "Data type mismatch based on config: expected NUMERIC, got BOOLEAN");
  EXPECT_EQ(Rejection(cache, R"({"name":"x","value":"meh","configId":"cat"})"),
            "Ingested score body not valid against provided config: Value meh does not map to a valid "
            "category. Pass a "
            "valid category value.");
  EXPECT_EQ(Rejection(cache, R"({"name":"x","value":2,"configId":"bool"})"),
            "Ingested score body not valid against provided config: Value must be either 0 or 1");
  EXPECT_NE(Rejection(cache, R"({"name":"x","value":"","configId":"text"})"), "");
  EXPECT_NE(Rejection(cache, R"({"name":"x","value":1,"configId":"missing"})"), "");
  EXPECT_EQ(Rejection(cache, R"({"name":"x","value":1,"source":"ANNOTATION"})"),
            "configId is required when source is ANNOTATION (except for CORRECTION scores).");

  // Passing scores take the config's name and type; a label its value.
  auto numeric = ValidateScore(cache, "p", Json::parse(R"({"name":"x","value":10,"configId":"num"})"));
  ASSERT_TRUE(numeric.ok() && numeric->has_value());
  EXPECT_EQ((*numeric)->name, "accuracy");
  EXPECT_EQ((*numeric)->data_type, "NUMERIC");
  EXPECT_FALSE((*numeric)->category_value);
  auto categorical =
      ValidateScore(cache, "p", Json::parse(R"({"name":"x","value":"good","configId":"cat"})"));
  ASSERT_TRUE(categorical.ok() && categorical->has_value());
  EXPECT_EQ((*categorical)->category_value, 2.5);
  Json body = Json::parse(R"({"name":"x","value":"good","configId":"cat"})");
  ApplyScoreInflation(**categorical, body);
  EXPECT_EQ(body["name"], "tone");
  EXPECT_EQ(body["dataType"], "CATEGORICAL");
  EXPECT_EQ(body[std::string(kCategoryValueField)], 2.5);
  auto boolean = ValidateScore(cache, "p", Json::parse(R"({"name":"x","value":0,"configId":"bool"})"));
  ASSERT_TRUE(boolean.ok() && boolean->has_value());
  EXPECT_EQ((*boolean)->data_type, "BOOLEAN");
  // No config, nothing to check.
  auto plain = ValidateScore(cache, "p", Json::parse(R"({"name":"x","value":0.3})"));
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->has_value());
}

TEST_F(ScoreValidationTest, ConfigsOfOtherProjectsAndArchivedConfigsAreRefused) {
  Create("foreign", "f", "NUMERIC", std::nullopt, std::nullopt, std::nullopt, "other");
  ScoreConfigCache cache(*store_, std::chrono::seconds(60), 100);
  EXPECT_EQ(Rejection(cache, R"({"name":"x","value":1,"configId":"foreign"})"),
            "The configId you provided does not match a valid config in this project");
  auto num = store_->GetScoreConfig("p", "num");
  ASSERT_TRUE(num.ok() && num->has_value());
  EXPECT_EQ(Rejection(cache, R"({"name":"x","value":1,"configId":"num"})"), "");  // now cached
  meta::ScoreConfig archived = **num;
  archived.is_archived = true;
  ASSERT_TRUE(store_->UpdateScoreConfig(archived).ok());
  EXPECT_EQ(Rejection(cache, R"({"name":"x","value":1,"configId":"num"})"), "") << "cached for its lifetime";
  cache.Invalidate("p", "num");
  EXPECT_EQ(Rejection(cache, R"({"name":"x","value":1,"configId":"num"})"),
            "Config is archived and cannot be used to create new scores. Please restore the config first.");
}

TEST_F(ScoreValidationTest, CacheEntriesExpire) {
  ScoreConfigCache cache(*store_, std::chrono::milliseconds(1), 100);
  EXPECT_EQ(Rejection(cache, R"({"name":"x","value":5,"configId":"num"})"), "");
  auto num = store_->GetScoreConfig("p", "num");
  ASSERT_TRUE(num.ok() && num->has_value());
  meta::ScoreConfig narrower = **num;
  narrower.max_value = 1;
  ASSERT_TRUE(store_->UpdateScoreConfig(narrower).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_NE(Rejection(cache, R"({"name":"x","value":5,"configId":"num"})"), "");
}

TEST_F(ScoreValidationTest, CorrectionScores) {
  ScoreConfigCache cache(*store_, std::chrono::seconds(60), 100);
  EXPECT_EQ(Rejection(cache, R"({"name":"x","value":"fixed","dataType":"CORRECTION","traceId":"t"})"), "");
  EXPECT_EQ(Rejection(cache, R"({"name":"x","value":"fixed","dataType":"CORRECTION","source":"ANNOTATION"})"),
            "");
  EXPECT_NE(Rejection(cache, R"({"name":"x","value":"fixed","dataType":"CORRECTION","configId":"num"})"), "");
  EXPECT_EQ(
      Rejection(cache, R"({"name":"x","value":"fixed","dataType":"CORRECTION","sessionId":"s"})"),
      "CORRECTION scores cannot be associated with sessions. Please associate with a trace or observation "
      "instead.");
  EXPECT_NE(Rejection(cache, R"({"name":"x","value":"fixed","dataType":"CORRECTION","datasetRunId":"r"})"),
            "");
}

// A batch of events as ValidateBatch leaves it: failing scores move to the errors, passing ones
// are rewritten, everything else stays as it was.
TEST_F(ScoreValidationTest, BatchCheckMovesFailuresToErrors) {
  ScoreConfigCache cache(*store_, std::chrono::seconds(60), 100);
  ingest::BatchValidation batch;
  const std::string trace =
      R"({"id":"e1","type":"trace-create","timestamp":"2024-01-01T00:00:00Z","body":{"id":"t"}})";
  const std::string bad =
      R"({"id":"e2","type":"score-create","timestamp":"2024-01-01T00:00:00Z","body":{"id":"s1","name":"x","value":99,"configId":"num"}})";
  const std::string good =
      R"({"id":"e3","type":"score-create","timestamp":"2024-01-01T00:00:00Z","body":{"id":"s2","name":"x","value":"bad","configId":"cat"}})";
  const std::string spoofed =
      R"({"id":"e4","type":"score-create","timestamp":"2024-01-01T00:00:00Z","body":{"id":"s3","name":"x","value":"a","_configCategoryValue":7}})";
  batch.accepted = {trace, bad, good, spoofed};
  batch.successes = {"e1", "e2", "e3", "e4"};
  batch.accepted_types = {"trace-create", "score-create", "score-create", "score-create"};
  ASSERT_TRUE(CheckBatchScores(cache, "p", batch).ok());
  EXPECT_EQ(batch.successes, (std::vector<std::string>{"e1", "e3", "e4"}));
  EXPECT_EQ(batch.accepted_types, (std::vector<std::string>{"trace-create", "score-create", "score-create"}));
  ASSERT_EQ(batch.errors.size(), 1u);
  EXPECT_EQ(batch.errors[0].first, "e2");
  EXPECT_EQ(batch.errors[0].second.status, 400);
  EXPECT_EQ(batch.errors[0].second.message, "Invalid request data");
  EXPECT_NE(batch.errors[0].second.error.find("maximum value of 10"), std::string::npos);
  EXPECT_EQ(batch.rejected_types, (std::vector<std::string>{"score-create"}));
  ASSERT_EQ(batch.accepted.size(), 3u);
  EXPECT_EQ(batch.accepted[0], trace);
  const Json rewritten = Json::parse(batch.accepted[1]);
  EXPECT_EQ(rewritten["body"]["name"], "tone");
  EXPECT_EQ(rewritten["body"][std::string(kCategoryValueField)], -1);
  EXPECT_FALSE(Json::parse(batch.accepted[2])["body"].contains(std::string(kCategoryValueField)));
}

}  // namespace
}  // namespace langfuse::api
