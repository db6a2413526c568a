// Copies a Langfuse v2 database's transactional tables into the MetaStore (ImportTransactional).
//
// Every table is read in primary-key order in batches (a keyset cursor, one REPEATABLE READ
// READ ONLY transaction per batch) with the columns this version of the source has: a column that
// appeared during v2's life and is missing from an older database reads as NULL, a missing table as
// empty. Each row is compared with what the target already holds and written only when it differs,
// so a second run writes nothing and reports 0 imported rows.

#include <fmt/core.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/ids.h"
#include "common/log.h"
#include "import_v2/import_v2.h"
#include "storage/meta/meta_store.h"

namespace langfuse::import_v2 {
namespace {

// Rows per source batch: big enough to amortise round trips, small enough to bound memory for
// tables such as dataset_items whose JSON columns may be large.
constexpr int64_t kBatchRows = 1000;

//! How a source column is turned into text by the SELECT.
enum class Kind {
  kText,       //!< TEXT or an enum
  kTimestamp,  //!< TIMESTAMP(3) (UTC) -> milliseconds since the epoch
  kJson,       //!< JSON or JSONB -> its text
  kTextArray,  //!< TEXT[] -> a JSON array
  kScalar,     //!< INTEGER, BOOLEAN, DECIMAL, DOUBLE PRECISION -> Postgres's text form
};

struct Column {
  std::string_view name;
  Kind kind;
};

std::string Quote(std::string_view identifier) { return fmt::format("\"{}\"", identifier); }

std::string SelectExpression(const Column& c, bool present) {
  if (!present) return "NULL";
  const std::string q = Quote(c.name);
  switch (c.kind) {
    case Kind::kTimestamp:
      // A timestamp without time zone holds UTC: EXTRACT reads it as such, whatever the session's zone.
      return fmt::format("(round(EXTRACT(EPOCH FROM {}) * 1000))::bigint::text", q);
    case Kind::kTextArray:
      return fmt::format("array_to_json({})::text", q);
    case Kind::kText:
    case Kind::kJson:
    case Kind::kScalar:
      break;
  }
  return q + "::text";
}

// ASCII only, as the stores compare e-mail addresses.
std::string AsciiLower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  });
  return text;
}

// Postgres prints DECIMAL(65,30) with 30 fractional digits; the stores keep "0.000002".
std::optional<std::string> TrimDecimal(std::optional<std::string> text) {
  if (!text || text->find('.') == std::string::npos || text->find_first_of("eE") != std::string::npos)
    return text;
  while (text->back() == '0') text->pop_back();
  if (text->back() == '.') text->pop_back();
  if (text->empty() || *text == "-") *text = "0";
  return text;
}

//! An owned PGresult.
class PgRows {
 public:
  explicit PgRows(PGresult* result) : result_(result) {}
  ~PgRows() { PQclear(result_); }
  PgRows(const PgRows&) = delete;
  PgRows& operator=(const PgRows&) = delete;
  PgRows(PgRows&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
  PgRows& operator=(PgRows&&) = delete;

  const PGresult* get() const { return result_; }
  int Rows() const { return PQntuples(result_); }
  std::optional<std::string> Opt(int row, int col) const {
    if (PQgetisnull(result_, row, col)) return std::nullopt;
    return std::string(PQgetvalue(result_, row, col), static_cast<size_t>(PQgetlength(result_, row, col)));
  }
  std::string Text(int row, int col) const { return Opt(row, col).value_or(""); }
  std::optional<int64_t> OptInt(int row, int col) const {
    auto text = Opt(row, col);
    if (!text) return std::nullopt;
    return std::strtoll(text->c_str(), nullptr, 10);
  }
  int64_t Int(int row, int col) const { return OptInt(row, col).value_or(0); }
  bool Bool(int row, int col) const { return Text(row, col) == "true"; }
  std::optional<double> OptDouble(int row, int col) const {
    auto text = Opt(row, col);
    if (!text) return std::nullopt;
    return std::strtod(text->c_str(), nullptr);
  }
  //! A TEXT[] read through array_to_json; NULL -> empty.
  std::vector<std::string> Array(int row, int col) const {
    std::vector<std::string> out;
    auto text = Opt(row, col);
    if (!text) return out;
    const auto parsed = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_array()) return out;
    for (const auto& value : parsed) {
      if (value.is_string()) out.push_back(value.get<std::string>());
    }
    return out;
  }

 private:
  PGresult* result_;
};

//! One source row: the table's columns in the order of its Column list.
struct Row {
  const PgRows& r;
  int row;
  std::optional<std::string> Opt(int col) const { return r.Opt(row, col); }
  std::string Text(int col) const { return r.Text(row, col); }
  std::optional<int64_t> OptInt(int col) const { return r.OptInt(row, col); }
  int64_t Int(int col) const { return r.Int(row, col); }
  bool Bool(int col) const { return r.Bool(row, col); }
  std::optional<double> OptDouble(int col) const { return r.OptDouble(row, col); }
  std::vector<std::string> Array(int col) const { return r.Array(row, col); }
};

//! Reads the v2 database on one connection, read-only.
class Source {
 public:
  explicit Source(PGconn* conn) : conn_(conn) {}

  Status Exec(std::string_view sql) {
    PgRows r(PQexec(conn_, std::string(sql).c_str()));
    return Check(r, sql);
  }

  StatusOr<PgRows> Query(const std::string& sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const std::string& p : params) values.push_back(p.c_str());
    PgRows r(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                          nullptr, nullptr, 0));
    RETURN_IF_ERROR(Check(r, sql));
    return r;
  }

  //! The source's columns of `table` in the connection's schema; empty when the table is absent.
  StatusOr<std::set<std::string>> Columns(std::string_view table) {
    ASSIGN_OR_RETURN(PgRows r, Query("SELECT column_name::text FROM information_schema.columns "
                                     "WHERE table_schema = current_schema() AND table_name = $1",
                                     {std::string(table)}));
    std::set<std::string> out;
    for (int i = 0; i < r.Rows(); ++i) out.insert(r.Text(i, 0));
    return out;
  }

  //! One statement in its own REPEATABLE READ, READ ONLY transaction (one consistent snapshot).
  StatusOr<PgRows> Snapshot(const std::string& sql, const std::vector<std::string>& params) {
    RETURN_IF_ERROR(Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    auto r = Query(sql, params);
    if (!r.ok()) {
      (void)Exec("ROLLBACK");
      return r.status();
    }
    RETURN_IF_ERROR(Exec("COMMIT"));
    return r;
  }

 private:
  Status Check(const PgRows& r, std::string_view sql) const {
    const ExecStatusType status = r.get() == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r.get());
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status::Ok();
    std::string message = PQerrorMessage(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    const std::string_view head = sql.substr(0, std::min<size_t>(sql.size(), 80));
    if (PQstatus(conn_) != CONNECTION_OK) {
      return Status::Unavailable(
          fmt::format("the v2 database is unreachable: {} (while running: {})", message, head));
    }
    return Status::Internal(
        fmt::format("reading the v2 database failed: {} (while running: {})", message, head));
  }

  PGconn* conn_;
};

Status WithContext(const Status& status, std::string_view table, std::string_view id) {
  if (status.ok()) return status;
  return Status(status.code(), fmt::format("import of {} row {}: {}", table, id, status.message()));
}

bool SameApiKey(const meta::ApiKey& a, const meta::ApiKey& b) {
  return a.id == b.id && a.public_key == b.public_key && a.hashed_secret_key == b.hashed_secret_key &&
         a.fast_hashed_secret_key == b.fast_hashed_secret_key &&
         a.display_secret_key == b.display_secret_key && a.note == b.note && a.scope == b.scope &&
         a.project_id == b.project_id && a.organization_id == b.organization_id &&
         a.created_at_ms == b.created_at_ms && a.last_used_at_ms == b.last_used_at_ms &&
         a.expires_at_ms == b.expires_at_ms;
}

// Score configs keep their created_at once created (UpdateScoreConfig leaves it).
bool SameScoreConfig(const meta::ScoreConfig& a, const meta::ScoreConfig& b) {
  return a.id == b.id && a.project_id == b.project_id && a.name == b.name && a.data_type == b.data_type &&
         a.is_archived == b.is_archived && a.min_value == b.min_value && a.max_value == b.max_value &&
         a.categories == b.categories && a.description == b.description && a.updated_at_ms == b.updated_at_ms;
}

//! A price the legacy model columns imply (models.input_price, ...).
struct LegacyPrices {
  std::optional<std::string> project_id;
  int64_t updated_at_ms = 0;
  std::vector<std::pair<std::string, std::string>> by_usage;  //!< (usage_type, price)
};

//! One run of the import. Not thread-safe; lives for one ImportTransactional call.
class TransactionalImporter {
 public:
  TransactionalImporter(PGconn* source, meta::MetaStore& target, const ProgressFn& progress,
                        TableCounts& counts)
      : source_(source), target_(target), progress_(progress), counts_(counts) {}

  Status Run() {
    // The import never writes to the source; this makes Postgres refuse it should it ever try.
    RETURN_IF_ERROR(source_.Exec("SET default_transaction_read_only = on"));
    RETURN_IF_ERROR(ImportOrganizations());
    RETURN_IF_ERROR(ImportProjects());
    RETURN_IF_ERROR(ImportUsers());
    RETURN_IF_ERROR(ImportOrganizationMemberships());
    RETURN_IF_ERROR(ImportProjectMemberships());
    RETURN_IF_ERROR(ImportApiKeys());
    RETURN_IF_ERROR(ImportScoreConfigs());
    RETURN_IF_ERROR(ImportPrompts());
    RETURN_IF_ERROR(ImportDatasets());
    RETURN_IF_ERROR(ImportDatasetItems());
    RETURN_IF_ERROR(ImportDatasetRuns());
    RETURN_IF_ERROR(ImportDatasetRunItems());
    RETURN_IF_ERROR(ImportModels());
    RETURN_IF_ERROR(ImportPrices());
    return Status::Ok();
  }

 private:
  using RowFn = std::function<Status(const Row&)>;

  //! Reads `table` in `keys` order, kBatchRows at a time, and calls `fn` per row. Fills the
  //! table's source count and, at the end, its target count.
  Status Scan(std::string_view table, const std::vector<Column>& columns,
              const std::vector<std::string_view>& keys, const RowFn& fn) {
    TableCount& count = counts_[std::string(table)];
    count = TableCount{};
    ASSIGN_OR_RETURN(const std::set<std::string> present, source_.Columns(table));
    if (present.empty()) {
      LOG_INFO("import-v2: the source has no {} table; nothing to copy", table);
      return FinishTable(table);
    }
    for (std::string_view key : keys) {
      if (!present.count(std::string(key))) {
        return Status::InvalidArgument(
            fmt::format("the source's {} table has no {} column; is it a Langfuse v2 "
                        "database?",
                        table, key));
      }
    }
    std::string select;
    for (const Column& c : columns) {
      select += (select.empty() ? "" : ", ") + SelectExpression(c, present.count(std::string(c.name)) > 0);
    }
    std::string key_list;
    std::string cursor_params;
    for (size_t i = 0; i < keys.size(); ++i) {
      key_list += (i == 0 ? "" : ", ") + Quote(keys[i]);
      cursor_params += fmt::format("{}${}", i == 0 ? "" : ", ", i + 1);
      select += ", " + Quote(keys[i]) + "::text";
    }
    const std::string from = " FROM " + Quote(table);
    ASSIGN_OR_RETURN(PgRows total, source_.Snapshot("SELECT COUNT(*)" + from, {}));
    count.source = total.Int(0, 0);
    const std::string first =
        fmt::format("SELECT {}{} ORDER BY {} LIMIT {}", select, from, key_list, kBatchRows);
    const std::string next = fmt::format("SELECT {}{} WHERE ({}) > ({}) ORDER BY {} LIMIT {}", select, from,
                                         key_list, cursor_params, key_list, kBatchRows);
    std::vector<std::string> cursor;
    int64_t done = 0;
    while (true) {
      ASSIGN_OR_RETURN(PgRows batch, source_.Snapshot(cursor.empty() ? first : next, cursor));
      const int n = batch.Rows();
      for (int i = 0; i < n; ++i) RETURN_IF_ERROR(fn(Row{batch, i}));
      done += n;
      if (progress_) progress_(std::string(table), done, std::max(done, count.source));
      if (n < kBatchRows) break;
      cursor.clear();
      for (size_t k = 0; k < keys.size(); ++k) {
        cursor.push_back(batch.Text(n - 1, static_cast<int>(columns.size() + k)));
      }
    }
    return FinishTable(table);
  }

  Status FinishTable(std::string_view table) {
    ASSIGN_OR_RETURN(const int64_t rows, target_.CountRows(table));
    counts_[std::string(table)].target = rows;
    return Status::Ok();
  }

  void Imported(std::string_view table) { ++counts_[std::string(table)].imported; }

  Status ImportOrganizations() {
    static const std::vector<Column> kColumns = {{"id", Kind::kText},
                                                 {"name", Kind::kText},
                                                 {"created_at", Kind::kTimestamp},
                                                 {"updated_at", Kind::kTimestamp}};
    return Scan("organizations", kColumns, {"id"}, [&](const Row& r) -> Status {
      meta::Organization org{r.Text(0), r.Text(1), r.Int(2), r.Int(3)};
      ASSIGN_OR_RETURN(auto existing, target_.GetOrganization(org.id));
      // The upsert keeps an existing row's created_at, so only what it writes is compared.
      if (existing && existing->name == org.name && existing->updated_at_ms == org.updated_at_ms)
        return Status::Ok();
      RETURN_IF_ERROR(WithContext(target_.UpsertOrganization(org), "organizations", org.id));
      Imported("organizations");
      return Status::Ok();
    });
  }

  Status ImportProjects() {
    static const std::vector<Column> kColumns = {{"id", Kind::kText},
                                                 {"org_id", Kind::kText},
                                                 {"name", Kind::kText},
                                                 {"created_at", Kind::kTimestamp},
                                                 {"updated_at", Kind::kTimestamp},
                                                 {"deleted_at", Kind::kTimestamp}};
    return Scan("projects", kColumns, {"id"}, [&](const Row& r) -> Status {
      meta::Project p{r.Text(0), r.Text(1), r.Text(2), r.Int(3), r.Int(4), r.OptInt(5)};
      ASSIGN_OR_RETURN(auto existing, target_.GetProject(p.id));
      if (existing && existing->org_id == p.org_id && existing->name == p.name &&
          existing->updated_at_ms == p.updated_at_ms && existing->deleted_at_ms == p.deleted_at_ms) {
        return Status::Ok();
      }
      RETURN_IF_ERROR(WithContext(target_.UpsertProject(p), "projects", p.id));
      Imported("projects");
      return Status::Ok();
    });
  }

  // Users are keyed by e-mail in the target. A v2 user whose e-mail already belongs to another
  // account of this instance is not overwritten: its memberships go to that account.
  Status ImportUsers() {
    static const std::vector<Column> kColumns = {{"id", Kind::kText},      {"email", Kind::kText},
                                                 {"name", Kind::kText},    {"password", Kind::kText},
                                                 {"admin", Kind::kScalar}, {"created_at", Kind::kTimestamp}};
    return Scan("users", kColumns, {"id"}, [&](const Row& r) -> Status {
      meta::User u;
      u.id = r.Text(0);
      const auto email = r.Opt(1);
      if (!email || email->empty()) {
        LOG_WARN("import-v2: user {} has no e-mail address and cannot sign in here; skipped", u.id);
        return Status::Ok();
      }
      u.email = AsciiLower(*email);
      u.name = r.Opt(2);
      u.password = r.Opt(3);  // bcrypt, verified as is by the password check
      u.admin = r.Bool(4);
      u.created_at_ms = r.Int(5);
      ASSIGN_OR_RETURN(auto existing, target_.FindUserByEmail(u.email));
      if (existing && existing->id != u.id) {
        LOG_WARN("import-v2: user {} ({}) already exists here as {}; kept as is, memberships go to it", u.id,
                 u.email, existing->id);
        user_ids_[u.id] = existing->id;
        return Status::Ok();
      }
      user_ids_[u.id] = u.id;
      if (existing && existing->name == u.name && existing->password == u.password &&
          existing->admin == u.admin) {
        return Status::Ok();
      }
      RETURN_IF_ERROR(WithContext(target_.UpsertUser(u), "users", u.id));
      Imported("users");
      return Status::Ok();
    });
  }

  Status ImportOrganizationMemberships() {
    static const std::vector<Column> kColumns = {
        {"id", Kind::kText}, {"org_id", Kind::kText}, {"user_id", Kind::kText}, {"role", Kind::kText}};
    std::map<std::string, std::vector<meta::OrganizationMembership>> existing_by_org;
    return Scan("organization_memberships", kColumns, {"id"}, [&](const Row& r) -> Status {
      meta::OrganizationMembership m{r.Text(0), r.Text(1), r.Text(2), r.Text(3)};
      const auto user = user_ids_.find(m.user_id);
      if (user == user_ids_.end()) return Status::Ok();  // a user skipped above
      m.user_id = user->second;
      auto listed = existing_by_org.find(m.org_id);
      if (listed == existing_by_org.end()) {
        ASSIGN_OR_RETURN(auto memberships, target_.ListMemberships(m.org_id));
        listed = existing_by_org.emplace(m.org_id, std::move(memberships)).first;
      }
      for (const meta::OrganizationMembership& e : listed->second) {
        if (e.user_id != m.user_id) continue;
        membership_ids_[m.id] = e.id;  // the upsert keeps an existing membership's id
        if (e.role == m.role) return Status::Ok();
        break;
      }
      if (!membership_ids_.count(m.id)) membership_ids_[m.id] = m.id;
      RETURN_IF_ERROR(WithContext(target_.UpsertMembership(m), "organization_memberships", m.id));
      Imported("organization_memberships");
      return Status::Ok();
    });
  }

  Status ImportProjectMemberships() {
    static const std::vector<Column> kColumns = {
        {"org_membership_id", Kind::kText}, {"project_id", Kind::kText},
        {"user_id", Kind::kText},           {"role", Kind::kText},
        {"created_at", Kind::kTimestamp},   {"updated_at", Kind::kTimestamp}};
    std::map<std::string, std::vector<meta::ProjectMembership>> existing_by_project;
    return Scan("project_memberships", kColumns, {"project_id", "user_id"}, [&](const Row& r) -> Status {
      meta::ProjectMembership m{r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Int(4), r.Int(5)};
      const auto user = user_ids_.find(m.user_id);
      const auto membership = membership_ids_.find(m.org_membership_id);
      if (user == user_ids_.end() || membership == membership_ids_.end()) return Status::Ok();
      m.user_id = user->second;
      m.org_membership_id = membership->second;
      auto listed = existing_by_project.find(m.project_id);
      if (listed == existing_by_project.end()) {
        ASSIGN_OR_RETURN(auto memberships, target_.ListProjectMemberships(m.project_id));
        listed = existing_by_project.emplace(m.project_id, std::move(memberships)).first;
      }
      if (std::find(listed->second.begin(), listed->second.end(), m) != listed->second.end())
        return Status::Ok();
      RETURN_IF_ERROR(WithContext(target_.UpsertProjectMembership(m), "project_memberships",
                                  m.project_id + "/" + m.user_id));
      Imported("project_memberships");
      return Status::Ok();
    });
  }

  Status ImportApiKeys() {
    static const std::vector<Column> kColumns = {{"id", Kind::kText},
                                                 {"public_key", Kind::kText},
                                                 {"hashed_secret_key", Kind::kText},
                                                 {"fast_hashed_secret_key", Kind::kText},
                                                 {"display_secret_key", Kind::kText},
                                                 {"note", Kind::kText},
                                                 {"scope", Kind::kText},
                                                 {"project_id", Kind::kText},
                                                 {"organization_id", Kind::kText},
                                                 {"created_at", Kind::kTimestamp},
                                                 {"last_used_at", Kind::kTimestamp},
                                                 {"expires_at", Kind::kTimestamp}};
    return Scan("api_keys", kColumns, {"id"}, [&](const Row& r) -> Status {
      meta::ApiKey k;
      k.id = r.Text(0);
      k.public_key = r.Text(1);
      k.hashed_secret_key = r.Text(2);  // bcrypt: the authenticator verifies it and backfills the fast hash
      k.fast_hashed_secret_key = r.Text(3);
      k.display_secret_key = r.Text(4);
      k.note = r.Opt(5);
      k.scope = r.Opt(6).value_or("PROJECT");  // v2 had project keys only
      k.project_id = r.Opt(7);
      k.organization_id = r.Opt(8);
      k.created_at_ms = r.Int(9);
      k.last_used_at_ms = r.OptInt(10);
      k.expires_at_ms = r.OptInt(11);
      ASSIGN_OR_RETURN(auto existing, target_.FindApiKeyByPublicKey(k.public_key));
      if (existing && existing->hashed_secret_key == k.hashed_secret_key) {
        // Keep what using the key here added since an earlier run: the fast hash backfilled after
        // the first bcrypt check (same secret, same hash) and a later last use.
        if (k.fast_hashed_secret_key.empty()) k.fast_hashed_secret_key = existing->fast_hashed_secret_key;
        if (existing->last_used_at_ms &&
            (!k.last_used_at_ms || *existing->last_used_at_ms > *k.last_used_at_ms)) {
          k.last_used_at_ms = existing->last_used_at_ms;
        }
      }
      if (existing && SameApiKey(*existing, k)) return Status::Ok();
      RETURN_IF_ERROR(WithContext(target_.UpsertApiKey(k), "api_keys", k.id));
      Imported("api_keys");
      return Status::Ok();
    });
  }

  Status ImportScoreConfigs() {
    static const std::vector<Column> kColumns = {{"id", Kind::kText},
                                                 {"project_id", Kind::kText},
                                                 {"name", Kind::kText},
                                                 {"data_type", Kind::kText},
                                                 {"is_archived", Kind::kScalar},
                                                 {"min_value", Kind::kScalar},
                                                 {"max_value", Kind::kScalar},
                                                 {"categories", Kind::kJson},
                                                 {"description", Kind::kText},
                                                 {"created_at", Kind::kTimestamp},
                                                 {"updated_at", Kind::kTimestamp}};
    return Scan("score_configs", kColumns, {"id"}, [&](const Row& r) -> Status {
      meta::ScoreConfig c;
      c.id = r.Text(0);
      c.project_id = r.Text(1);
      c.name = r.Text(2);
      c.data_type = r.Text(3);
      c.is_archived = r.Bool(4);
      c.min_value = r.OptDouble(5);
      c.max_value = r.OptDouble(6);
      c.categories = r.Opt(7);
      c.description = r.Opt(8);
      c.created_at_ms = r.Int(9);
      c.updated_at_ms = r.Int(10);
      ASSIGN_OR_RETURN(auto existing, target_.GetScoreConfig(c.project_id, c.id));
      if (existing && SameScoreConfig(*existing, c)) return Status::Ok();
      const Status written = existing ? target_.UpdateScoreConfig(c) : target_.CreateScoreConfig(c);
      RETURN_IF_ERROR(WithContext(written, "score_configs", c.id));
      Imported("score_configs");
      return Status::Ok();
    });
  }

  Status ImportPrompts() {
    static const std::vector<Column> kColumns = {{"id", Kind::kText},
                                                 {"project_id", Kind::kText},
                                                 {"name", Kind::kText},
                                                 {"version", Kind::kScalar},
                                                 {"prompt", Kind::kJson},
                                                 {"type", Kind::kText},
                                                 {"config", Kind::kJson},
                                                 {"labels", Kind::kTextArray},
                                                 {"tags", Kind::kTextArray},
                                                 {"commit_message", Kind::kText},
                                                 {"created_by", Kind::kText},
                                                 {"created_at", Kind::kTimestamp},
                                                 {"updated_at", Kind::kTimestamp}};
    return Scan("prompts", kColumns, {"id"}, [&](const Row& r) -> Status {
      meta::Prompt p;
      p.id = r.Text(0);
      p.project_id = r.Text(1);
      p.name = r.Text(2);
      p.version = static_cast<int32_t>(r.Int(3));
      p.prompt = r.Text(4);
      p.type = r.Opt(5).value_or("text");
      p.config = r.Opt(6).value_or("{}");  // before v2 had prompt configs
      p.labels = r.Array(7);               // before v2 had labels: none
      p.tags = r.Array(8);
      p.commit_message = r.Opt(9);
      p.created_by = r.Text(10);
      p.created_at_ms = r.Int(11);
      p.updated_at_ms = r.Int(12);
      ASSIGN_OR_RETURN(auto existing, target_.GetPrompt(p.project_id, p.id));
      if (existing && *existing == p) return Status::Ok();
      RETURN_IF_ERROR(WithContext(target_.UpsertPrompt(p), "prompts", p.id));
      Imported("prompts");
      return Status::Ok();
    });
  }

  Status ImportDatasets() {
    static const std::vector<Column> kColumns = {{"id", Kind::kText},
                                                 {"project_id", Kind::kText},
                                                 {"name", Kind::kText},
                                                 {"description", Kind::kText},
                                                 {"metadata", Kind::kJson},
                                                 {"remote_experiment_url", Kind::kText},
                                                 {"remote_experiment_payload", Kind::kJson},
                                                 {"created_at", Kind::kTimestamp},
                                                 {"updated_at", Kind::kTimestamp}};
    return Scan("datasets", kColumns, {"id", "project_id"}, [&](const Row& r) -> Status {
      meta::Dataset d{r.Text(0), r.Text(1), r.Text(2), r.Opt(3), r.Opt(4),
                      r.Opt(5),  r.Opt(6),  r.Int(7),  r.Int(8)};
      ASSIGN_OR_RETURN(auto existing, target_.GetDataset(d.project_id, d.id));
      if (existing && *existing == d) return Status::Ok();
      RETURN_IF_ERROR(WithContext(target_.UpsertDataset(d), "datasets", d.id));
      Imported("datasets");
      return Status::Ok();
    });
  }

  Status ImportDatasetItems() {
    static const std::vector<Column> kColumns = {{"id", Kind::kText},
                                                 {"project_id", Kind::kText},
                                                 {"dataset_id", Kind::kText},
                                                 {"status", Kind::kText},
                                                 {"input", Kind::kJson},
                                                 {"expected_output", Kind::kJson},
                                                 {"metadata", Kind::kJson},
                                                 {"source_trace_id", Kind::kText},
                                                 {"source_observation_id", Kind::kText},
                                                 {"created_at", Kind::kTimestamp},
                                                 {"updated_at", Kind::kTimestamp}};
    return Scan("dataset_items", kColumns, {"id", "project_id"}, [&](const Row& r) -> Status {
      meta::DatasetItem i{r.Text(0), r.Text(1), r.Text(2), r.Opt(3).value_or("ACTIVE"),
                          r.Opt(4),  r.Opt(5),  r.Opt(6),  r.Opt(7),
                          r.Opt(8),  r.Int(9),  r.Int(10)};
      ASSIGN_OR_RETURN(auto existing, target_.GetDatasetItem(i.project_id, i.id));
      if (existing && *existing == i) return Status::Ok();
      RETURN_IF_ERROR(WithContext(target_.UpsertDatasetItem(i), "dataset_items", i.id));
      Imported("dataset_items");
      return Status::Ok();
    });
  }

  Status ImportDatasetRuns() {
    static const std::vector<Column> kColumns = {{"id", Kind::kText},
                                                 {"project_id", Kind::kText},
                                                 {"dataset_id", Kind::kText},
                                                 {"name", Kind::kText},
                                                 {"description", Kind::kText},
                                                 {"metadata", Kind::kJson},
                                                 {"created_at", Kind::kTimestamp},
                                                 {"updated_at", Kind::kTimestamp}};
    return Scan("dataset_runs", kColumns, {"id", "project_id"}, [&](const Row& r) -> Status {
      meta::DatasetRun d{r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Opt(4), r.Opt(5), r.Int(6), r.Int(7)};
      ASSIGN_OR_RETURN(auto existing, target_.GetDatasetRun(d.project_id, d.id));
      if (existing && *existing == d) return Status::Ok();
      RETURN_IF_ERROR(WithContext(target_.UpsertDatasetRun(d), "dataset_runs", d.id));
      Imported("dataset_runs");
      return Status::Ok();
    });
  }

  Status ImportDatasetRunItems() {
    static const std::vector<Column> kColumns = {{"id", Kind::kText},
                                                 {"project_id", Kind::kText},
                                                 {"dataset_run_id", Kind::kText},
                                                 {"dataset_item_id", Kind::kText},
                                                 {"trace_id", Kind::kText},
                                                 {"observation_id", Kind::kText},
                                                 {"created_at", Kind::kTimestamp},
                                                 {"updated_at", Kind::kTimestamp}};
    return Scan("dataset_run_items", kColumns, {"id", "project_id"}, [&](const Row& r) -> Status {
      meta::DatasetRunItem d{r.Text(0), r.Text(1), r.Text(2), r.Text(3),
                             r.Text(4), r.Opt(5),  r.Int(6),  r.Int(7)};
      ASSIGN_OR_RETURN(auto existing, target_.GetDatasetRunItem(d.project_id, d.id));
      if (existing && *existing == d) return Status::Ok();
      RETURN_IF_ERROR(WithContext(target_.UpsertDatasetRunItem(d), "dataset_run_items", d.id));
      Imported("dataset_run_items");
      return Status::Ok();
    });
  }

  Status ImportModels() {
    static const std::vector<Column> kColumns = {{"id", Kind::kText},
                                                 {"project_id", Kind::kText},
                                                 {"model_name", Kind::kText},
                                                 {"match_pattern", Kind::kText},
                                                 {"start_date", Kind::kTimestamp},
                                                 {"unit", Kind::kText},
                                                 {"input_price", Kind::kScalar},
                                                 {"output_price", Kind::kScalar},
                                                 {"total_price", Kind::kScalar},
                                                 {"tokenizer_id", Kind::kText},
                                                 {"tokenizer_config", Kind::kJson},
                                                 {"created_at", Kind::kTimestamp},
                                                 {"updated_at", Kind::kTimestamp}};
    return Scan("models", kColumns, {"id"}, [&](const Row& r) -> Status {
      meta::Model m;
      m.id = r.Text(0);
      m.project_id = r.Opt(1);
      m.model_name = r.Text(2);
      m.match_pattern = r.Text(3);
      m.start_date_ms = r.OptInt(4);
      m.unit = r.Opt(5);
      m.input_price = TrimDecimal(r.Opt(6));
      m.output_price = TrimDecimal(r.Opt(7));
      m.total_price = TrimDecimal(r.Opt(8));
      m.tokenizer_id = r.Opt(9);
      m.tokenizer_config = r.Opt(10);
      m.created_at_ms = r.Int(11);
      m.updated_at_ms = r.Int(12);
      LegacyPrices& legacy = models_[m.id];
      legacy.project_id = m.project_id;
      legacy.updated_at_ms = m.updated_at_ms;
      for (const auto& [usage, price] :
           {std::pair{"input", m.input_price}, std::pair{"output", m.output_price},
            std::pair{"total", m.total_price}}) {
        if (price) legacy.by_usage.emplace_back(usage, *price);
      }
      ASSIGN_OR_RETURN(auto existing, target_.GetModel(m.id));
      if (existing && *existing == m) return Status::Ok();
      RETURN_IF_ERROR(WithContext(target_.UpsertModel(m), "models", m.id));
      Imported("models");
      return Status::Ok();
    });
  }

  // v2's prices rows as they are, then, as Langfuse's migration that introduced the prices table
  // did: for every project model (not the built-in ones, whose prices Langfuse seeds itself), one
  // row per non-NULL input_price/output_price/total_price (usage types input/output/total) unless a
  // row for that model and usage type exists. Those rows get an id derived from model and usage
  // type, so a second run finds them.
  Status ImportPrices() {
    static const std::vector<Column> kColumns = {
        {"id", Kind::kText},      {"model_id", Kind::kText},        {"usage_type", Kind::kText},
        {"price", Kind::kScalar}, {"created_at", Kind::kTimestamp}, {"updated_at", Kind::kTimestamp}};
    std::set<std::pair<std::string, std::string>> priced;  // (model_id, usage_type) with a v2 row
    RETURN_IF_ERROR(Scan("prices", kColumns, {"id"}, [&](const Row& r) -> Status {
      meta::Price p{r.Text(0), r.Text(1), std::nullopt, r.Text(2), TrimDecimal(r.Opt(3)).value_or("0"),
                    r.Int(4),  r.Int(5)};
      const auto model = models_.find(p.model_id);
      if (model != models_.end()) p.project_id = model->second.project_id;
      priced.emplace(p.model_id, p.usage_type);
      return WritePrice(p);
    }));
    TableCount& count = counts_["prices"];
    for (const auto& [model_id, legacy] : models_) {
      if (!legacy.project_id) continue;
      for (const auto& [usage, price] : legacy.by_usage) {
        if (priced.count({model_id, usage})) continue;
        ++count.source;
        const std::string digest = Sha256Hex("langfuse-v2-price/" + model_id + "/" + usage);
        const std::string id = fmt::format("{}-{}-{}-{}-{}", digest.substr(0, 8), digest.substr(8, 4),
                                           digest.substr(12, 4), digest.substr(16, 4), digest.substr(20, 12));
        RETURN_IF_ERROR(WritePrice(
            {id, model_id, legacy.project_id, usage, price, legacy.updated_at_ms, legacy.updated_at_ms}));
      }
    }
    return FinishTable("prices");
  }

  Status WritePrice(const meta::Price& p) {
    auto listed = prices_.find(p.model_id);
    if (listed == prices_.end()) {
      ASSIGN_OR_RETURN(auto prices, target_.ListPrices(p.model_id));
      listed = prices_.emplace(p.model_id, std::move(prices)).first;
    }
    if (std::find(listed->second.begin(), listed->second.end(), p) != listed->second.end())
      return Status::Ok();
    RETURN_IF_ERROR(WithContext(target_.UpsertPrice(p), "prices", p.id));
    Imported("prices");
    return Status::Ok();
  }

  Source source_;
  meta::MetaStore& target_;
  const ProgressFn& progress_;
  TableCounts& counts_;
  std::map<std::string, std::string> user_ids_;             //!< v2 user id -> the target's
  std::map<std::string, std::string> membership_ids_;       //!< v2 organization membership id -> the target's
  std::map<std::string, LegacyPrices> models_;              //!< every source model, by id
  std::map<std::string, std::vector<meta::Price>> prices_;  //!< the target's prices, by model, as read
};

}  // namespace

Status ImportTransactional(pg_conn* source, meta::MetaStore& target, const ProgressFn& progress,
                           TableCounts* counts) {
  if (source == nullptr) return Status::InvalidArgument("no connection to the v2 database");
  // Each batch is its own read-only transaction; inside a caller's transaction the COMMITs would end it.
  if (PQtransactionStatus(source) != PQTRANS_IDLE) {
    return Status::InvalidArgument("the v2 database connection must be idle (not inside a transaction)");
  }
  TableCounts local;
  TransactionalImporter importer(source, target, progress, counts != nullptr ? *counts : local);
  return importer.Run();
}

}  // namespace langfuse::import_v2
