#include "ui_api/static_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/ids.h"
#include "config/config.h"
#include "http/router.h"

namespace langfuse::ui_api {
namespace {

namespace fs = std::filesystem;

std::string Header(const http::Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

TEST(SafeRelativePathTest, RefusesEveryWayOut) {
  EXPECT_EQ(SafeRelativePath("/"), std::optional<std::string>(""));
  EXPECT_EQ(SafeRelativePath("/assets/x.js"), std::optional<std::string>("assets/x.js"));
  EXPECT_EQ(SafeRelativePath("//assets//x.js/"), std::optional<std::string>("assets/x.js"));
  EXPECT_EQ(SafeRelativePath("/project/p%20q"), std::optional<std::string>("project/p q"));
  for (const char* bad : {"/../etc/passwd", "/assets/../../x", "/%2e%2e/x", "/%2E%2e/x", "/.%2e/x", "/./x",
                          "/a%2f..%2fb", "/a%2F%2E%2E%2Fb", "/a%5c..%5cb", "/a%00b", "relative", ""}) {
    EXPECT_EQ(SafeRelativePath(bad), std::nullopt) << bad;
  }
}

TEST(StaticFilesTest, ContentTypesAndGzipNegotiation) {
  EXPECT_EQ(ContentTypeFor("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.JS"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("a.woff2"), "font/woff2");
  EXPECT_EQ(ContentTypeFor("noext"), "application/octet-stream");
  EXPECT_TRUE(AcceptsGzip("gzip, deflate, br"));
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip; q=0.000"));
  EXPECT_FALSE(AcceptsGzip("br, deflate"));
  EXPECT_FALSE(AcceptsGzip(""));
}

class StaticFilesServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("lf-ui-static-" + RandomHex(6));
    root_ = base_ / "dist";
    Write(root_ / "index.html", "<!doctype html><title>app</title>");
    Write(root_ / "assets" / "app-123.js", "console.log(1)");
    Write(root_ / "assets" / "app-123.js.gz", "GZ-BYTES");
    Write(root_ / "favicon.svg", "<svg/>");
    Write(base_ / "secret.txt", "do not serve");
    fs::create_symlink(base_ / "secret.txt", root_ / "leak.txt");
    fs::create_directory_symlink(base_, root_ / "up");
  }
  void TearDown() override { fs::remove_all(base_); }

  http::Response Get(const std::string& target, const std::string& accept_encoding = "",
                     const std::string& if_none_match = "", const std::string& method = "GET") {
    http::Request r;
    r.method = method;
    r.target = target;
    http::ParseTarget(r);
    if (!accept_encoding.empty()) r.headers["Accept-Encoding"] = accept_encoding;
    if (!if_none_match.empty()) r.headers["If-None-Match"] = if_none_match;
    return StaticFiles(root_.string()).Serve(r);
  }

  fs::path base_;
  fs::path root_;
};

TEST_F(StaticFilesServeTest, ServesFilesWithCacheHeaders) {
  const http::Response index = Get("/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<!doctype html><title>app</title>");
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(Header(index, "Cache-Control"), "no-cache");

  const http::Response asset = Get("/assets/app-123.js");
  EXPECT_EQ(asset.status, 200);
  EXPECT_EQ(asset.body, "console.log(1)");
  EXPECT_EQ(asset.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Header(asset, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(Header(asset, "Content-Encoding"), "");
  EXPECT_EQ(Header(asset, "Vary"), "Accept-Encoding");

  const http::Response gz = Get("/assets/app-123.js", "gzip, br");
  EXPECT_EQ(gz.body, "GZ-BYTES");
  EXPECT_EQ(Header(gz, "Content-Encoding"), "gzip");
  EXPECT_EQ(gz.content_type, "text/javascript; charset=utf-8");

  const http::Response icon = Get("/favicon.svg?v=1");
  EXPECT_EQ(icon.body, "<svg/>");
  EXPECT_EQ(Header(icon, "Cache-Control"), "no-cache");
}

TEST(EntityTagTest, StrongTagOfTheBytesAndIfNoneMatchLists) {
  const std::string tag = EntityTagOf("console.log(1)");
  ASSERT_EQ(tag.size(), 34u);
  EXPECT_EQ(tag.front(), '"');
  EXPECT_EQ(tag.back(), '"');
  EXPECT_EQ(tag.find("W/"), std::string::npos);
  EXPECT_EQ(tag, EntityTagOf("console.log(1)"));
  EXPECT_NE(tag, EntityTagOf("console.log(2)"));
  EXPECT_NE(EntityTagOf(""), EntityTagOf(std::string(1, '\0')));

  EXPECT_TRUE(IfNoneMatchHits(tag, tag));
  EXPECT_TRUE(IfNoneMatchHits("*", tag));
  EXPECT_TRUE(IfNoneMatchHits(" * ", tag));
  EXPECT_TRUE(IfNoneMatchHits("W/" + tag, tag));  // weak comparison for If-None-Match
  EXPECT_TRUE(IfNoneMatchHits("\"other\", " + tag, tag));
  EXPECT_TRUE(IfNoneMatchHits("\"a,b\" ,, W/" + tag + " ,", tag));
  EXPECT_FALSE(IfNoneMatchHits("\"other\"", tag));
  EXPECT_FALSE(IfNoneMatchHits(tag.substr(1, 32), tag));                // unquoted
  EXPECT_FALSE(IfNoneMatchHits("\"" + tag.substr(1, 31) + "\"", tag));  // a prefix
  EXPECT_FALSE(IfNoneMatchHits("\"x\" " + tag, tag));                   // no comma: malformed
  EXPECT_FALSE(IfNoneMatchHits("\"unterminated, " + tag, tag));
  EXPECT_FALSE(IfNoneMatchHits("", tag));
}

TEST_F(StaticFilesServeTest, EntityTagsAndConditionalRequests) {
  const http::Response index = Get("/");
  const std::string tag = Header(index, "ETag");
  EXPECT_EQ(tag, EntityTagOf("<!doctype html><title>app</title>"));
  // A client route sends the same index.html, hence the same tag.
  EXPECT_EQ(Header(Get("/project/p1/traces"), "ETag"), tag);

  const http::Response not_modified = Get("/project/p1/traces", "", tag);
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_EQ(not_modified.body, "");
  EXPECT_EQ(Header(not_modified, "ETag"), tag);
  EXPECT_EQ(Header(not_modified, "Cache-Control"), "no-cache");
  EXPECT_EQ(Get("/", "", "W/" + tag).status, 304);
  EXPECT_EQ(Get("/", "", "*").status, 304);
  const http::Response changed = Get("/", "", "\"0123\"");
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(changed.body, "<!doctype html><title>app</title>");

  // The gzip and the plain form are different representations: different tags, each revalidated
  // only by its own.
  const http::Response plain = Get("/assets/app-123.js");
  const http::Response gz = Get("/assets/app-123.js", "gzip");
  EXPECT_EQ(Header(plain, "ETag"), EntityTagOf("console.log(1)"));
  EXPECT_EQ(Header(gz, "ETag"), EntityTagOf("GZ-BYTES"));
  const http::Response gz_304 = Get("/assets/app-123.js", "gzip", Header(gz, "ETag"));
  EXPECT_EQ(gz_304.status, 304);
  EXPECT_EQ(gz_304.body, "");
  EXPECT_EQ(Header(gz_304, "Vary"), "Accept-Encoding");
  EXPECT_EQ(Header(gz_304, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(Header(gz_304, "Content-Encoding"), "");
  EXPECT_EQ(Get("/assets/app-123.js", "", Header(gz, "ETag")).status, 200);
  EXPECT_EQ(Get("/assets/app-123.js", "gzip", Header(plain, "ETag")).status, 200);

  // A file rewritten in place gets a new tag; the old one no longer answers 304.
  Write(root_ / "favicon.svg", "<svg version='2'/>");
  const http::Response icon = Get("/favicon.svg", "", EntityTagOf("<svg/>"));
  EXPECT_EQ(icon.status, 200);
  EXPECT_EQ(icon.body, "<svg version='2'/>");
  EXPECT_EQ(Header(icon, "ETag"), EntityTagOf("<svg version='2'/>"));

  // Errors carry no tag and are never 304.
  const http::Response missing = Get("/assets/old-999.js", "", "*");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Header(missing, "ETag"), "");
}

TEST_F(StaticFilesServeTest, HeadIsAnsweredAsGet) {
  // The handler answers HEAD with GET's full response; the HTTP server leaves the body out
  // (tests/e2e/ui_data.test.mjs checks that on the wire).
  const http::Response get = Get("/assets/app-123.js", "gzip");
  const http::Response head = Get("/assets/app-123.js", "gzip", "", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, get.body);
  EXPECT_EQ(head.headers, get.headers);
  EXPECT_EQ(Get("/project/x", "", Header(get, "ETag"), "HEAD").status, 200);
  EXPECT_EQ(Get("/project/x", "", Header(Get("/"), "ETag"), "HEAD").status, 304);

  http::Router router;
  ASSERT_TRUE(RegisterStaticFiles(router, root_.string()));
  http::Request r;
  r.method = "HEAD";
  r.target = "/project/x";
  http::ParseTarget(r);
  EXPECT_EQ(router.Resolve(r).kind, http::Router::MatchKind::kFound);
}

TEST_F(StaticFilesServeTest, ClientRoutesGetIndexHtml) {
  for (const char* route : {"/project/p1/traces/t1", "/auth/sign-in", "/setup?x=1", "/favicon.ico"}) {
    const http::Response r = Get(route);
    EXPECT_EQ(r.status, 200) << route;
    EXPECT_EQ(r.body, "<!doctype html><title>app</title>") << route;
    EXPECT_EQ(Header(r, "Cache-Control"), "no-cache") << route;
  }
  // A missing hashed asset is 404, not HTML.
  EXPECT_EQ(Get("/assets/old-999.js").status, 404);
}

TEST_F(StaticFilesServeTest, NoWayOutOfTheDirectory) {
  for (const char* target :
       {"/../secret.txt", "/%2e%2e/secret.txt", "/assets/%2E%2E/%2e%2e/secret.txt",
        "/assets%2f..%2f..%2fsecret.txt", "/leak.txt", "/up/secret.txt", "/up/dist/index.html"}) {
    const http::Response r = Get(target);
    EXPECT_NE(r.body, "do not serve") << target;
    // Traversal is 404 JSON; a symlink out of the root is treated as absent (the app's index).
    EXPECT_TRUE(r.status == 404 || r.body == "<!doctype html><title>app</title>")
        << target << " " << r.status;
  }
  EXPECT_EQ(Get("/%2e%2e/secret.txt").status, 404);
}

TEST_F(StaticFilesServeTest, ApiPathsStayJson404) {
  for (const char* target : {"/api/ui/nothing", "/api", "/api/public/nope", "/%61pi/ui/x"}) {
    const http::Response r = Get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_NE(r.body.find("LangfuseNotFoundError"), std::string::npos) << target;
  }
}

TEST_F(StaticFilesServeTest, RouterFallbackOnlyForUnmatchedGets) {
  http::Router router;
  router.Add("GET", "/api/public/health", [](http::Request&) { return http::Response::Json(200, "{}"); });
  router.Add("POST", "/api/public/ingestion", [](http::Request&) { return http::Response::Json(207, "{}"); });
  auto resolve = [&](const std::string& method, const std::string& target) {
    http::Request r;
    r.method = method;
    r.target = target;
    http::ParseTarget(r);
    return router.Resolve(r).kind;
  };
  EXPECT_EQ(resolve("GET", "/project/x"), http::Router::MatchKind::kNotFound);
  ASSERT_TRUE(RegisterStaticFiles(router, root_.string()));
  EXPECT_EQ(resolve("GET", "/project/x"), http::Router::MatchKind::kFound);
  EXPECT_EQ(resolve("POST", "/project/x"), http::Router::MatchKind::kNotFound);
  EXPECT_EQ(resolve("OPTIONS", "/project/x"), http::Router::MatchKind::kNotFound);
  // Routes keep winning, and a path a route owns for another method stays 405.
  EXPECT_EQ(resolve("GET", "/api/public/health"), http::Router::MatchKind::kFound);
  EXPECT_EQ(resolve("GET", "/api/public/ingestion"), http::Router::MatchKind::kMethodNotAllowed);

  http::Request r;
  r.method = "GET";
  r.target = "/project/x";
  http::ParseTarget(r);
  auto match = router.Resolve(r);
  ASSERT_NE(match.handler, nullptr);
  EXPECT_EQ((*match.handler)(r).body, "<!doctype html><title>app</title>");

  EXPECT_FALSE(RegisterStaticFiles(router, ""));
  EXPECT_FALSE(RegisterStaticFiles(router, (base_ / "missing").string()));
}

TEST_F(StaticFilesServeTest, DefaultUiDirBesideTheBinary) {
  // Source-tree layout: <src>/CMakeLists.txt, <src>/ui/dist, <src>/build/x/src/app/langfuse.
  const fs::path src = base_ / "src";
  Write(src / "CMakeLists.txt", "");
  fs::create_directories(src / "ui" / "dist");
  fs::create_directories(src / "build" / "x" / "src" / "app");
  EXPECT_EQ(fs::path(DefaultUiDir((src / "build/x/src/app/langfuse").string())), src / "ui" / "dist");
  // Installed layout wins: <prefix>/bin/langfuse, <prefix>/share/langfuse/ui.
  const fs::path prefix = base_ / "prefix";
  fs::create_directories(prefix / "bin");
  fs::create_directories(prefix / "share" / "langfuse" / "ui");
  EXPECT_EQ(fs::path(DefaultUiDir((prefix / "bin/langfuse").string())), prefix / "share" / "langfuse" / "ui");
  EXPECT_EQ(DefaultUiDir((base_ / "nowhere" / "langfuse").string()), "");
}

TEST(UiConfigTest, ReadsTheUiVariables) {
  auto env = [](std::map<std::string, std::string> values) {
    return [values](const std::string& name) -> std::optional<std::string> {
      const auto it = values.find(name);
      return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  };
  const Config defaults = LoadConfig(env({{"LANGFUSE_UI_DIR", ""}}));
  EXPECT_EQ(defaults.nextauth_secret, "");
  EXPECT_FALSE(defaults.auth_disable_signup);
  EXPECT_EQ(defaults.auth_session_max_age_minutes, 30 * 24 * 60);
  EXPECT_EQ(defaults.ui_dir, "");  // set but empty: no UI
  EXPECT_EQ(defaults.SessionSecretPath(), "./data/session.secret");

  const Config set = LoadConfig(env({{"NEXTAUTH_SECRET", "s3cret"},
                                     {"NEXTAUTH_URL", "https://lf.example.com"},
                                     {"AUTH_DISABLE_SIGNUP", "true"},
                                     {"AUTH_SESSION_MAX_AGE", "90"},
                                     {"LANGFUSE_UI_DIR", "/srv/ui"}}));
  EXPECT_EQ(set.nextauth_secret, "s3cret");
  EXPECT_EQ(set.nextauth_url, "https://lf.example.com");
  EXPECT_TRUE(set.auth_disable_signup);
  EXPECT_EQ(set.auth_session_max_age_minutes, 90);
  EXPECT_EQ(set.ui_dir, "/srv/ui");

  EXPECT_THROW(LoadConfig(env({{"AUTH_SESSION_MAX_AGE", "0"}})), std::invalid_argument);
  EXPECT_THROW(LoadConfig(env({{"AUTH_SESSION_MAX_AGE", "1d"}})), std::invalid_argument);
  EXPECT_THROW(LoadConfig(env({{"AUTH_DISABLE_SIGNUP", "yes please"}})), std::invalid_argument);
}

}  // namespace
}  // namespace langfuse::ui_api
