#include "ui_api/session.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/ids.h"

namespace langfuse::ui_api {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kStart = 1'700'000'000'000;

struct Clock {
  int64_t now = kStart;
};

Sessions MakeSessions(Clock& clock, std::string secret = "test-secret", int64_t minutes = 60) {
  return Sessions(std::move(secret), minutes, /*secure_cookies=*/false, [&clock] { return clock.now; });
}

http::Request WithCookie(const std::string& token, const std::string& method = "GET") {
  http::Request r;
  r.method = method;
  r.headers["Cookie"] = "other=1; langfuse.session=" + token + "; x=y";
  return r;
}

TEST(SessionsTest, IssuedTokenVerifiesToItsUser) {
  Clock clock;
  Sessions s = MakeSessions(clock);
  const std::string token = s.Issue("user-1");
  EXPECT_EQ(s.Verify(token), std::optional<std::string>("user-1"));
  // Ids with dots and other bytes survive (base64url).
  EXPECT_EQ(s.Verify(s.Issue("a.b/c=d")), std::optional<std::string>("a.b/c=d"));
}

TEST(SessionsTest, ExpiresAfterMaxAge) {
  Clock clock;
  Sessions s = MakeSessions(clock, "secret", 60);
  const std::string token = s.Issue("user-1");
  clock.now += 59 * 60 * 1000;
  EXPECT_TRUE(s.Verify(token).has_value());
  clock.now += 61 * 1000;
  EXPECT_FALSE(s.Verify(token).has_value());
}

TEST(SessionsTest, TamperedOrForeignTokensAreRejected) {
  Clock clock;
  Sessions s = MakeSessions(clock);
  const std::string token = s.Issue("user-1");
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);

  // Another user id with the same MAC.
  const std::string other_user = s.Issue("user-2");
  EXPECT_FALSE(s.Verify(other_user.substr(0, first + 0) + token.substr(first)).has_value());
  // A later expiry with the same MAC.
  std::string later = token;
  later.replace(first + 1, second - first - 1, "99999999999");
  EXPECT_FALSE(s.Verify(later).has_value());
  // One flipped MAC character.
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(s.Verify(flipped).has_value());
  // Signed with another secret.
  Sessions other = MakeSessions(clock, "another-secret");
  EXPECT_FALSE(other.Verify(token).has_value());
  // Garbage.
  for (const std::string& bad : std::vector<std::string>{"", ".", "..", "a.b.c", "a.b.c.d", token + ".x",
                                                         "dXNlcg.-5.AAAA", std::string(5000, 'a')}) {
    EXPECT_FALSE(s.Verify(bad).has_value()) << bad;
  }
}

TEST(SessionsTest, CsrfTokenBelongsToItsSession) {
  Clock clock;
  Sessions s = MakeSessions(clock);
  const std::string token = s.Issue("user-1");
  clock.now += 1000;
  const std::string token2 = s.Issue("user-1");
  ASSERT_NE(token, token2);
  const std::string csrf = s.CsrfToken(token);
  EXPECT_EQ(csrf, s.CsrfToken(token));
  EXPECT_NE(csrf, s.CsrfToken(token2));
  // Not the session's own MAC.
  EXPECT_EQ(token.find(csrf), std::string::npos);

  http::Request r = WithCookie(token, "POST");
  EXPECT_FALSE(s.CsrfValid(r));  // no header
  r.headers["X-CSRF-Token"] = s.CsrfToken(token2);
  EXPECT_FALSE(s.CsrfValid(r));
  r.headers["X-CSRF-Token"] = csrf + "x";
  EXPECT_FALSE(s.CsrfValid(r));
  r.headers["x-csrf-token"] = csrf;
  EXPECT_TRUE(s.CsrfValid(r));

  // The right header without the cookie is not enough.
  http::Request no_cookie;
  no_cookie.method = "POST";
  no_cookie.headers["X-CSRF-Token"] = csrf;
  EXPECT_FALSE(s.CsrfValid(no_cookie));
  // Nor once the session expired.
  clock.now += 2LL * 60 * 60 * 1000;
  EXPECT_FALSE(s.CsrfValid(r));
}

TEST(SessionsTest, CookieHeaderParsing) {
  EXPECT_EQ(CookieValue("a=1; langfuse.session=tok; b=2", "langfuse.session"),
            std::optional<std::string>("tok"));
  EXPECT_EQ(CookieValue("langfuse.session=first;langfuse.session=second", "langfuse.session"),
            std::optional<std::string>("first"));
  EXPECT_EQ(CookieValue("  langfuse.session = \"q\" ", "langfuse.session"), std::optional<std::string>("q"));
  EXPECT_EQ(CookieValue("xlangfuse.session=1; langfuse.sessionx=2", "langfuse.session"), std::nullopt);
  EXPECT_EQ(CookieValue("", "langfuse.session"), std::nullopt);
  EXPECT_EQ(CookieValue(";;=;novalue", "langfuse.session"), std::nullopt);
}

TEST(SessionsTest, SetCookieAttributes) {
  Clock clock;
  Sessions s = MakeSessions(clock, "secret", 30 * 24 * 60);
  http::Request plain;
  const std::string cookie = s.SetCookie(plain, "tok");
  EXPECT_EQ(cookie, "langfuse.session=tok; Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000");

  http::Request proxied;
  proxied.headers["X-Forwarded-Proto"] = "HTTPS, http";
  EXPECT_NE(s.SetCookie(proxied, "tok").find("; Secure"), std::string::npos);
  proxied.headers["X-Forwarded-Proto"] = "http";
  EXPECT_EQ(s.SetCookie(proxied, "tok").find("Secure"), std::string::npos);

  Sessions secure("secret", 60, /*secure_cookies=*/true);
  EXPECT_NE(secure.SetCookie(plain, "tok").find("; Secure"), std::string::npos);

  const std::string cleared = s.ClearCookie(plain);
  EXPECT_EQ(cleared.rfind("langfuse.session=;", 0), 0u);
  EXPECT_NE(cleared.find("Max-Age=0"), std::string::npos);
  EXPECT_NE(cleared.find("HttpOnly"), std::string::npos);
}

TEST(SessionsTest, EmptySecretIsAStartUpError) {
  EXPECT_THROW(Sessions("", 60, false), std::invalid_argument);
  EXPECT_THROW(Sessions("s", 0, false), std::invalid_argument);
}

TEST(SessionsTest, RolesParseAndOrder) {
  EXPECT_EQ(ParseRole("OWNER"), Role::kOwner);
  EXPECT_EQ(ParseRole("VIEWER"), Role::kViewer);
  EXPECT_EQ(ParseRole("owner"), Role::kNone);
  EXPECT_EQ(ParseRole("NONE"), Role::kNone);
  EXPECT_EQ(RoleName(Role::kAdmin), "ADMIN");
  EXPECT_LT(Role::kViewer, Role::kMember);
  EXPECT_LT(Role::kMember, Role::kAdmin);
  EXPECT_LT(Role::kAdmin, Role::kOwner);
  EXPECT_TRUE(IsStateChanging("DELETE"));
  EXPECT_FALSE(IsStateChanging("GET"));
}

TEST(SessionSecretTest, CreatedOnceWithOwnerOnlyPermissions) {
  const fs::path dir = fs::temp_directory_path() / ("lf-session-secret-" + RandomHex(6));
  fs::create_directories(dir);
  const std::string path = (dir / "session.secret").string();
  auto first = LoadOrCreateSessionSecret(path);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->size(), 64u);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto second = LoadOrCreateSessionSecret(path);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);

  // An emptied file is an error, not a silently new secret.
  std::ofstream(path, std::ios::trunc).close();
  EXPECT_FALSE(LoadOrCreateSessionSecret(path).ok());
  EXPECT_FALSE(LoadOrCreateSessionSecret((dir / "missing" / "session.secret").string()).ok());
  fs::remove_all(dir);
}

// RequireProjectAccess / RequireOrgAccess against a real SQLite store.
class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lf-ui-access-" + RandomHex(6));
    fs::create_directories(dir_);
    auto opened = meta::OpenSqliteMetaStore((dir_ / "meta.db").string());
    ASSERT_TRUE(opened.ok());
    store_ = std::move(opened).value();
    int applied = 0;
    ASSERT_TRUE(store_->Migrate(&applied).ok());
    ASSERT_TRUE(store_->UpsertOrganization({"org-a", "A"}).ok());
    ASSERT_TRUE(store_->UpsertOrganization({"org-b", "B"}).ok());
    ASSERT_TRUE(store_->UpsertProject({"proj-a", "org-a", "PA"}).ok());
    ASSERT_TRUE(store_->UpsertProject({"proj-b", "org-b", "PB"}).ok());
    for (const char* id : {"viewer", "admin"}) {
      meta::User u;
      u.id = id;
      u.email = std::string(id) + "@example.com";
      ASSERT_TRUE(store_->CreateUser(u).ok());
    }
    ASSERT_TRUE(store_->UpsertMembership({"", "org-a", "viewer", "VIEWER"}).ok());
    ASSERT_TRUE(store_->UpsertMembership({"", "org-a", "admin", "ADMIN"}).ok());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  int AccessStatus(const std::string& user, const std::string& project, Role minimum,
                   const std::string& method, bool csrf = true) {
    http::Request r;
    r.method = method;
    if (!user.empty()) {
      const std::string token = sessions_.Issue(user);
      r.headers["Cookie"] = "langfuse.session=" + token;
      if (csrf) r.headers["X-CSRF-Token"] = sessions_.CsrfToken(token);
    }
    http::Response error;
    auto access = RequireProjectAccess(sessions_, *store_, r, project, minimum, &error);
    if (access.ok()) {
      EXPECT_EQ(access->project_id, project);
      EXPECT_EQ(access->org_id, "org-a");
      return 200;
    }
    return error.status;
  }

  fs::path dir_;
  std::unique_ptr<meta::MetaStore> store_;
  Sessions sessions_{"secret", 60, false};
};

TEST_F(AccessTest, ProjectAccessStatuses) {
  EXPECT_EQ(AccessStatus("", "proj-a", Role::kViewer, "GET"), 401);
  EXPECT_EQ(AccessStatus("deleted-user", "proj-a", Role::kViewer, "GET"), 401);
  EXPECT_EQ(AccessStatus("viewer", "proj-a", Role::kViewer, "GET"), 200);
  EXPECT_EQ(AccessStatus("viewer", "proj-a", Role::kAdmin, "GET"), 403);
  EXPECT_EQ(AccessStatus("admin", "proj-a", Role::kAdmin, "POST"), 200);
  EXPECT_EQ(AccessStatus("admin", "proj-a", Role::kAdmin, "POST", /*csrf=*/false), 403);
  EXPECT_EQ(AccessStatus("admin", "proj-a", Role::kViewer, "GET", /*csrf=*/false), 200);
  // Another organisation's project looks exactly like a missing one.
  EXPECT_EQ(AccessStatus("admin", "proj-b", Role::kViewer, "GET"), 404);
  EXPECT_EQ(AccessStatus("admin", "proj-none", Role::kViewer, "GET"), 404);
}

TEST_F(AccessTest, OrgAccessStatuses) {
  auto status = [&](const std::string& user, const std::string& org, Role minimum) {
    http::Request r;
    r.method = "GET";
    r.headers["Cookie"] = "langfuse.session=" + sessions_.Issue(user);
    http::Response error;
    auto access = RequireOrgAccess(sessions_, *store_, r, org, minimum, &error);
    return access.ok() ? 200 : error.status;
  };
  EXPECT_EQ(status("viewer", "org-a", Role::kViewer), 200);
  EXPECT_EQ(status("viewer", "org-a", Role::kAdmin), 403);
  EXPECT_EQ(status("admin", "org-b", Role::kViewer), 404);
}

}  // namespace
}  // namespace langfuse::ui_api
