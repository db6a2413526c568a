#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/http_types.h"

namespace langfuse::http {

//! A request handler. Runs on a handler thread (never an I/O thread), so it may block on a store
//! or the queue; it must not throw on request data (an escaped exception becomes a 500).
using Handler = std::function<Response(Request&)>;

//! Maps (method, path) to a handler. Patterns are literal segments and `{name}` captures, e.g.
//! "/api/public/traces/{traceId}"; a capture matches one non-empty segment. Literal routes win
//! over captures at the same position. Built once at start-up, then read concurrently without
//! locks.
//!
//! Matching splits the raw (still encoded) path of request.target and decodes each segment, so an
//! id holding "%2F" stays one segment; a request without a target (built by hand in a test) is
//! matched on request.path. One trailing slash is ignored. The most specific matching pattern is
//! chosen first and the method checked after, so GET on a path that only a more specific POST
//! route matches is a 405, as with Next.js file routes.
class Router {
 public:
  enum class MatchKind { kFound, kNotFound, kMethodNotAllowed };
  struct Match {
    MatchKind kind = MatchKind::kNotFound;
    const Handler* handler = nullptr;
    std::vector<std::string> allowed_methods;  //!< filled for kMethodNotAllowed
  };

  //! Registers a route; throws std::invalid_argument for a malformed pattern or a duplicate
  //! (same method and same shape), which are programming errors found at start-up.
  void Add(std::string method, std::string pattern, Handler handler);
  //! Finds the handler and fills request.path_params on success.
  Match Resolve(Request& request) const;
  //! The handler for a GET (or HEAD) whose path matches no route pattern at all (the web UI's
  //! files); it decides itself what to answer (e.g. 404 for /api/ paths). Without one such a GET
  //! is kNotFound.
  void SetFallback(Handler handler);

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  //!< "{name}" marks a capture
    Handler handler;
  };
  std::vector<Route> routes_;
  Handler fallback_;  //!< empty: none
};

}  // namespace langfuse::http
