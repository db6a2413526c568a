#pragma once

// OTLP/gRPC trace receiver: serves opentelemetry.proto.collector.trace.v1.TraceService/Export
// (the collector protocol every OpenTelemetry SDK speaks on port 4317) next to the HTTP server.
// A call is authenticated from its `authorization: Basic base64(pk:sk)` metadata exactly like
// POST /api/public/otel/v1/traces (a project key), and its spans take the same path
// (api/otel_export.h): mapped, validated and durably enqueued before OK is answered. Status codes:
// UNAUTHENTICATED (missing or wrong key), PERMISSION_DENIED (not a project key), INVALID_ARGUMENT
// (undecodable message), RESOURCE_EXHAUSTED (message above the limit), UNAVAILABLE (queue or key
// store down: nothing was acknowledged, exporters retry), UNIMPLEMENTED (another method). Every
// call is counted in langfuse_otel_grpc_calls_total{outcome}, spans in langfuse_otel_spans_total.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "auth/authenticator.h"
#include "otel/otlp.h"
#include "queue/event_queue.h"

namespace langfuse::otel_grpc {

//! The one method served; any other answers UNIMPLEMENTED.
inline constexpr std::string_view kExportMethod =
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

struct OtlpGrpcServerOptions {
  std::string bind_address = "0.0.0.0";
  uint16_t port = 4317;  //!< 0 picks a free port (read it back with port())
  //! Exports are decoded and wait for the queue's group commit on these threads; more calls than
  //! threads wait inside gRPC until one is free.
  int handler_threads = 8;
  //! Largest request message after gzip decompression; larger ones are refused by gRPC with
  //! RESOURCE_EXHAUSTED. The same cap as the inflated OTLP/HTTP body.
  size_t max_receive_bytes = otel::kMaxInflatedBytes;
  //! Concurrent calls per client connection (bounds what one client makes the server buffer).
  int max_concurrent_streams = 100;
};

//! The gRPC server and its handler threads. Start and Stop are called from one thread; exports
//! run concurrently on the handler threads. The queue and the authenticator must outlive it.
class OtlpGrpcServer {
 public:
  OtlpGrpcServer(OtlpGrpcServerOptions options, queue::EventQueue& queue,
                 auth::ApiKeyAuthenticator& authenticator);
  ~OtlpGrpcServer();
  OtlpGrpcServer(const OtlpGrpcServer&) = delete;
  OtlpGrpcServer& operator=(const OtlpGrpcServer&) = delete;

  //! Binds and starts serving; throws std::runtime_error when the address cannot be bound.
  void Start();
  //! The bound port (the chosen one when options.port was 0); 0 before Start.
  uint16_t port() const;
  //! Stops accepting calls, lets in-flight exports finish (up to `grace`, then cancels them) and
  //! joins the threads. An export cancelled this way was not acknowledged. Idempotent; the
  //! destructor calls it.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10'000));

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace langfuse::otel_grpc
