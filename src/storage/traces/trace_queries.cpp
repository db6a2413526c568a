#include "storage/traces/trace_queries.h"

namespace langfuse::traces {}  // namespace langfuse::traces
