#include "otel/otel_mapping.h"

namespace langfuse::otel {}  // namespace langfuse::otel
