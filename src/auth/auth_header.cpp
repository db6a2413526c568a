#include "auth/auth_header.h"

#include <sodium.h>

#include "auth/sodium_init.h"

namespace langfuse::auth {
namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kInvalidCharacter = "Invalid character";
constexpr std::string_view kNotCorrectlyEncoded = "The string to be decoded is not correctly encoded.";
constexpr std::string_view kInvalidAuthorizationHeader = "Invalid authorization header";

// The WHATWG "ASCII whitespace" that forgiving-base64 skips.
bool IsAsciiWhitespace(char c) { return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '; }

}  // namespace

StatusOr<std::string> DecodeBase64LikeAtob(std::string_view text) {
  // Validation follows Node's atob step by step, so the same inputs fail with the same text.
  std::string digits;  // the base64 digits without whitespace and padding
  digits.reserve(text.size());
  size_t significant = 0;  // non-whitespace characters, '=' included
  size_t equals = 0;
  for (const char c : text) {
    if (IsAsciiWhitespace(c)) continue;
    ++significant;
    if (c == '=') {
      if (++equals > 2) return Status::InvalidArgument(std::string(kInvalidCharacter));
    } else if (kBase64Alphabet.find(c) != std::string_view::npos) {
      if (equals > 0) return Status::InvalidArgument(std::string(kInvalidCharacter));  // '=' only at the end
      digits.push_back(c);
    } else {
      return Status::InvalidArgument(std::string(kInvalidCharacter));
    }
  }
  size_t remainder = significant % 4;
  if (remainder == 0) {
    remainder = (significant - equals) % 4;
  } else if (equals > 0) {
    return Status::InvalidArgument(std::string(kInvalidCharacter));
  }
  if (remainder == 1) return Status::InvalidArgument(std::string(kNotCorrectlyEncoded));

  // atob drops the bits left over after the last whole byte; libsodium insists they are zero.
  // Clear them in the last digit so both accept the same inputs.
  if (digits.size() % 4 == 2 || digits.size() % 4 == 3) {
    const size_t value = kBase64Alphabet.find(digits.back());
    const size_t mask = digits.size() % 4 == 2 ? 0x30 : 0x3C;
    digits.back() = kBase64Alphabet[value & mask];
  }
  EnsureSodium();
  std::string out(digits.size() / 4 * 3 + 3, '\0');
  size_t out_len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), digits.data(),
                        digits.size(), nullptr, &out_len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0) {
    return Status::InvalidArgument(std::string(kNotCorrectlyEncoded));  // unreachable after the checks above
  }
  out.resize(out_len);
  return out;
}

StatusOr<BasicCredentials> ParseBasicAuthorization(std::string_view header) {
  // JS: header.split(" ")[1]
  const size_t start = header.find(' ');
  if (start == std::string_view::npos)
    return Status::InvalidArgument(std::string(kInvalidAuthorizationHeader));
  std::string_view token = header.substr(start + 1);
  token = token.substr(0, token.find(' '));
  if (token.empty()) return Status::InvalidArgument(std::string(kInvalidAuthorizationHeader));

  ASSIGN_OR_RETURN(const std::string decoded, DecodeBase64LikeAtob(token));
  // JS: const [username, password] = decoded.split(":"); a third part is dropped.
  const std::string_view view(decoded);
  const size_t colon = view.find(':');
  if (colon == std::string_view::npos)
    return Status::InvalidArgument(std::string(kInvalidAuthorizationHeader));
  const std::string_view user = view.substr(0, colon);
  std::string_view password = view.substr(colon + 1);
  password = password.substr(0, password.find(':'));
  if (user.empty() || password.empty())
    return Status::InvalidArgument(std::string(kInvalidAuthorizationHeader));
  return BasicCredentials{std::string(user), std::string(password)};
}

}  // namespace langfuse::auth
