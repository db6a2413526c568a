#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/http_types.h"
#include "http/router.h"

namespace langfuse::ui_api {

//! The relative path ("assets/x.js") a request path names under the UI directory, from the raw
//! (still percent-encoded) path: each segment is decoded on its own, and a segment that decodes to
//! "." or "..", or holds '/', '\\' or NUL, makes the whole path unsafe (nullopt), so neither
//! "/../x" nor "/%2e%2e/x" nor "/a%2fb" can leave the directory. An empty result is the root.
std::optional<std::string> SafeRelativePath(std::string_view raw_path);

//! The Content-Type for a file name, by extension; application/octet-stream when unknown.
std::string_view ContentTypeFor(std::string_view file_name);

//! True when an Accept-Encoding header accepts gzip (a "gzip" token without q=0).
bool AcceptsGzip(std::string_view accept_encoding);

//! The strong entity tag of a file's bytes as sent: a quoted prefix of their SHA-256
//! (so two web processes serving the same build agree, whatever the files' times).
std::string EntityTagOf(std::string_view bytes);

//! True when an If-None-Match header value matches `etag` (a quoted strong tag): "*", or one of
//! its entity tags by the weak comparison RFC 9110 prescribes for this header (a W/ prefix is
//! ignored). A malformed list matches nothing.
bool IfNoneMatchHits(std::string_view if_none_match, std::string_view etag);

//! Serves the built single-page app from one directory (docs/ui-api.md, Static files): a file
//! that exists there, else index.html for client-side routes. Files under assets/ are hashed and
//! cached for a year; everything else is `no-cache`. `<file>.gz` is sent when the client accepts
//! gzip. Every file answer has a strong ETag (EntityTagOf the bytes sent, so the gzip and the plain
//! form differ); an If-None-Match naming it is answered 304 without a body. HEAD is answered as
//! GET (the server leaves the body out). Paths that resolve (through symlinks too) outside the
//! directory are 404. /api/ paths are never files: 404 JSON as for any unknown route.
//! Thread-safety: immutable after construction; Serve may run concurrently.
class StaticFiles {
 public:
  //! `root` must be an existing directory (it is canonicalised once here).
  explicit StaticFiles(const std::string& root);

  http::Response Serve(const http::Request& request) const;
  const std::string& root() const { return root_; }

 private:
  //! The canonical path of `relative` when it is a regular file inside root_.
  std::optional<std::string> Resolve(const std::string& relative) const;
  http::Response FileResponse(const http::Request& request, const std::string& path, std::string_view name,
                              bool immutable) const;

  std::string root_;  //!< canonical, no trailing slash
};

//! Installs StaticFiles for `ui_dir` as the router's fallback for unmatched GETs. Returns false
//! (and installs nothing) when `ui_dir` is empty or not a directory.
bool RegisterStaticFiles(http::Router& router, const std::string& ui_dir);

}  // namespace langfuse::ui_api
