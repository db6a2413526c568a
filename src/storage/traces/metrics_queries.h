#pragma once

// Daily metrics and the v1 metrics query API (views, measures, dimensions, filters).

#include "storage/traces/clickhouse_transport.h"

namespace langfuse::traces {}  // namespace langfuse::traces
