// The mapping's JSON writer must write exactly what nlohmann::json's dump (with invalid UTF-8
// replaced) writes: fixed cases first, then random strings and values compared with nlohmann.
#include "otel/json_writer.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include <gtest/gtest.h>

namespace langfuse::otel {
namespace {

using json = nlohmann::json;

std::string Reference(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string Written(std::string_view s) {
  std::string out;
  WriteJsonString(out, s);
  return out;
}

TEST(JsonWriterTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(Written("plain text"), "\"plain text\"");
  EXPECT_EQ(Written(""), "\"\"");
  EXPECT_EQ(Written("say \"hi\" \\ bye"), R"("say \"hi\" \\ bye")");
  EXPECT_EQ(Written("a\nb\rc\td\be\ff"), R"("a\nb\rc\td\be\ff")");
  EXPECT_EQ(Written(std::string("\x00\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
  EXPECT_EQ(Written("\x7f/"), "\"\x7f/\"");  // DEL and '/' stay as they are
}

TEST(JsonWriterTest, KeepsWellFormedUtf8) {
  EXPECT_EQ(Written("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");
}

TEST(JsonWriterTest, ReplacesEachMaximalInvalidSubpartWithOneReplacementCharacter) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(Written("a\xff"
                    "b"),
            "\"a" + r + "b\"");                         // never a lead byte
  EXPECT_EQ(Written("\x80\x80"), "\"" + r + r + "\"");  // lone continuation bytes
  EXPECT_EQ(Written("\xc0\xaf"), "\"" + r + r + "\"");  // overlong '/'
  EXPECT_EQ(Written("\xe2\x82"
                    "A"),
            "\"" + r + "A\"");                                          // truncated, then ASCII
  EXPECT_EQ(Written("\xe0\x80\x80"), "\"" + r + r + r + "\"");          // overlong 3-byte form
  EXPECT_EQ(Written("\xed\xa0\x80"), "\"" + r + r + r + "\"");          // a surrogate
  EXPECT_EQ(Written("\xf4\x90\x80\x80"), "\"" + r + r + r + r + "\"");  // above U+10FFFF
  EXPECT_EQ(Written("x\xf0\x9f\x98"), "\"x" + r + "\"");                // truncated by the end
  EXPECT_EQ(Written("\xe2\x82\xc3\xa9"), "\"" + r + "\xc3\xa9\"");      // a new lead byte resumes
  EXPECT_EQ(Written("\xe2\x82\n"), "\"" + r + "\\n\"");
}

TEST(JsonWriterTest, StringsMatchNlohmannForRandomBytes) {
  std::mt19937 rng(20241128);
  // Mostly bytes that make UTF-8 interesting: continuation bytes, lead bytes, their edge values.
  const uint8_t interesting[] = {0x00, 0x01, 0x1f, '"',  '\\', 'a',  0x7f, 0x80, 0x8f, 0x90,
                                 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec,
                                 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
  for (int round = 0; round < 200000; ++round) {
    // Short strings of mostly interesting bytes, and longer ones of mostly plain text (the word
    // at a time scan) with an interesting byte here and there.
    const bool long_text = round % 2 == 1;
    std::string s(long_text ? rng() % 64 : rng() % 12, '\0');
    for (char& c : s) {
      if (long_text && rng() % 10 != 0) {
        c = static_cast<char>(' ' + rng() % 95);
      } else {
        c = static_cast<char>(rng() % 3 == 0 ? rng() % 256 : interesting[rng() % sizeof(interesting)]);
      }
    }
    ASSERT_EQ(Written(s), Reference(json(s))) << "round " << round;
  }
}

TEST(JsonWriterTest, FindsASpecialByteAtEveryPositionOfAWord) {
  for (const char special : {'\0', '\x1f', '"', '\\', '\x80', '\xff'}) {
    for (size_t at = 0; at < 20; ++at) {
      std::string s(20, 'a');
      s[at] = special;
      ASSERT_EQ(Written(s), Reference(json(s)))
          << "byte " << int(static_cast<uint8_t>(special)) << " at " << at;
    }
  }
  // Bytes next to the ones that need escaping (' ' after 0x1f, '!' and '#' around '"', 0x7f).
  EXPECT_EQ(Written("  !!##[[]]\x7f\x7f~~  "), "\"  !!##[[]]\x7f\x7f~~  \"");
}

TEST(JsonWriterTest, NumbersMatchNlohmann) {
  const double doubles[] = {0.0,
                            -0.0,
                            0.7,
                            3.0,
                            512.0,
                            1e21,
                            1e-7,
                            123.456,
                            2.5e-300,
                            1.7976931348623157e308,
                            std::numeric_limits<double>::denorm_min(),
                            -42.5,
                            0.1 + 0.2};
  for (double d : doubles) EXPECT_EQ(DumpJson(json(d)), Reference(json(d))) << d;
  EXPECT_EQ(DumpJson(json(std::nan(""))), "null");
  EXPECT_EQ(DumpJson(json(std::numeric_limits<double>::infinity())), "null");
  for (int64_t i : {int64_t{0}, int64_t{-1}, int64_t{512}, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(DumpJson(json(i)), Reference(json(i)));
  }
  EXPECT_EQ(DumpJson(json(std::numeric_limits<uint64_t>::max())), "18446744073709551615");
  std::mt19937_64 rng(7);
  for (int round = 0; round < 100000; ++round) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof(d));
    ASSERT_EQ(DumpJson(json(d)), Reference(json(d))) << "bits " << bits;
  }
}

json RandomValue(std::mt19937& rng, int depth) {
  switch (rng() % (depth > 3 ? 6 : 8)) {
    case 0:
      return nullptr;
    case 1:
      return rng() % 2 == 0;
    case 2:
      return static_cast<int64_t>(rng()) - (int64_t{1} << 31);
    case 3:
      return static_cast<uint64_t>(rng()) << 32;
    case 4:
      return static_cast<double>(rng()) / 1000.0;
    case 5: {
      std::string s(rng() % 6, '\0');
      for (char& c : s) c = static_cast<char>(rng() % 256);
      return s;
    }
    case 6: {
      json a = json::array();
      for (uint32_t i = rng() % 4; i > 0; --i) a.push_back(RandomValue(rng, depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      for (uint32_t i = rng() % 4; i > 0; --i) {
        std::string key(rng() % 4, '\0');
        for (char& c : key) c = static_cast<char>(rng() % 256);
        o[key] = RandomValue(rng, depth + 1);
      }
      return o;
    }
  }
}

TEST(JsonWriterTest, ValuesMatchNlohmann) {
  EXPECT_EQ(DumpJson(json::object()), "{}");
  EXPECT_EQ(DumpJson(json::array()), "[]");
  EXPECT_EQ(DumpJson(json{{"b", 1}, {"a", {1.5, "x", nullptr, true}}}), R"({"a":[1.5,"x",null,true],"b":1})");
  std::mt19937 rng(99);
  for (int round = 0; round < 20000; ++round) {
    const json v = RandomValue(rng, 0);
    ASSERT_EQ(DumpJson(v), Reference(v)) << "round " << round;
  }
}

TEST(JsonWriterTest, AppendsToWhatIsThere) {
  std::string out = "prefix:";
  WriteJson(out, json{{"k", "v"}});
  WriteJsonString(out, "s");
  EXPECT_EQ(out, R"(prefix:{"k":"v"}"s")");
}

}  // namespace
}  // namespace langfuse::otel
