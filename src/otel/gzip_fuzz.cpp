// libFuzzer target: Gunzip, the bounded inflation of Content-Encoding: gzip request bodies. The
// first two bytes choose the output cap (0..65535), the rest is the compressed body. The result
// must never exceed the cap, and must agree with an inflation under a much larger cap.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "otel/fuzz_invariants.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using langfuse::StatusCode;
  if (size < 2) return 0;
  const size_t cap = data[0] | (size_t{data[1]} << 8);
  const std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
  constexpr size_t kLargeCap = 1u << 22;

  const auto small = langfuse::otel::Gunzip(body, cap);
  const auto large = langfuse::otel::Gunzip(body, kLargeCap);
  if (small.ok()) LF_FUZZ_CHECK(small->size() <= cap);
  if (large.ok()) LF_FUZZ_CHECK(large->size() <= kLargeCap);
  if (!small.ok()) {
    LF_FUZZ_CHECK(small.status().code() == StatusCode::kInvalidArgument ||
                  small.status().code() == StatusCode::kPayloadTooLarge);
  }
  if (large.ok()) {
    if (large->size() <= cap) {
      // Fits under both caps: the same output.
      LF_FUZZ_CHECK(small.ok() && *small == *large);
    } else {
      LF_FUZZ_CHECK(!small.ok() && small.status().code() == StatusCode::kPayloadTooLarge);
    }
  } else if (large.status().code() == StatusCode::kInvalidArgument) {
    // Corrupt input is corrupt under any cap, though the small cap may be reached first.
    LF_FUZZ_CHECK(!small.ok());
  }
  return 0;
}
