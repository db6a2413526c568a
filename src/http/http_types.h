#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace langfuse::http {

//! Case-insensitive (ASCII) ordering for header names. Transparent, so a header map can be
//! searched with a string_view without building a std::string.
struct HeaderNameLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

//! One parsed HTTP request as handlers see it. The server fills everything but path_params,
//! which the router fills.
struct Request {
  std::string method;                             //!< upper-case, e.g. "GET"
  std::string target;                             //!< raw request target, path and query
  std::string path;                               //!< percent-decoded path without the query string
  std::multimap<std::string, std::string> query;  //!< decoded query parameters, repeatable
  std::map<std::string, std::string, HeaderNameLess> headers;
  std::string body;
  std::map<std::string, std::string> path_params;  //!< e.g. {"traceId": "..."} from the route
  std::string request_id;                          //!< generated per request, echoed as X-Request-Id
  std::string remote_address;

  //! The header's value, or "" when absent.
  std::string_view Header(std::string_view name) const;
  //! The first value of a query parameter, or nullptr when absent.
  const std::string* QueryParam(std::string_view name) const;
  //! Every value of a repeatable query parameter, in order.
  std::vector<std::string> QueryParams(std::string_view name) const;
};

//! A response a handler returns. JSON unless content_type says otherwise.
struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  //!< extra headers

  //! A JSON body (already serialized) with the given status.
  static Response Json(int status, std::string json_body);
  //! Langfuse's error shape: {"message": message, "error": error}.
  static Response Error(int status, std::string_view error, std::string_view message);
};

//! Decodes %XX escapes. With plus_as_space (query strings) '+' becomes ' '; in paths '+' stays.
//! A malformed escape ("%4", "%zz") is kept literally rather than rejected, as browsers do.
std::string PercentDecode(std::string_view text, bool plus_as_space);

//! Fills request.path (decoded, without the query string) and request.query from
//! request.target. An absolute-form target ("http://host/p?q") is reduced to its path and query.
void ParseTarget(Request& request);

//! The path part of a request target (origin or absolute form), still percent-encoded.
std::string_view RawTargetPath(std::string_view target);

}  // namespace langfuse::http
