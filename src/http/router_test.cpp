#include "http/router.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace langfuse::http {
namespace {

Handler Named(std::string name) {
  return [name = std::move(name)](Request&) { return Response::Json(200, name); };
}

Request Make(std::string method, std::string target) {
  Request request;
  request.method = std::move(method);
  request.target = std::move(target);
  ParseTarget(request);
  return request;
}

//! Which handler a request reaches ("" when none).
std::string Reached(const Router& router, Request& request) {
  Router::Match match = router.Resolve(request);
  if (match.kind != Router::MatchKind::kFound) return "";
  return (*match.handler)(request).body;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/api/public/traces", Named("list"));
    router_.Add("POST", "/api/public/traces", Named("create"));
    router_.Add("GET", "/api/public/traces/{traceId}", Named("get"));
    router_.Add("DELETE", "/api/public/traces/{traceId}", Named("delete"));
    router_.Add("GET", "/api/public/traces/special", Named("special"));
    router_.Add("GET", "/api/public/sessions/{sessionId}/items/{itemId}", Named("item"));
    router_.Add("POST", "/api/public/ingestion", Named("ingest"));
    router_.Add("GET", "/", Named("root"));
  }
  Router router_;
};

TEST_F(RouterTest, LiteralRoute) {
  Request request = Make("GET", "/api/public/traces");
  EXPECT_EQ(Reached(router_, request), "list");
  request = Make("POST", "/api/public/traces");
  EXPECT_EQ(Reached(router_, request), "create");
  request = Make("GET", "/");
  EXPECT_EQ(Reached(router_, request), "root");
}

TEST_F(RouterTest, CaptureFillsPathParams) {
  Request request = Make("GET", "/api/public/traces/abc-123?fields=core");
  EXPECT_EQ(Reached(router_, request), "get");
  EXPECT_EQ(request.path_params.at("traceId"), "abc-123");

  request = Make("GET", "/api/public/sessions/s1/items/i2");
  EXPECT_EQ(Reached(router_, request), "item");
  EXPECT_EQ(request.path_params.at("sessionId"), "s1");
  EXPECT_EQ(request.path_params.at("itemId"), "i2");
}

TEST_F(RouterTest, CaptureIsPercentDecodedAndKeepsEncodedSlash) {
  Request request = Make("GET", "/api/public/traces/a%20b%2Fc+d");
  EXPECT_EQ(Reached(router_, request), "get");
  EXPECT_EQ(request.path_params.at("traceId"), "a b/c+d");  // '+' is literal in a path
  EXPECT_EQ(request.path, "/api/public/traces/a b/c+d");
}

TEST_F(RouterTest, CaptureNeedsExactlyOneNonEmptySegment) {
  Request request = Make("GET", "/api/public/sessions//items/i2");
  EXPECT_EQ(router_.Resolve(request).kind, Router::MatchKind::kNotFound);
  request = Make("GET", "/api/public/traces/a/b");
  EXPECT_EQ(router_.Resolve(request).kind, Router::MatchKind::kNotFound);
}

TEST_F(RouterTest, LiteralBeatsCaptureRegardlessOfOrder) {
  Request request = Make("GET", "/api/public/traces/special");
  EXPECT_EQ(Reached(router_, request), "special");
  EXPECT_TRUE(request.path_params.empty());

  Router reversed;
  reversed.Add("GET", "/a/b", Named("literal"));
  reversed.Add("GET", "/a/{x}", Named("capture"));
  request = Make("GET", "/a/b");
  EXPECT_EQ(Reached(reversed, request), "literal");
  request = Make("GET", "/a/c");
  EXPECT_EQ(Reached(reversed, request), "capture");
}

TEST_F(RouterTest, EarlierLiteralOutranksLaterLiteral) {
  Router router;
  router.Add("GET", "/{a}/x", Named("capture-first"));
  router.Add("GET", "/y/{b}", Named("literal-first"));
  Request request = Make("GET", "/y/x");
  EXPECT_EQ(Reached(router, request), "literal-first");
  EXPECT_EQ(request.path_params.at("b"), "x");
}

TEST_F(RouterTest, TrailingSlashIsTolerated) {
  Request request = Make("GET", "/api/public/traces/");
  EXPECT_EQ(Reached(router_, request), "list");
  request = Make("GET", "/api/public/traces/t1/");
  EXPECT_EQ(Reached(router_, request), "get");
  EXPECT_EQ(request.path_params.at("traceId"), "t1");
}

TEST_F(RouterTest, NotFoundVersusMethodNotAllowed) {
  Request request = Make("GET", "/api/public/nothing");
  EXPECT_EQ(router_.Resolve(request).kind, Router::MatchKind::kNotFound);
  request = Make("GET", "no-leading-slash");
  EXPECT_EQ(router_.Resolve(request).kind, Router::MatchKind::kNotFound);

  request = Make("PUT", "/api/public/traces");
  Router::Match match = router_.Resolve(request);
  EXPECT_EQ(match.kind, Router::MatchKind::kMethodNotAllowed);
  EXPECT_EQ(match.allowed_methods, (std::vector<std::string>{"GET", "POST"}));
  EXPECT_EQ(match.handler, nullptr);

  request = Make("GET", "/api/public/ingestion");
  match = router_.Resolve(request);
  EXPECT_EQ(match.kind, Router::MatchKind::kMethodNotAllowed);
  EXPECT_EQ(match.allowed_methods, (std::vector<std::string>{"POST"}));
}

TEST_F(RouterTest, MostSpecificPatternDecidesTheMethod) {
  // Only POST exists on the literal route: GET there is a 405, not the capture route's GET.
  Router router;
  router.Add("GET", "/items/{id}", Named("get"));
  router.Add("POST", "/items/bulk", Named("bulk"));
  Request request = Make("GET", "/items/bulk");
  Router::Match match = router.Resolve(request);
  EXPECT_EQ(match.kind, Router::MatchKind::kMethodNotAllowed);
  EXPECT_EQ(match.allowed_methods, (std::vector<std::string>{"POST"}));
}

TEST_F(RouterTest, CaptureNamesMayDifferPerMethod) {
  Router router;
  router.Add("GET", "/p/{promptName}", Named("get"));
  router.Add("DELETE", "/p/{name}", Named("delete"));
  Request request = Make("DELETE", "/p/x");
  EXPECT_EQ(Reached(router, request), "delete");
  EXPECT_EQ(request.path_params.at("name"), "x");
  EXPECT_EQ(request.path_params.count("promptName"), 0u);
}

TEST_F(RouterTest, HandBuiltRequestMatchesOnPath) {
  Request request;
  request.method = "GET";
  request.path = "/api/public/traces/t9";
  EXPECT_EQ(Reached(router_, request), "get");
  EXPECT_EQ(request.path_params.at("traceId"), "t9");
}

TEST_F(RouterTest, RejectsMalformedAndDuplicatePatterns) {
  Router router;
  EXPECT_THROW(router.Add("GET", "no-slash", Named("x")), std::invalid_argument);
  EXPECT_THROW(router.Add("GET", "/a/{}", Named("x")), std::invalid_argument);
  EXPECT_THROW(router.Add("GET", "/a/{x", Named("x")), std::invalid_argument);
  EXPECT_THROW(router.Add("GET", "/a//b", Named("x")), std::invalid_argument);
  router.Add("GET", "/a/{x}", Named("x"));
  EXPECT_THROW(router.Add("GET", "/a/{y}", Named("y")), std::invalid_argument);
  router.Add("POST", "/a/{y}", Named("y"));  // other method: fine
}

// ---------------------------------------------------------------------------------------------
// http_types

TEST(HttpTypesTest, HeaderLookupIsCaseInsensitive) {
  Request request;
  request.headers.emplace("Content-Type", "application/json");
  request.headers.emplace("x-langfuse-sdk-name", "python");
  EXPECT_EQ(request.Header("content-type"), "application/json");
  EXPECT_EQ(request.Header("X-LANGFUSE-SDK-NAME"), "python");
  EXPECT_EQ(request.Header("Authorization"), "");
  EXPECT_FALSE(request.headers.emplace("CONTENT-TYPE", "text/plain").second);
}

TEST(HttpTypesTest, QueryParsingDecodesAndKeepsRepeats) {
  Request request = Make("GET", "/x?tags=a&tags=b%20c&name=hello+world&empty=&flag&&q=%E2%9C%93");
  EXPECT_EQ(request.path, "/x");
  EXPECT_EQ(request.QueryParams("tags"), (std::vector<std::string>{"a", "b c"}));
  ASSERT_NE(request.QueryParam("name"), nullptr);
  EXPECT_EQ(*request.QueryParam("name"), "hello world");
  EXPECT_EQ(*request.QueryParam("empty"), "");
  EXPECT_EQ(*request.QueryParam("flag"), "");
  EXPECT_EQ(*request.QueryParam("q"), "\xE2\x9C\x93");
  EXPECT_EQ(request.QueryParam("missing"), nullptr);
  EXPECT_TRUE(request.QueryParams("missing").empty());
}

TEST(HttpTypesTest, PercentDecodeKeepsMalformedEscapes) {
  EXPECT_EQ(PercentDecode("100%", false), "100%");
  EXPECT_EQ(PercentDecode("%4", false), "%4");
  EXPECT_EQ(PercentDecode("%zz%41", false), "%zzA");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("%2b", true), "+");
}

TEST(HttpTypesTest, AbsoluteFormTarget) {
  Request request = Make("GET", "http://example.com/api/public/traces?page=2");
  EXPECT_EQ(request.path, "/api/public/traces");
  EXPECT_EQ(*request.QueryParam("page"), "2");
  EXPECT_EQ(RawTargetPath("HTTPS://example.com"), "/");
  EXPECT_EQ(RawTargetPath("/a%2Fb?x=1#frag"), "/a%2Fb");
}

TEST(HttpTypesTest, ErrorBodyIsEscapedJson) {
  Response response = Response::Error(404, "LangfuseNotFoundError", "Trace \"x\" not found");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, R"({"message":"Trace \"x\" not found","error":"LangfuseNotFoundError"})");
  EXPECT_EQ(response.content_type, "application/json; charset=utf-8");
  Response json = Response::Json(201, "{}");
  EXPECT_EQ(json.status, 201);
  EXPECT_EQ(json.body, "{}");
}

}  // namespace
}  // namespace langfuse::http
