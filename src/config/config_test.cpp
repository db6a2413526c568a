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
