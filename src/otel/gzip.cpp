// Bounded gzip inflation for OTLP request bodies.
#include <zlib.h>

#include "otel/otlp.h"

namespace langfuse::otel {

StatusOr<std::string> Gunzip(std::string_view compressed, size_t max_bytes) {
  z_stream stream{};
  // 15 + 32: a zlib or gzip header, detected automatically.
  if (inflateInit2(&stream, 15 + 32) != Z_OK) return Status::Internal("zlib inflateInit2 failed");
  std::string out;
  out.resize(std::min<size_t>(max_bytes, std::max<size_t>(compressed.size() * 4, 64 * 1024)));
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  size_t produced = 0;
  int rc = Z_OK;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= max_bytes) {
        // One more byte of output would exceed the cap: probe whether the stream is finished.
        unsigned char probe;
        stream.next_out = &probe;
        stream.avail_out = 1;
        rc = inflate(&stream, Z_NO_FLUSH);
        if (rc == Z_STREAM_END && stream.avail_out == 1) break;
        inflateEnd(&stream);
        return Status(StatusCode::kPayloadTooLarge,
                      "Decompressed request body exceeds " + std::to_string(max_bytes) + " bytes");
      }
      out.resize(std::min(max_bytes, out.size() * 2));
    }
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    stream.avail_out = static_cast<uInt>(out.size() - produced);
    rc = inflate(&stream, Z_NO_FLUSH);
    produced = out.size() - stream.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    if (rc == Z_BUF_ERROR && stream.avail_in == 0) break;  // truncated input
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) return Status::InvalidArgument("Failed to decompress request body");
  out.resize(produced);
  return out;
}

}  // namespace langfuse::otel
