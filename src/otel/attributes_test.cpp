#include "otel/attributes.h"

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "otel/json_writer.h"

namespace langfuse::otel {
namespace {

using json = nlohmann::json;

TEST(Attributes, FindsEveryKeyAndNothingElse) {
  std::vector<Attributes::Entry> entries;
  // Keys as the conventions spell them: long shared prefixes and suffixes, lengths around the
  // hash's 8-byte words, and the empty key.
  const std::vector<std::string> keys = {"gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                                         "gen_ai.request.model",      "gen_ai.response.model",
                                         "langfuse.observation.input", "langfuse.observation.model",
                                         "a",                          "ab",
                                         "abcdefg",                    "abcdefgh",
                                         "abcdefghi",                  ""};
  for (size_t i = 0; i < keys.size(); ++i) entries.emplace_back(keys[i], static_cast<int64_t>(i));
  // Enough more to make the table grow several times.
  for (int i = 0; i < 500; ++i) entries.emplace_back("llm.input_messages." + std::to_string(i) + ".message.content", i);
  const Attributes a(entries);
  EXPECT_EQ(a.size(), keys.size() + 500);
  EXPECT_TRUE(a.hashed()) << "ordinary keys keep their index";
  for (size_t i = 0; i < keys.size(); ++i) {
    const json* v = a.Find(keys[i]);
    ASSERT_NE(v, nullptr) << keys[i];
    EXPECT_EQ(*v, static_cast<int64_t>(i)) << keys[i];
  }
  for (int i = 0; i < 500; ++i) {
    const json* v = a.Find("llm.input_messages." + std::to_string(i) + ".message.content");
    ASSERT_NE(v, nullptr) << i;
    EXPECT_EQ(*v, i);
  }
  for (const char* absent : {"gen_ai.usage.input_token", "gen_ai.usage.input_tokens ", "b", "abcdefgi",
                             "llm.input_messages.500.message.content", "langfuse.observation.mode1"}) {
    EXPECT_EQ(a.Find(absent), nullptr) << absent;
    EXPECT_TRUE(a[absent].is_null()) << absent;
  }
}

TEST(Attributes, KeysMadeToCollideAreStillFoundAndStayCheap) {
  // The hash reads the first, middle and last eight bytes: these 50,000 keys of 40 bytes agree
  // there and differ only in bytes 8-15, so they all hash alike. Building the index would walk
  // one run of 50,000 slots per key (over a billion probes); past its probe budget the index is
  // dropped and lookups binary-search the sorted entries.
  std::vector<Attributes::Entry> entries;
  auto key = [](int i) {
    char varying[9];
    std::snprintf(varying, sizeof varying, "%08d", i);
    return std::string("gen_ai.x") + varying + "middle..padding.end.....";
  };
  for (int i = 0; i < 50'000; ++i) entries.emplace_back(key(i), i);
  entries.emplace_back("gen_ai.request.model", "m");
  const Attributes a(std::move(entries));
  ASSERT_EQ(a.size(), 50'001u);
  EXPECT_FALSE(a.hashed());
  for (int i = 0; i < 50'000; i += 997) {
    const json* v = a.Find(key(i));
    ASSERT_NE(v, nullptr) << key(i);
    EXPECT_EQ(*v, i);
  }
  EXPECT_EQ(a["gen_ai.request.model"], "m");
  EXPECT_EQ(a.Find(key(50'000)), nullptr);
  EXPECT_EQ(a.Find("gen_ai.x"), nullptr);
  EXPECT_EQ(a.Find(""), nullptr);
}

TEST(Attributes, IterateInKeyOrderAndARepeatedKeyKeepsItsLastValue) {
  const Attributes a(std::vector<Attributes::Entry>{
      {"b", 1}, {"a", "first"}, {"c", json::array({1, 2})}, {"a", "second"}, {"b", 2}, {"a", "last"}});
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a.items()[0].first, "a");
  EXPECT_EQ(a.items()[1].first, "b");
  EXPECT_EQ(a.items()[2].first, "c");
  EXPECT_EQ(a["a"], "last");
  EXPECT_EQ(a["b"], 2);
  EXPECT_EQ(a["c"], json::array({1, 2}));
  // Byte-wise order, as a std::map of std::string (and so nlohmann's objects) orders keys.
  const Attributes b(std::vector<Attributes::Entry>{{"\xc3\xa9", 1}, {"z", 2}, {"Z", 3}, {"z.a", 4}});
  std::vector<std::string> order;
  for (const auto& [key, value] : b.items()) order.push_back(key);
  EXPECT_EQ(order, (std::vector<std::string>{"Z", "z", "z.a", "\xc3\xa9"}));
}

TEST(Attributes, WriteTheSameJsonAsTheObjectTheyHold) {
  const json object = {{"service.name", "app"}, {"n", 42}, {"d", 0.5}, {"arr", {"x", 2}}, {"bad", "\xff"}, {"", nullptr}};
  const Attributes a(object);
  EXPECT_EQ(a.ToJson(), object);
  std::string written;
  WriteJson(written, a);
  EXPECT_EQ(written, DumpJson(object));
  std::string empty;
  WriteJson(empty, Attributes());
  EXPECT_EQ(empty, "{}");
  EXPECT_TRUE(Attributes(json::array({1, 2})).empty()) << "only an object has members";
  EXPECT_EQ(Attributes().Find("x"), nullptr);
}

}  // namespace
}  // namespace langfuse::otel
