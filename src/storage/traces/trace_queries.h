#pragma once

// Trace lists (GET /traces filters, paging, ordering), sessions, trace deletion.

#include "storage/traces/clickhouse_transport.h"

namespace langfuse::traces {}  // namespace langfuse::traces
