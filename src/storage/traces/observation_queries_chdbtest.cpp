#include <gtest/gtest.h>

#include "storage/traces/observation_queries.h"

TEST(ObservationQueries, Placeholder) { SUCCEED(); }
