#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace langfuse {

//! What went wrong, in terms the HTTP layer can map to a status code.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // 400
  kUnauthenticated,   // 401
  kPermissionDenied,  // 403
  kNotFound,          // 404
  kConflict,          // 409
  kPayloadTooLarge,   // 413
  kUnavailable,       // 503: a store does not answer
  kInternal,          // 500
};

//! A value-type result of an operation that can fail. The hot path returns these instead of
//! throwing. Cheap to copy when ok (no message).
class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

//! Either a value or a non-ok Status.
template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace langfuse

#define LF_CONCAT_INNER(a, b) a##b
#define LF_CONCAT(a, b) LF_CONCAT_INNER(a, b)

//! Returns the status from the enclosing function when it is not ok.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::langfuse::Status lf_status_ = (expr);        \
    if (!lf_status_.ok()) return lf_status_;       \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

//! `ASSIGN_OR_RETURN(auto x, Foo());` binds the value or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(LF_CONCAT(lf_statusor_, __LINE__), lhs, expr)
