#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace langfuse::auth {

//! Decodes base64 exactly as Node's atob (WHATWG forgiving-base64), which Langfuse applies to the
//! Basic credentials: ASCII whitespace is skipped, padding is optional but at most two '=' and
//! only at the end, leftover bits are dropped. Errors are kInvalidArgument carrying Node's
//! DOMException texts, "Invalid character" or "The string to be decoded is not correctly
//! encoded.", because Langfuse puts those texts in its 401 answer.
StatusOr<std::string> DecodeBase64LikeAtob(std::string_view text);

struct BasicCredentials {
  std::string public_key;
  std::string secret_key;
};

//! Splits `Basic <base64(pk:sk)>` as Langfuse's apiAuth.ts does: the token is the text between the
//! first and second space; after decoding, the public key is the text before the first ':' and
//! the secret key the text up to the next ':' (JS split semantics). Errors are kInvalidArgument
//! with Langfuse's reason ("Invalid authorization header", or atob's text) without the
//! "Confirm that you've configured the correct host." suffix, which the authenticator adds.
//! The header must start with "Basic ".
StatusOr<BasicCredentials> ParseBasicAuthorization(std::string_view header);

}  // namespace langfuse::auth
