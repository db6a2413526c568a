#pragma once

#include <string>
#include <vector>

namespace langfuse::app {

//! `langfuse import-v2 --from <postgres url>`: copies a Langfuse v2 database into the stores this
//! instance is configured for (the same configuration as `langfuse server`).
int RunImportV2Command(const std::vector<std::string>& args);

}  // namespace langfuse::app
