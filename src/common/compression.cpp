#include "common/compression.h"

#include <zstd.h>

#include <algorithm>
#include <new>
#include <thread>

#include "common/idle_pool.h"

namespace langfuse {
namespace {

// A context sized for a large input stays allocated at that size; like the request parsers, such
// a context is freed instead of kept.
constexpr size_t kKeepContextBytes = 4u << 20;

struct FreeCompressor {
  void operator()(ZSTD_CCtx* ctx) const { ZSTD_freeCCtx(ctx); }
};
struct FreeDecompressor {
  void operator()(ZSTD_DCtx* ctx) const { ZSTD_freeDCtx(ctx); }
};
using CompressPool = IdlePool<ZSTD_CCtx, FreeCompressor>;
using DecompressPool = IdlePool<ZSTD_DCtx, FreeDecompressor>;

size_t MaxIdleContexts() { return std::max<size_t>(2, std::thread::hardware_concurrency()); }

// Never destroyed: request threads may still compress while statics are torn down at exit.
CompressPool& Compressors() {
  static auto* pool = new CompressPool(MaxIdleContexts());
  return *pool;
}
DecompressPool& Decompressors() {
  static auto* pool = new DecompressPool(MaxIdleContexts());
  return *pool;
}

}  // namespace

std::string ZstdCompress(std::string_view data, int level) {
  return ZstdCompressPieces(std::span<const std::string_view>(&data, 1), level);
}

std::string ZstdCompressPieces(std::span<const std::string_view> pieces, int level) {
  size_t total = 0;
  for (std::string_view piece : pieces) total += piece.size();
  auto ctx = Compressors().Take([] { return CompressPool::Ptr(ZSTD_createCCtx()); });
  if (!ctx) throw std::bad_alloc();
  ZSTD_CCtx_reset(ctx.get(), ZSTD_reset_session_only);
  ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_checksumFlag, 1);
  // The pledged size goes into the frame header, as with a one-shot compression.
  ZSTD_CCtx_setPledgedSrcSize(ctx.get(), total);
  // Text compresses several-fold; the buffer starts at an eighth of the input and grows if needed.
  std::string out(std::min(ZSTD_compressBound(total), total / 8 + 4096), '\0');
  ZSTD_outBuffer output{out.data(), out.size(), 0};
  auto grow = [&] {
    out.resize(out.size() * 2);
    output.dst = out.data();
    output.size = out.size();
  };
  size_t status = 0;
  for (std::string_view piece : pieces) {
    ZSTD_inBuffer input{piece.data(), piece.size(), 0};
    while (input.pos < input.size) {
      if (output.pos == output.size) grow();
      status = ZSTD_compressStream2(ctx.get(), &output, &input, ZSTD_e_continue);
      if (ZSTD_isError(status)) break;
    }
    if (ZSTD_isError(status)) break;
  }
  if (!ZSTD_isError(status)) {
    ZSTD_inBuffer none{nullptr, 0, 0};
    do {
      if (output.pos == output.size) grow();
      status = ZSTD_compressStream2(ctx.get(), &output, &none, ZSTD_e_end);
    } while (!ZSTD_isError(status) && status != 0);
  }
  // The only possible failure is an allocation failure inside zstd (the output grows as needed
  // and the pledged size is the pieces' own); the context is then freed, not pooled.
  if (ZSTD_isError(status)) throw std::bad_alloc();
  if (ZSTD_sizeof_CCtx(ctx.get()) <= kKeepContextBytes) Compressors().Give(std::move(ctx));
  out.resize(output.pos);
  return out;
}

bool IsZstdFrame(std::string_view data) {
  return data.size() >= 4 && static_cast<unsigned char>(data[0]) == 0x28 && static_cast<unsigned char>(data[1]) == 0xB5 &&
         static_cast<unsigned char>(data[2]) == 0x2F && static_cast<unsigned char>(data[3]) == 0xFD;
}

Status ZstdDecompress(std::string_view frame, size_t max_size, std::string& out, size_t spare_capacity) {
  if (!IsZstdFrame(frame)) return Status::InvalidArgument("not a zstd frame");
  const size_t frame_size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(frame_size)) {
    return Status::InvalidArgument(std::string("corrupt zstd frame: ") + ZSTD_getErrorName(frame_size));
  }
  if (frame_size != frame.size()) return Status::InvalidArgument("bytes after the zstd frame");
  const unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR) {
    return Status::InvalidArgument("zstd frame without its content size");
  }
  if (size > max_size) {
    return Status::InvalidArgument("zstd frame of " + std::to_string(size) + " bytes, more than the " +
                                   std::to_string(max_size) + " allowed");
  }
  out.clear();
  out.reserve(size + spare_capacity);
  out.resize(size);
  auto ctx = Decompressors().Take([] { return DecompressPool::Ptr(ZSTD_createDCtx()); });
  if (!ctx) throw std::bad_alloc();
  const size_t n = ZSTD_decompressDCtx(ctx.get(), out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_sizeof_DCtx(ctx.get()) <= kKeepContextBytes) Decompressors().Give(std::move(ctx));
  if (ZSTD_isError(n)) {
    out.clear();
    return Status::InvalidArgument(std::string("corrupt zstd frame: ") + ZSTD_getErrorName(n));
  }
  if (n != size) {
    out.clear();
    return Status::InvalidArgument("zstd frame shorter than its header says");
  }
  return Status::Ok();
}

}  // namespace langfuse
