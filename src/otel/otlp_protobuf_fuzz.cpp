// libFuzzer target: a protobuf OTLP export request (POST /v1/traces, application/x-protobuf or
// gRPC) through DecodeProtobufRequest and, when it decodes, the mapping to ingestion events.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "otel/fuzz_invariants.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // protobuf logs every invalid UTF-8 string it rejects; that is expected here.
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto request = langfuse::otel::DecodeProtobufRequest(bytes);
  if (!request.ok()) {
    LF_FUZZ_CHECK(request.status().code() == langfuse::StatusCode::kInvalidArgument);
    return 0;
  }
  langfuse::otel::fuzz::CheckMapping(*request);
  return 0;
}
