#include "http/http_types.h"

#include <algorithm>

#include "common/json_text.h"

namespace langfuse::http {
namespace {

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool HeaderNameLess::operator()(std::string_view a, std::string_view b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](char x, char y) { return AsciiLower(x) < AsciiLower(y); });
}

std::string_view Request::Header(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string_view() : std::string_view(it->second);
}

const std::string* Request::QueryParam(std::string_view name) const {
  // multimap<string, string> has no transparent lookup; building the key is cheap next to a request.
  auto it = query.find(std::string(name));
  return it == query.end() ? nullptr : &it->second;
}

std::vector<std::string> Request::QueryParams(std::string_view name) const {
  std::vector<std::string> values;
  // equal_range keeps insertion order for equal keys, which is the order in the query string.
  auto [first, last] = query.equal_range(std::string(name));
  for (auto it = first; it != last; ++it) values.push_back(it->second);
  return values;
}

Response Response::Json(int status, std::string json_body) {
  Response response;
  response.status = status;
  response.body = std::move(json_body);
  return response;
}

Response Response::Error(int status, std::string_view error, std::string_view message) {
  std::string body = "{\"message\":";
  AppendJsonString(body, message);
  body += ",\"error\":";
  AppendJsonString(body, error);
  body += '}';
  return Json(status, std::move(body));
}

std::string PercentDecode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_as_space && c == '+') ? ' ' : c;
  }
  return out;
}

std::string_view RawTargetPath(std::string_view target) {
  // Absolute form (RFC 9112 3.2.2), which proxies send: drop scheme and authority.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() && std::equal(scheme.begin(), scheme.end(), target.begin(),
                                                     [](char s, char t) { return s == AsciiLower(t); })) {
      target.remove_prefix(scheme.size());
      size_t slash = target.find_first_of("/?");
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
      if (!target.empty() && target.front() == '?') return "/";
      break;
    }
  }
  size_t end = target.find_first_of("?#");
  return target.substr(0, end);
}

void ParseTarget(Request& request) {
  std::string_view target = request.target;
  request.path = PercentDecode(RawTargetPath(target), /*plus_as_space=*/false);
  request.query.clear();

  size_t question = target.find('?');
  if (question == std::string_view::npos) return;
  std::string_view query = target.substr(question + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2"
    size_t eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    request.query.emplace(PercentDecode(name, true), PercentDecode(value, true));
  }
}

}  // namespace langfuse::http
