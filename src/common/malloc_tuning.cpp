#include "common/malloc_tuning.h"

#include <malloc.h>

namespace langfuse {

void TuneMalloc() {
  // glibc would give each of the dozens of I/O, handler and engine threads its own arena (up to
  // 8 per core), multiplying freed-but-kept memory. Eight in all: with two, the request handlers
  // (one per busy connection) waited on each other's arena locks and consolidated each other's
  // freed chunks, which cost OTLP ingestion ~5 us per span of handler CPU (~20 %) at 20,000
  // spans/s; eight cost no measurable RSS under the same loads.
  mallopt(M_ARENA_MAX, 8);
  // Batch-sized buffers (queue payloads, merged rows, parsed documents) are mapped and unmapped
  // on their own above 128 KiB. glibc would otherwise raise that threshold to the largest block
  // freed so far, after which each batch's buffers are carved from the heap and their pages kept
  // there, fragmented, between batches. The heap's top is given back above 4 MiB free. (A buffer
  // above the threshold made per request costs its page faults and zeroing every time: per-request
  // code keeps its buffers below it or reuses them.)
  mallopt(M_MMAP_THRESHOLD, 128 << 10);
  mallopt(M_TRIM_THRESHOLD, 4 << 20);
}

}  // namespace langfuse
