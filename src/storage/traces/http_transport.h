#pragma once

// The pieces of the HTTP transport (http_transport.cpp) that need no server: the CLICKHOUSE_URL
// parser, how a statement becomes a request, how an error answer becomes a Status, and the gzip
// codec. Declared here for the unit tests and for the loopback test server
// (tests/fixtures/clickhouse_http_fixture.cpp), which speaks the same protocol from the other side.
// The public entry points (HttpTransportOptions, OpenHttpTransport) are in clickhouse_transport.h.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/traces/clickhouse_transport.h"

namespace langfuse::traces::http_detail {

//! A parsed CLICKHOUSE_URL.
struct ClickHouseEndpoint {
  bool tls = false;
  std::string host;         //!< without brackets for IPv6
  uint16_t port = 0;        //!< 8123 (http) / 8443 (https) when the URL has none
  std::string path_prefix;  //!< "" or "/prefix" (a proxy in front of the server), no trailing '/'

  //! "http://host:port" for messages and the Host header's value ("host:port").
  std::string Describe() const;
  std::string HostHeader() const;
};

//! http(s)://host[:port][/path]; credentials, a query string or a fragment are refused (the
//! credentials belong in CLICKHOUSE_USER / CLICKHOUSE_PASSWORD).
StatusOr<ClickHouseEndpoint> ParseClickHouseUrl(std::string_view url);

//! Percent-encodes every byte except RFC 3986's unreserved ones (A-Z a-z 0-9 - . _ ~).
std::string UrlEncode(std::string_view text);
//! Undoes UrlEncode (and '+' as space, as form encoding has it) into `out`; false for a malformed
//! %-escape.
bool UrlDecode(std::string_view text, std::string& out);

//! One request of a statement: POST `target` with `body` (the SQL of a query, the rows of an
//! insert), gzip-compressed when `gzip` is set.
struct HttpStatementRequest {
  std::string target;
  std::string body;
  bool gzip = false;
};

//! A statement with typed parameters: the SQL travels in the body, each parameter as
//! `param_<name>=<escaped text>`, the output format as `default_format`, plus the database, the
//! pinned session settings, wait_end_of_query=1 (so a failure is always an error status, never a
//! half-sent 200), max_execution_time (the request timeout plus a grace, so the server gives up
//! soon after the client) and enable_http_compression when responses are compressed. Parameter
//! names and the format must already be checked (IsSqlIdentifier).
HttpStatementRequest BuildQueryRequest(const HttpTransportOptions& options, std::string_view path_prefix,
                                       std::string_view sql, const std::vector<QueryParam>& params,
                                       std::string_view format);

//! An insert: `INSERT INTO t [SETTINGS insert_deduplicate = 1, insert_deduplication_token = '..']
//! FORMAT <format>` as the `query` URL parameter and `rows` as the body, gzip-compressed from
//! options.compress_request_min_bytes up. Table, token and format must already be checked.
HttpStatementRequest BuildInsertRequest(const HttpTransportOptions& options, std::string_view path_prefix,
                                        std::string_view table, std::string_view format,
                                        std::string_view rows, std::string_view dedup_token);

//! The exception code of an error answer: the X-ClickHouse-Exception-Code header when present,
//! else the N of a body starting "Code: N." (current servers) or "Code: N," (older ones); 0 when
//! neither is there.
int ClickHouseExceptionCode(std::string_view code_header, std::string_view body);

//! An error answer (`http_status` is not 200) as a Status. `what` names the statement kind
//! ("ClickHouse query"), `server` the endpoint, `user` the configured user (for the credential
//! message). Refused credentials (HTTP 401/403 or UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD,
//! AUTHENTICATION_FAILED) and gateway errors are kUnavailable: the server is unusable with this
//! configuration, and a 401/403 would wrongly tell an API caller that *its* credentials are bad.
//! Everything else goes through StatusFromClickHouseError, with the transient codes also
//! recognised by number for servers whose messages carry no error names.
Status StatusFromHttpError(unsigned http_status, std::string_view code_header, std::string_view body,
                           std::string_view what, std::string_view server, std::string_view user);

//! gzip (RFC 1952) of `data` at zlib `level` (1..9).
std::string GzipCompress(std::string_view data, int level);
//! Inflates a gzip or zlib stream into `out`; false (with `error` set) on corrupt input or when the
//! result would exceed `max_bytes`.
bool GzipDecompress(std::string_view data, size_t max_bytes, std::string& out, std::string& error);

}  // namespace langfuse::traces::http_detail
