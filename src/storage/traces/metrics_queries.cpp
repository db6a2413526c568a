#include "storage/traces/metrics_queries.h"

namespace langfuse::traces {}  // namespace langfuse::traces
