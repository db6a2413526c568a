#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace langfuse {

//! zstd frames, for what the server keeps on disk or in Redis only until it is processed (the
//! ingestion queue's payloads): JSON event batches shrink about five times at level 1, for a few
//! percent of a core at 20 MB/s. Thread-safe: compression contexts come from a small shared pool.

//! One zstd frame of `data` (with its size in the header, which ZstdDecompress relies on).
std::string ZstdCompress(std::string_view data, int level = 1);

//! One zstd frame of the concatenation of `pieces` (ZstdCompress is its one-piece case), without
//! the concatenation: a payload assembled from many parts (a queue payload's header and events) is
//! compressed from where its parts lie, into a buffer that grows with the compressed size rather
//! than one at the bound of the input (no large buffer mapped and zeroed per call).
std::string ZstdCompressPieces(std::span<const std::string_view> pieces, int level = 1);

//! True when `data` starts with the zstd frame magic number. JSON text never does (its first
//! byte is '{', '[', '"', a digit, a letter or white space).
bool IsZstdFrame(std::string_view data);

//! Decompresses one whole frame into `out` (replacing its contents) and leaves `spare_capacity`
//! bytes of capacity after it (simdjson reads a padding past the end of its input). A frame that
//! is corrupt, truncated, followed by other bytes, without its size, or larger than `max_size`
//! is an InvalidArgument, and nothing larger than `max_size` is allocated.
Status ZstdDecompress(std::string_view frame, size_t max_size, std::string& out, size_t spare_capacity = 0);

}  // namespace langfuse
