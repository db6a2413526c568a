#pragma once

namespace langfuse {

//! Sets glibc malloc's tuning for the server process (see malloc_tuning.cpp). Called first thing
//! in main, and by the benchmarks that time the server's code, so that they allocate as it does.
void TuneMalloc();

}  // namespace langfuse
