#include <gtest/gtest.h>

#include "storage/traces/trace_queries.h"

TEST(TraceQueries, Placeholder) { SUCCEED(); }
