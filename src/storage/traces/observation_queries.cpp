#include "storage/traces/observation_queries.h"

namespace langfuse::traces {}  // namespace langfuse::traces
