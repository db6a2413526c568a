#include "common/malloc_tuning.h"

#include <malloc.h>

namespace langfuse {

void TuneMalloc() {
  // glibc gives every thread that allocates its own arena; with dozens of I/O, handler and
  // engine threads that multiplies freed-but-kept memory. Two arenas hold RSS down at no
  // measurable cost to throughput here.
  mallopt(M_ARENA_MAX, 2);
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
