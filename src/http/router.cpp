#include "http/router.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace langfuse::http {
namespace {

bool IsCapture(std::string_view segment) {
  return segment.size() >= 3 && segment.front() == '{' && segment.back() == '}';
}

//! Splits "/a/b/" into {"a", "b"}: the leading slash is required by the caller, one trailing
//! slash is dropped ("/api/public/traces/" is the same route as "/api/public/traces").
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return segments;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    segments.push_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

//! Two patterns have the same shape when they differ only in capture names.
bool SameShape(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    bool capture = IsCapture(a[i]);
    if (capture != IsCapture(b[i])) return false;
    if (!capture && a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace

void Router::Add(std::string method, std::string pattern, Handler handler) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  }
  Route route;
  for (std::string_view segment : SplitPath(pattern)) {
    bool has_brace = segment.find_first_of("{}") != std::string_view::npos;
    if (segment.empty() || (has_brace && !IsCapture(segment)) ||
        (IsCapture(segment) &&
         segment.substr(1, segment.size() - 2).find_first_of("{}/") != std::string_view::npos)) {
      throw std::invalid_argument("malformed route pattern: " + pattern);
    }
    route.segments.emplace_back(segment);
  }
  for (const Route& existing : routes_) {
    if (existing.method == method && SameShape(existing.segments, route.segments)) {
      throw std::invalid_argument("duplicate route: " + method + " " + pattern);
    }
  }
  route.method = std::move(method);
  route.handler = std::move(handler);
  routes_.push_back(std::move(route));
}

void Router::SetFallback(Handler handler) { fallback_ = std::move(handler); }

Router::Match Router::Resolve(Request& request) const {
  Match match;
  std::string_view raw =
      request.target.empty() ? std::string_view(request.path) : RawTargetPath(request.target);
  if (raw.empty() || raw.front() != '/') return match;

  std::vector<std::string> segments;
  for (std::string_view segment : SplitPath(raw)) {
    segments.push_back(request.target.empty() ? std::string(segment) : PercentDecode(segment, false));
  }

  // Specificity of a matching pattern: one flag per segment, true for a literal. All candidates
  // have as many segments as the path, so lexicographic order ranks literal-before-capture.
  std::vector<bool> best_key;
  std::vector<const Route*> best;
  std::vector<bool> key(segments.size());
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    bool matches = true;
    for (size_t i = 0; i < segments.size() && matches; ++i) {
      key[i] = !IsCapture(route.segments[i]);
      matches = key[i] ? route.segments[i] == segments[i] : !segments[i].empty();
    }
    if (!matches) continue;
    if (best.empty() || best_key < key) {
      best_key = key;
      best.clear();
    } else if (key < best_key) {
      continue;
    }
    best.push_back(&route);
  }
  if (best.empty()) {
    if (fallback_ && (request.method == "GET" || request.method == "HEAD")) {
      request.path_params.clear();
      match.kind = MatchKind::kFound;
      match.handler = &fallback_;
    }
    return match;
  }

  for (const Route* route : best) {
    if (route->method != request.method) continue;
    request.path_params.clear();
    for (size_t i = 0; i < segments.size(); ++i) {
      const std::string& pattern = route->segments[i];
      if (IsCapture(pattern)) request.path_params[pattern.substr(1, pattern.size() - 2)] = segments[i];
    }
    match.kind = MatchKind::kFound;
    match.handler = &route->handler;
    return match;
  }
  match.kind = MatchKind::kMethodNotAllowed;
  for (const Route* route : best) {
    if (std::find(match.allowed_methods.begin(), match.allowed_methods.end(), route->method) ==
        match.allowed_methods.end()) {
      match.allowed_methods.push_back(route->method);
    }
  }
  return match;
}

}  // namespace langfuse::http
