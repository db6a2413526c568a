#pragma once

#include <string>
#include <vector>

namespace langfuse::app {

//! `langfuse dlq list|replay`: works on the queue file only, so it runs beside a live server.
int RunDlqCommand(const std::vector<std::string>& args);

}  // namespace langfuse::app
