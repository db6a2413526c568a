#include "config/config.h"

#include <gtest/gtest.h>

#include <map>

namespace langfuse {
namespace {

EnvLookup Env(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(Config, DefaultsWhenNothingIsSet) {
  const Config c = LoadConfig(Env({}));
  EXPECT_EQ(c.port, 3000);
  EXPECT_EQ(c.data_dir, "./data");
  EXPECT_EQ(c.write_batch_size, 5000);
  EXPECT_EQ(c.MetaDbPath(), "./data/langfuse.db");
  EXPECT_EQ(c.otlp_grpc_port, std::optional<uint16_t>(4317));
}

TEST(Config, OtlpGrpcPortCanBeChosenPickedOrTurnedOff) {
  EXPECT_EQ(LoadConfig(Env({{"LANGFUSE_OTLP_GRPC_PORT", "14317"}})).otlp_grpc_port,
            std::optional<uint16_t>(14317));
  EXPECT_EQ(LoadConfig(Env({{"LANGFUSE_OTLP_GRPC_PORT", "0"}})).otlp_grpc_port, std::optional<uint16_t>(0));
  EXPECT_EQ(LoadConfig(Env({{"LANGFUSE_OTLP_GRPC_PORT", ""}})).otlp_grpc_port, std::optional<uint16_t>(4317));
  for (const char* off : {"-1", "off", "OFF", "disabled", "Disabled"}) {
    EXPECT_EQ(LoadConfig(Env({{"LANGFUSE_OTLP_GRPC_PORT", off}})).otlp_grpc_port, std::nullopt) << off;
  }
  for (const char* bad : {"70000", "43x", "on", " 4317"}) {
    try {
      LoadConfig(Env({{"LANGFUSE_OTLP_GRPC_PORT", bad}}));
      ADD_FAILURE() << "accepted " << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("LANGFUSE_OTLP_GRPC_PORT"), std::string::npos) << e.what();
    }
  }
}

TEST(Config, ScaleModeIsChosenByLangfusesVariables) {
  const Config embedded = LoadConfig(Env({}));
  EXPECT_TRUE(embedded.database_url.empty());
  EXPECT_TRUE(embedded.clickhouse_url.empty());
  EXPECT_FALSE(embedded.redis_configured);
  EXPECT_EQ(embedded.worker_port, 3030);
  const Config scale = LoadConfig(Env({{"DATABASE_URL", "postgresql://u:p@db:5432/langfuse"},
                                       {"CLICKHOUSE_URL", "http://clickhouse:8123"},
                                       {"REDIS_HOST", "redis"},
                                       {"LANGFUSE_WORKER_PORT", "3031"}}));
  EXPECT_EQ(scale.database_url, "postgresql://u:p@db:5432/langfuse");
  EXPECT_EQ(scale.clickhouse_url, "http://clickhouse:8123");
  EXPECT_TRUE(scale.redis_configured);
  EXPECT_EQ(scale.worker_port, 3031);
  EXPECT_TRUE(LoadConfig(Env({{"REDIS_CONNECTION_STRING", "redis://localhost:6379"}})).redis_configured);
  EXPECT_THROW(LoadConfig(Env({{"LANGFUSE_WORKER_PORT", "70000"}})), std::invalid_argument);
}

TEST(Config, ReadsLangfuseNames) {
  const Config c = LoadConfig(Env({{"PORT", "3100"},
                                   {"LANGFUSE_DATA_DIR", "/tmp/x"},
                                   {"SALT", "pepper"},
                                   {"LANGFUSE_INGESTION_CLICKHOUSE_WRITE_BATCH_SIZE", "50"},
                                   {"LANGFUSE_CACHE_API_KEY_ENABLED", "false"}}));
  EXPECT_EQ(c.port, 3100);
  EXPECT_EQ(c.ClickHousePath(), "/tmp/x/clickhouse");
  EXPECT_EQ(c.salt, "pepper");
  EXPECT_EQ(c.write_batch_size, 50);
  EXPECT_FALSE(c.api_key_cache_enabled);
}

TEST(Config, RejectsMalformedValuesNamingTheVariable) {
  try {
    LoadConfig(Env({{"PORT", "30x"}}));
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("PORT"), std::string::npos);
  }
  EXPECT_THROW(LoadConfig(Env({{"PORT", "70000"}})), std::invalid_argument);
  EXPECT_THROW(LoadConfig(Env({{"LANGFUSE_CACHE_API_KEY_ENABLED", "maybe"}})), std::invalid_argument);
}

}  // namespace
}  // namespace langfuse
