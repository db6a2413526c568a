#pragma once

// Observation lists and score lists/filters (GET /observations, GET /scores, /v2/scores).

#include "storage/traces/clickhouse_transport.h"

namespace langfuse::traces {}  // namespace langfuse::traces
