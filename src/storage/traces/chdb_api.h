#pragma once

// The part of chDB's C API (libchdb.so, chdb-io/chdb-core `programs/local/chdb.h`, 26.7) that the
// chDB transport uses, declared here rather than taken from chDB's header: the npm package ships
// only the shared library. Handles are opaque; only pointers to them cross this boundary. Every
// declaration must match the library's ABI exactly: check it against chdb.h when bumping chDB.

#include <cstddef>
#include <cstdint>

extern "C" {

struct chdb_connection_;
using chdb_connection = chdb_connection_*;  //!< one session with the in-process engine
struct chdb_result_;
using chdb_result = chdb_result_;  //!< output of one statement, freed by chdb_destroy_query_result
struct chdb_insert_stream_;
using chdb_insert_stream = chdb_insert_stream_*;  //!< one streaming INSERT

enum chdb_state { CHDBSuccess = 0, CHDBError = 1 };

//! Must run before the first chdb_connect (0 = leave SIGSEGV/SIGINT... to the host process).
void chdb_set_signal_handlers_enabled(int enabled);
const char* chdb_version(void);

//! argv as clickhouse-local's command line: `--path=<dir>` plus `--<setting>=<value>` pairs that
//! apply to this connection only. Returns NULL on failure.
chdb_connection* chdb_connect(int argc, char** argv);
void chdb_close_conn(chdb_connection* conn);

chdb_result* chdb_query_n(chdb_connection conn, const char* query, size_t query_len, const char* format,
                          size_t format_len);
//! Binds `{name:Type}` placeholders server-side; values never become SQL text.
chdb_result* chdb_query_with_params_n(chdb_connection conn, const char* query, size_t query_len,
                                      const char* format, size_t format_len, const char* const* param_names,
                                      const size_t* param_name_lens, const char* const* param_values,
                                      const size_t* param_value_lens, size_t param_count);

char* chdb_result_buffer(chdb_result* result);
size_t chdb_result_length(chdb_result* result);
//! NULL when the statement succeeded.
const char* chdb_result_error(chdb_result* result);
void chdb_destroy_query_result(chdb_result* result);

//! `query` is the INSERT without FORMAT or data; never returns NULL (see chdb_stream_insert_error).
chdb_insert_stream chdb_stream_insert_n(chdb_connection conn, const char* query, size_t query_len,
                                        const char* format, size_t format_len);
chdb_state chdb_stream_append(chdb_insert_stream stream, const void* data, size_t len);
//! Commits; the result carries the error, if any. Does not free the stream.
chdb_result* chdb_stream_done(chdb_insert_stream stream);
const char* chdb_stream_insert_error(chdb_insert_stream stream);
//! Required for every stream, also after errors; cancels an unfinished one.
void chdb_destroy_insert_stream(chdb_insert_stream stream);

//! Joins every engine thread; fails (CHDBError) while a connection is open.
chdb_state chdb_shutdown(void);

}  // extern "C"
