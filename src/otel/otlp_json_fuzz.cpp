// libFuzzer target: an OTLP/JSON export request (POST /v1/traces, application/json) through
// DecodeJsonRequest and, when it decodes, the mapping to ingestion events.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "otel/fuzz_invariants.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto request = langfuse::otel::DecodeJsonRequest(json);
  if (!request.ok()) {
    LF_FUZZ_CHECK(request.status().code() == langfuse::StatusCode::kInvalidArgument);
    return 0;
  }
  langfuse::otel::fuzz::CheckMapping(*request);
  return 0;
}
