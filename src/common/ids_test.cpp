#include "common/ids.h"

#include <gtest/gtest.h>

#include <regex>

namespace langfuse {
namespace {

TEST(Ids, UuidV4Shape) {
  const std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  const std::string a = NewUuidV4();
  EXPECT_TRUE(std::regex_match(a, shape)) << a;
  EXPECT_NE(a, NewUuidV4());
}

TEST(Ids, Sha256KnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(RandomHex(8).size(), 16u);
}

}  // namespace
}  // namespace langfuse
