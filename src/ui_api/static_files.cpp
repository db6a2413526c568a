#include "ui_api/static_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <system_error>
#include <utility>

#include "common/ids.h"
#include "common/log.h"

namespace langfuse::ui_api {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";
constexpr std::string_view kNoCache = "no-cache";
// Hashed build output lives here (Vite's assetsDir).
constexpr std::string_view kAssetsPrefix = "assets/";

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool IsApiPath(std::string_view path) { return path == "/api" || path.rfind("/api/", 0) == 0; }

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return data;
}

http::Response NotFound() { return http::Response::Error(404, "LangfuseNotFoundError", "Not Found"); }

}  // namespace

std::optional<std::string> SafeRelativePath(std::string_view raw_path) {
  if (raw_path.empty() || raw_path.front() != '/') return std::nullopt;
  std::string out;
  size_t start = 1;
  while (start <= raw_path.size()) {
    size_t slash = raw_path.find('/', start);
    if (slash == std::string_view::npos) slash = raw_path.size();
    const std::string segment = http::PercentDecode(raw_path.substr(start, slash - start), false);
    start = slash + 1;
    if (segment.empty()) continue;  // "//" and a trailing slash
    if (segment == "." || segment == ".." ||
        segment.find_first_of(std::string_view("/\\\0", 3)) != std::string::npos) {
      return std::nullopt;
    }
    if (!out.empty()) out += '/';
    out += segment;
  }
  return out;
}

std::string_view ContentTypeFor(std::string_view file_name) {
  const size_t dot = file_name.rfind('.');
  const std::string ext = dot == std::string_view::npos ? "" : Lower(file_name.substr(dot + 1));
  if (ext == "html" || ext == "htm") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json" || ext == "map") return "application/json; charset=utf-8";
  if (ext == "webmanifest") return "application/manifest+json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "gif") return "image/gif";
  if (ext == "webp") return "image/webp";
  if (ext == "ico") return "image/x-icon";
  if (ext == "woff2") return "font/woff2";
  if (ext == "woff") return "font/woff";
  if (ext == "ttf") return "font/ttf";
  if (ext == "txt") return "text/plain; charset=utf-8";
  if (ext == "wasm") return "application/wasm";
  return "application/octet-stream";
}

bool AcceptsGzip(std::string_view accept_encoding) {
  while (!accept_encoding.empty()) {
    const size_t comma = accept_encoding.find(',');
    std::string_view item = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
    const size_t semi = item.find(';');
    const std::string coding = Lower(Trim(item.substr(0, semi)));
    if (coding != "gzip" && coding != "*") continue;
    if (semi == std::string_view::npos) return true;
    // "q=0", "q=0.0", "q=0.000" refuse it; any other weight accepts it.
    std::string params = Lower(item.substr(semi + 1));
    params.erase(std::remove(params.begin(), params.end(), ' '), params.end());
    const size_t q = params.find("q=");
    if (q == std::string::npos) return true;
    const std::string weight = params.substr(q + 2, params.find(';', q) - q - 2);
    return weight.find_first_not_of("0.") != std::string::npos;
  }
  return false;
}

std::string EntityTagOf(std::string_view bytes) { return "\"" + Sha256Hex(bytes).substr(0, 32) + "\""; }

bool IfNoneMatchHits(std::string_view if_none_match, std::string_view etag) {
  std::string_view rest = Trim(if_none_match);
  if (rest == "*") return true;
  const std::string_view opaque = etag.size() >= 2 ? etag.substr(1, etag.size() - 2) : etag;
  while (!rest.empty()) {
    // entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, in a comma-separated list (empty items allowed).
    while (!rest.empty() && (rest.front() == ',' || rest.front() == ' ' || rest.front() == '\t')) {
      rest.remove_prefix(1);
    }
    if (rest.empty()) break;
    if (rest.starts_with("W/")) rest.remove_prefix(2);
    if (rest.empty() || rest.front() != '"') return false;
    const size_t close = rest.find('"', 1);
    if (close == std::string_view::npos) return false;
    if (rest.substr(1, close - 1) == opaque) return true;
    rest.remove_prefix(close + 1);
    rest = Trim(rest);
    if (!rest.empty() && rest.front() != ',') return false;
  }
  return false;
}

StaticFiles::StaticFiles(const std::string& root) {
  std::error_code ec;
  root_ = fs::canonical(root, ec).string();
  if (ec) root_ = fs::absolute(root).lexically_normal().string();
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::optional<std::string> StaticFiles::Resolve(const std::string& relative) const {
  if (relative.empty()) return std::nullopt;
  std::error_code ec;
  // canonical() follows every symlink, so a link pointing out of the directory fails the prefix
  // check below.
  const fs::path resolved = fs::canonical(fs::path(root_) / relative, ec);
  if (ec) return std::nullopt;
  const std::string text = resolved.string();
  if (text.size() <= root_.size() || text.compare(0, root_.size(), root_) != 0 || text[root_.size()] != '/') {
    return std::nullopt;
  }
  if (!fs::is_regular_file(resolved, ec) || ec) return std::nullopt;
  return text;
}

http::Response StaticFiles::FileResponse(const http::Request& request, const std::string& path,
                                         std::string_view name, bool immutable) const {
  http::Response response;
  response.content_type = std::string(ContentTypeFor(name));
  std::optional<std::string> body;
  const std::optional<std::string> gz = Resolve(fs::path(path).lexically_relative(root_).string() + ".gz");
  if (gz) {
    const std::string_view origin = request.Header("Origin");
    response.headers.emplace_back("Vary", origin.empty() ? "Accept-Encoding" : "Origin, Accept-Encoding");
    if (AcceptsGzip(request.Header("Accept-Encoding"))) {
      body = ReadFile(*gz);
      if (body) response.headers.emplace_back("Content-Encoding", "gzip");
    }
  }
  if (!body) body = ReadFile(path);
  if (!body) {
    LOG_WARN("cannot read UI file {}", path);
    return NotFound();
  }
  const std::string etag = EntityTagOf(*body);
  response.headers.emplace_back("ETag", etag);
  response.headers.emplace_back("Cache-Control", std::string(immutable ? kImmutable : kNoCache));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (const std::string_view match = request.Header("If-None-Match");
      !match.empty() && IfNoneMatchHits(match, etag)) {
    // The client's copy is current: the same headers (ETag, Cache-Control, Vary) without a body.
    response.status = 304;
    response.content_type.clear();
    std::erase_if(response.headers, [](const auto& h) { return h.first == "Content-Encoding"; });
    return response;
  }
  response.body = std::move(*body);
  return response;
}

http::Response StaticFiles::Serve(const http::Request& request) const {
  const std::string_view raw =
      request.target.empty() ? std::string_view(request.path) : http::RawTargetPath(request.target);
  // The decoded path decides /api/ too, so "/%61pi/x" is not an app route either.
  if (IsApiPath(request.path) || IsApiPath(raw)) return NotFound();
  const std::optional<std::string> relative = SafeRelativePath(raw);
  if (!relative) return NotFound();
  if (std::optional<std::string> file = Resolve(*relative)) {
    const std::string_view name = *relative;
    return FileResponse(request, *file, name.substr(name.rfind('/') + 1),
                        relative->rfind(kAssetsPrefix, 0) == 0);
  }
  // A missing hashed asset is a stale page asking for an old build: 404 rather than HTML.
  if (relative->rfind(kAssetsPrefix, 0) == 0) return NotFound();
  const std::optional<std::string> index = Resolve("index.html");
  if (!index) return NotFound();
  return FileResponse(request, *index, "index.html", false);
}

bool RegisterStaticFiles(http::Router& router, const std::string& ui_dir) {
  std::error_code ec;
  if (ui_dir.empty() || !fs::is_directory(ui_dir, ec)) return false;
  // Shared by the router's copies of the handler; lives as long as the router.
  auto files = std::make_shared<const StaticFiles>(ui_dir);
  router.SetFallback([files](http::Request& request) { return files->Serve(request); });
  return true;
}

}  // namespace langfuse::ui_api
