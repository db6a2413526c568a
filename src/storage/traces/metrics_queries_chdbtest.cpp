#include <gtest/gtest.h>

#include "storage/traces/metrics_queries.h"

TEST(MetricsQueries, Placeholder) { SUCCEED(); }
