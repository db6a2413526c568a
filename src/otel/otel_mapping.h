#pragma once

// OTLP spans -> Langfuse ingestion events.

namespace langfuse::otel {}  // namespace langfuse::otel
