#include "storage/meta/detail/pg_conn.h"

#include <fmt/core.h>
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <set>

#include "common/log.h"

namespace langfuse::meta::detail {
namespace {

// The store's own query parameters (Prisma's names); libpq would reject them.
constexpr std::string_view kSchemaParam = "schema";
constexpr std::string_view kPoolSizeParam = "connection_limit";
constexpr std::string_view kPoolTimeoutParam = "pool_timeout";
constexpr int kMaxPoolSize = 100;
constexpr int64_t kMaxPoolTimeoutSeconds = 3600;
// Postgres truncates identifiers to NAMEDATALEN - 1 bytes.
constexpr size_t kMaxIdentifierBytes = 63;

// libpq parameters this store sets when the URL does not: every connect and every silent peer
// is bounded in time.
constexpr std::pair<std::string_view, std::string_view> kLibpqDefaults[] = {
    {"connect_timeout", "10"},     {"application_name", "langfuse"}, {"keepalives", "1"},
    {"keepalives_idle", "30"},     {"keepalives_interval", "10"},    {"keepalives_count", "3"},
    {"tcp_user_timeout", "60000"},
};

// Parameters whose values are secrets, masked in `PgUrl::redacted`.
bool IsSecretParam(std::string_view key) { return key == "password" || key == "sslpassword"; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding ('+' stays '+', as libpq reads URIs).
StatusOr<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    const int hi = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
    const int lo = hi >= 0 ? HexValue(text[i + 2]) : -1;
    if (hi < 0 || lo < 0) return Status::InvalidArgument("invalid percent-encoding in the database URL");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// libpq messages end in a newline (sometimes several lines); one line reads better in a Status.
std::string OneLine(std::string_view text) {
  std::string out;
  for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The URL with the password of its user info and of `password=` parameters replaced by ***.
std::string Redact(std::string_view url) {
  std::string out(url);
  const size_t scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    const size_t authority = scheme_end + 3;
    const size_t authority_end = std::min(out.find_first_of("/?", authority), out.size());
    const size_t at = out.rfind('@', authority_end);
    if (at != std::string::npos && at >= authority) {
      const size_t colon = out.find(':', authority);
      if (colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  const size_t query = out.find('?');
  if (query == std::string::npos) return out;
  std::string redacted = out.substr(0, query + 1);
  std::string_view rest = std::string_view(out).substr(query + 1);
  bool first = true;
  while (true) {
    const size_t amp = rest.find('&');
    const std::string_view piece = rest.substr(0, amp);
    if (!first) redacted += '&';
    first = false;
    const size_t eq = piece.find('=');
    if (eq != std::string_view::npos && IsSecretParam(piece.substr(0, eq))) {
      redacted += piece.substr(0, eq);
      redacted += "=***";
    } else {
      redacted += piece;
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return redacted;
}

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// libpq's messages may quote the URL they were given: mask its password there too.
std::string ScrubUrl(std::string message, std::string_view url) {
  ReplaceAll(message, url, Redact(url));
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return message;
  const size_t authority = scheme_end + 3;
  const size_t authority_end = std::min(url.find_first_of("/?", authority), url.size());
  const size_t at = url.rfind('@', authority_end);
  if (at == std::string_view::npos || at < authority) return message;
  const size_t colon = url.find(':', authority);
  if (colon < at) ReplaceAll(message, url.substr(colon + 1, at - colon - 1), "***");
  return message;
}

StatusOr<int64_t> ParseCount(std::string_view key, std::string_view value, int64_t min, int64_t max) {
  int64_t n = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || ptr != value.data() + value.size() || n < min || n > max) {
    return Status::InvalidArgument(fmt::format(
        "database URL parameter {}={} is not a whole number from {} to {}", key, value, min, max));
  }
  return n;
}

// The keywords this libpq accepts (host, sslmode, application_name, ...).
std::set<std::string, std::less<>> LibpqKeywords() {
  std::set<std::string, std::less<>> out;
  PQconninfoOption* options = PQconndefaults();
  if (options == nullptr) return out;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) out.insert(o->keyword);
  PQconninfoFree(options);
  return out;
}

// Shortened SQL for error messages: the statement's start says which one failed.
std::string SqlSummary(std::string_view sql) {
  constexpr size_t kMax = 80;
  std::string out;
  bool space = false;
  for (char c : sql) {
    if (c == '\n' || c == ' ' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
    if (out.size() >= kMax) {
      out += "...";
      break;
    }
  }
  return out;
}

}  // namespace

StatusOr<PgUrl> ParsePostgresUrl(std::string_view url) {
  if (url.empty()) return Status::InvalidArgument("the database URL is empty");
  const bool postgres_scheme = url.starts_with("postgresql://") || url.starts_with("postgres://");
  if (!postgres_scheme) {
    const size_t scheme_end = url.find("://");
    return Status::InvalidArgument(
        fmt::format("the database URL must start with postgresql:// or postgres:// (it starts with {})",
                    scheme_end == std::string_view::npos ? std::string("no scheme")
                                                         : std::string(url.substr(0, scheme_end + 3))));
  }
  PgUrl out;
  out.redacted = Redact(url);
  const size_t query_start = url.find('?');
  out.base = std::string(url.substr(0, query_start));

  // libpq's own parser checks the part it will read (user info, host list, port, database).
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(out.base.c_str(), &error);
  if (parsed == nullptr) {
    const std::string reason = error != nullptr ? ScrubUrl(OneLine(error), out.base) : "out of memory";
    PQfreemem(error);
    return Status::InvalidArgument(fmt::format("the database URL {} is not valid: {}", out.redacted, reason));
  }
  PQconninfoFree(parsed);

  const auto known = LibpqKeywords();
  std::string_view query = query_start == std::string_view::npos ? "" : url.substr(query_start + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) continue;
    const size_t eq = piece.find('=');
    ASSIGN_OR_RETURN(std::string key, PercentDecode(piece.substr(0, eq)));
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument(fmt::format("database URL parameter {} has no value", key));
    }
    ASSIGN_OR_RETURN(std::string value, PercentDecode(piece.substr(eq + 1)));
    if (key == kSchemaParam) {
      if (value.empty() || value.size() > kMaxIdentifierBytes || value.find('\0') != std::string::npos) {
        return Status::InvalidArgument(fmt::format(
            "database URL parameter schema must be a name of 1 to {} bytes", kMaxIdentifierBytes));
      }
      out.schema = std::move(value);
    } else if (key == kPoolSizeParam) {
      ASSIGN_OR_RETURN(const int64_t n, ParseCount(key, value, 1, kMaxPoolSize));
      out.pool_size = static_cast<int>(n);
    } else if (key == kPoolTimeoutParam) {
      ASSIGN_OR_RETURN(const int64_t seconds, ParseCount(key, value, 0, kMaxPoolTimeoutSeconds));
      out.pool_timeout = std::chrono::seconds(seconds);
    } else if (known.contains(key)) {
      auto same = std::find_if(out.libpq_params.begin(), out.libpq_params.end(),
                               [&](const auto& p) { return p.first == key; });
      if (same != out.libpq_params.end()) {
        same->second = std::move(value);  // the last occurrence wins, as in libpq
      } else {
        out.libpq_params.emplace_back(std::move(key), std::move(value));
      }
    } else if (std::find(out.ignored_params.begin(), out.ignored_params.end(), key) ==
               out.ignored_params.end()) {
      out.ignored_params.push_back(std::move(key));
    }
  }
  for (const auto& [key, value] : kLibpqDefaults) {
    const bool given = std::any_of(out.libpq_params.begin(), out.libpq_params.end(),
                                   [&](const auto& p) { return p.first == key; });
    if (!given && known.contains(key)) out.libpq_params.emplace_back(std::string(key), std::string(value));
  }
  return out;
}

StatusCode PgStatusCode(std::string_view sqlstate) {
  if (sqlstate.size() != 5) return StatusCode::kInternal;
  if (sqlstate == "23505") return StatusCode::kConflict;  // unique_violation
  const std::string_view klass = sqlstate.substr(0, 2);
  if (klass == "22" || klass == "23") return StatusCode::kInvalidArgument;  // data, integrity
  if (klass == "08" || klass == "53" || klass == "58")
    return StatusCode::kUnavailable;  // connection, resources, I/O
  if (sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" || sqlstate == "57P05" ||
      sqlstate == "57014" ||                         // shutdown, idle timeout, statement timeout
      sqlstate == "40001" || sqlstate == "40P01" ||  // serialisation failure, deadlock
      sqlstate == "55P03" || sqlstate == "25P03") {  // lock not available, idle-in-transaction timeout
    return StatusCode::kUnavailable;
  }
  return StatusCode::kInternal;
}

PgParam::PgParam(const std::optional<int64_t>& value) {
  if (value) value_ = std::to_string(*value);
}

PgParam::PgParam(const std::optional<double>& value) {
  // fmt's shortest form reads back to the same double; Postgres's float8 input accepts it
  // (including inf and nan).
  if (value) value_ = fmt::format("{}", *value);
}

// ---- PgResult -----------------------------------------------------------------------------------

PgResult::~PgResult() {
  if (result_ != nullptr) PQclear(result_);
}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}

int PgResult::Rows() const { return PQntuples(result_); }

bool PgResult::IsNull(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }

std::string PgResult::Text(int row, int column) const {
  return std::string(PQgetvalue(result_, row, column),
                     static_cast<size_t>(PQgetlength(result_, row, column)));
}

std::optional<std::string> PgResult::OptionalText(int row, int column) const {
  if (IsNull(row, column)) return std::nullopt;
  return Text(row, column);
}

int64_t PgResult::Int(int row, int column) const { return OptionalInt(row, column).value_or(0); }

std::optional<int64_t> PgResult::OptionalInt(int row, int column) const {
  if (IsNull(row, column)) return std::nullopt;
  const char* text = PQgetvalue(result_, row, column);
  const int length = PQgetlength(result_, row, column);
  int64_t value = 0;
  std::from_chars(text, text + length, value);
  return value;
}

std::optional<double> PgResult::OptionalDouble(int row, int column) const {
  if (IsNull(row, column)) return std::nullopt;
  return std::strtod(PQgetvalue(result_, row, column), nullptr);
}

bool PgResult::Bool(int row, int column) const {
  return !IsNull(row, column) && PQgetvalue(result_, row, column)[0] == 't';
}

std::string PgResult::CommandTag() const { return PQcmdStatus(result_); }

int64_t PgResult::AffectedRows() const {
  const char* text = PQcmdTuples(result_);
  int64_t value = 0;
  std::from_chars(text, text + std::char_traits<char>::length(text), value);
  return value;
}

// ---- PgConn -------------------------------------------------------------------------------------

StatusOr<std::unique_ptr<PgConn>> PgConn::Connect(const PgUrl& url) {
  // dbname first with expand_dbname: libpq expands the URL, later keywords add to it.
  std::vector<const char*> keywords{"dbname"};
  std::vector<const char*> values{url.base.c_str()};
  for (const auto& [key, value] : url.libpq_params) {
    keywords.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* raw = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1);
  if (raw == nullptr) return Status::Unavailable("postgres: cannot allocate a connection");
  if (PQstatus(raw) != CONNECTION_OK) {
    const std::string reason = ScrubUrl(OneLine(PQerrorMessage(raw)), url.base);
    PQfinish(raw);
    return Status::Unavailable(fmt::format("postgres: cannot connect to {}: {}", url.redacted, reason));
  }
  std::unique_ptr<PgConn> conn(new PgConn(raw));
  PQsetNoticeReceiver(raw, &PgConn::OnNotice, conn.get());

  // The schema is the whole search_path (as Prisma's ?schema=), so unqualified names resolve in it
  // alone. extra_float_digits=3 makes float8 output the shortest text that reads back exactly.
  const std::string search_path = conn->QuoteIdentifier(url.schema);
  const bool timeout_in_options =
      std::any_of(url.libpq_params.begin(), url.libpq_params.end(), [](const auto& p) {
        return p.first == "options" && p.second.find("statement_timeout") != std::string::npos;
      });
  const std::string statement_timeout = std::to_string(url.statement_timeout_ms);
  auto set = conn->Query(
      "SELECT set_config('search_path', $1, false), set_config('extra_float_digits', '3', false), "
      "CASE WHEN $3::boolean THEN set_config('statement_timeout', $2, false) END",
      {search_path, statement_timeout, !timeout_in_options});
  if (!set.ok()) return set.status();
  return conn;
}

PgConn::~PgConn() { PQfinish(conn_); }

Status PgConn::ResultStatus(pg_result* result, std::string_view sql) const {
  if (result == nullptr) {
    const std::string reason = OneLine(PQerrorMessage(conn_));
    return Status(Broken() ? StatusCode::kUnavailable : StatusCode::kInternal,
                  fmt::format("postgres: {}: {}", SqlSummary(sql), reason));
  }
  switch (PQresultStatus(result)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
      return Status::Ok();
    default:
      break;
  }
  const char* sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  const std::string reason = OneLine(primary != nullptr ? primary : PQresultErrorMessage(result));
  // A lost connection is kUnavailable whatever the server managed to say before it went.
  const StatusCode code = Broken()              ? StatusCode::kUnavailable
                          : sqlstate != nullptr ? PgStatusCode(sqlstate)
                                                : StatusCode::kInternal;
  if (sqlstate != nullptr) {
    return Status(code, fmt::format("postgres: {}: {} (SQLSTATE {})", SqlSummary(sql), reason, sqlstate));
  }
  return Status(code, fmt::format("postgres: {}: {}", SqlSummary(sql), reason));
}

StatusOr<PgResult> PgConn::Query(std::string_view sql, std::initializer_list<PgParam> params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgParam& p : params) {
    if (p.value() && p.value()->find('\0') != std::string::npos) {
      return Status::InvalidArgument(
          fmt::format("postgres: {}: parameter ${} holds a NUL byte, which Postgres text cannot store",
                      SqlSummary(sql), values.size() + 1));
    }
    values.push_back(p.value() ? p.value()->c_str() : nullptr);
  }
  const std::string text(sql);
  PGresult* result =
      PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), /*paramTypes=*/nullptr,
                   values.data(), /*paramLengths=*/nullptr, /*paramFormats=*/nullptr,
                   /*resultFormat=*/0);
  Status status = ResultStatus(result, sql);
  if (!status.ok()) {
    PQclear(result);
    return status;
  }
  return PgResult(result);
}

Status PgConn::Exec(std::string_view sql) {
  const std::string text(sql);
  PGresult* result = PQexec(conn_, text.c_str());
  Status status = ResultStatus(result, sql);
  PQclear(result);
  return status;
}

std::string PgConn::QuoteIdentifier(std::string_view identifier) const {
  // As PQescapeIdentifier: wrapped in double quotes, inner ones doubled. Done here so it works
  // on any connection state and cannot fail.
  std::string out = "\"";
  for (char c : identifier) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

bool PgConn::Broken() const { return server_ended_ || PQstatus(conn_) != CONNECTION_OK; }

bool PgConn::InTransaction() const { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }

int PgConn::BackendPid() const { return PQbackendPID(conn_); }

void PgConn::OnNotice(void* self, const pg_result* notice) {
  // Server notices ("relation already exists, skipping") would go to stderr by default; they are
  // diagnostics. A FATAL one arrives on an idle connection whose backend is ending (terminated,
  // server shutting down, idle timeout): the connection is finished even before its end-of-file.
  const char* severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
  const std::string_view level = severity != nullptr ? severity : "";
  if (level == "FATAL" || level == "PANIC") static_cast<PgConn*>(self)->server_ended_ = true;
  LOG_DEBUG("postgres notice: {}", OneLine(PQresultErrorMessage(notice)));
}

bool PgConn::LostWhileIdle() {
  // An idle connection has nothing to read unless the server spoke: the FATAL of a backend that
  // is ending, then end-of-file. Reading what is there tells, without waiting.
  for (int round = 0; round < 4; ++round) {
    if (Broken()) return true;
    pollfd fd{PQsocket(conn_), POLLIN, 0};
    if (fd.fd < 0) return true;
    if (poll(&fd, 1, /*timeout=*/0) <= 0) return false;
    if (PQconsumeInput(conn_) == 0) return true;
    (void)PQisBusy(conn_);  // parses what arrived: a notice reaches OnNotice
    while (PGnotify* n = PQnotifies(conn_)) PQfreemem(n);
  }
  return Broken();
}

// ---- PgPool -------------------------------------------------------------------------------------

PgPool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->Release(std::move(conn_));
}

StatusOr<PgPool::Lease> PgPool::Acquire() {
  std::unique_ptr<PgConn> conn;
  {
    std::unique_lock lock(mu_);
    const auto deadline = std::chrono::steady_clock::now() + url_.pool_timeout;
    while (idle_.empty() && open_ >= url_.pool_size) {
      if (url_.pool_timeout.count() == 0) {
        freed_.wait(lock);
      } else if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
                 open_ >= url_.pool_size) {
        return Status::Unavailable(
            fmt::format("postgres: no pooled connection became free within {} ms (connection_limit={}); "
                        "the database is slow or the pool too small",
                        url_.pool_timeout.count(), url_.pool_size));
      }
    }
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;  // this caller opens a new one in the slot
    }
  }
  // Outside the lock: a check of the socket, or a connect bounded by connect_timeout.
  if (conn != nullptr && conn->LostWhileIdle()) {
    LOG_INFO("postgres: replacing a pooled connection the server closed (backend {})", conn->BackendPid());
    conn.reset();
  }
  if (conn == nullptr) {
    auto opened = PgConn::Connect(url_);
    if (!opened.ok()) {
      {
        std::lock_guard lock(mu_);
        --open_;
      }
      freed_.notify_one();
      return opened.status();
    }
    conn = std::move(opened).value();
  }
  return Lease(this, std::move(conn));
}

void PgPool::Release(std::unique_ptr<PgConn> conn) {
  const bool reusable = !conn->Broken() && !conn->InTransaction();
  if (!reusable) conn.reset();  // closed outside the lock
  {
    std::lock_guard lock(mu_);
    if (reusable) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
  }
  freed_.notify_one();
}

// ---- PgTransaction ------------------------------------------------------------------------------

PgTransaction::~PgTransaction() {
  // A failed rollback leaves the connection broken or in a transaction: the pool then closes it.
  if (open_) (void)conn_.Exec("ROLLBACK");
}

Status PgTransaction::Begin() {
  RETURN_IF_ERROR(conn_.Exec("BEGIN"));
  open_ = true;
  return Status::Ok();
}

Status PgTransaction::Commit() {
  open_ = false;
  ASSIGN_OR_RETURN(const PgResult result, conn_.Query("COMMIT"));
  // COMMIT of an aborted transaction answers ROLLBACK without an error.
  if (result.CommandTag() == "ROLLBACK") return Status::Internal("postgres: the transaction was rolled back");
  return Status::Ok();
}

}  // namespace langfuse::meta::detail
