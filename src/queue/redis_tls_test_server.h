#pragma once

// For tests: a TLS-only redis-server of the test's own, with a throwaway certificate authority,
// server and client certificates made by the `openssl` command in a temporary directory.
//
//   TlsTestCertificates certs;                  // ca.pem, server.pem/.key, client.pem/.key, and
//                                               // other-ca.pem + other-client.pem/.key (unrelated CA)
//   TlsTestRedis server(certs, {.auth_clients = "yes"});
//   if (server.Start() != TlsTestRedis::Started::kYes) ...
//   RedisOptions o = server.ClientOptions();    // TLS on, CA and client certificate set
//
// The server certificate holds the names redis.test and localhost and the address 127.0.0.1.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "queue/redis_connect.h"
#include "queue/redis_options.h"

extern char** environ;

namespace langfuse::queue::testing {

//! A loopback TCP port nothing listens on (just released).
inline uint16_t FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

inline std::filesystem::path NewTestDirectory(const std::string& stem) {
  const char* base = std::getenv("LANGFUSE_TEST_TMP");
  auto dir =
      std::filesystem::path((base != nullptr && *base != '\0') ? base : "/tmp") / (stem + "-" + RandomHex(6));
  std::filesystem::create_directories(dir);
  return dir;
}

//! The certificates, made once per object (EC keys: fast). ok() is false when `openssl` failed
//! (error() says why).
class TlsTestCertificates {
 public:
  TlsTestCertificates() : dir_(NewTestDirectory("redis-tls-certs")) {
    const std::string d = dir_.string();
    // clang-format off
    const std::string script =
        "set -e; cd '" + d + "'\n"
        "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out \"$1\" 2>/dev/null; }\n"
        "ca() {\n"
        "  key $1.key\n"
        "  openssl req -x509 -new -key $1.key -out $1.pem -days 2 -subj \"/CN=$2\" "
        "    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign\n"
        "}\n"
        "leaf() {  # name, ca, cn, extensions\n"
        "  key $1.key\n"
        "  openssl req -new -key $1.key -out $1.csr -subj \"/CN=$3\"\n"
        "  printf '%s\\n' \"$4\" > $1.ext\n"
        "  openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial -out $1.pem -days 2 "
        "    -extfile $1.ext 2>/dev/null\n"
        "}\n"
        "ca ca 'Langfuse test CA'\n"
        "ca other-ca 'Unrelated test CA'\n"
        "leaf server ca redis.test 'subjectAltName=DNS:redis.test,DNS:localhost,IP:127.0.0.1\n"
        "extendedKeyUsage=serverAuth'\n"
        "leaf client ca langfuse-client 'extendedKeyUsage=clientAuth'\n"
        "leaf other-client other-ca stranger 'extendedKeyUsage=clientAuth'\n"
        "openssl pkey -in client.key -out client-encrypted.key -aes256 -passout pass:key-secret\n"
        "chmod 644 *.key\n";
    // clang-format on
    std::ofstream(dir_ / "make.sh") << script;
    const std::string command =
        "sh '" + (dir_ / "make.sh").string() + "' > '" + (dir_ / "make.log").string() + "' 2>&1";
    ok_ = std::system(command.c_str()) == 0;
    if (!ok_) {
      std::ifstream log(dir_ / "make.log");
      error_.assign(std::istreambuf_iterator<char>(log), std::istreambuf_iterator<char>());
    }
  }
  ~TlsTestCertificates() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TlsTestCertificates(const TlsTestCertificates&) = delete;
  TlsTestCertificates& operator=(const TlsTestCertificates&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  //! A file of the set: "ca.pem", "server.key", "client.pem", "client-encrypted.key", ...
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
  bool ok_ = false;
  std::string error_;
};

struct TlsTestRedisOptions {
  std::string auth_clients = "no";  //!< --tls-auth-clients: yes, no, optional
  std::string password;             //!< --requirepass when set
};

//! A TLS-only redis-server (`--port 0 --tls-port`) on a loopback port of its own, with its
//! append-only file (appendfsync always), so that a restart loses nothing it acknowledged.
class TlsTestRedis {
 public:
  TlsTestRedis(const TlsTestCertificates& certs, TlsTestRedisOptions options = {})
      : certs_(certs),
        options_(std::move(options)),
        port_(FreeLoopbackPort()),
        dir_(NewTestDirectory("redis-tls")) {}
  ~TlsTestRedis() {
    Kill();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TlsTestRedis(const TlsTestRedis&) = delete;
  TlsTestRedis& operator=(const TlsTestRedis&) = delete;

  enum class Started { kYes, kNotInstalled, kNoAnswer };

  //! Starts (or starts again) the server on the same port and directory; waits until it answers.
  Started Start() {
    const std::string port = std::to_string(port_);
    // clang-format off
    std::vector<std::string> args = {
        "redis-server", "--port", "0", "--tls-port", port, "--bind", "127.0.0.1",
        "--tls-cert-file", certs_.Path("server.pem"), "--tls-key-file", certs_.Path("server.key"),
        "--tls-ca-cert-file", certs_.Path("ca.pem"), "--tls-auth-clients", options_.auth_clients,
        "--dir", dir_.string(), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
        "--logfile", (dir_ / "redis.log").string()};
    // clang-format on
    if (!options_.password.empty()) {
      args.push_back("--requirepass");
      args.push_back(options_.password);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // The server logs to its file; its standard streams must not hold the test's output open
    // (a pipe to a reader) should the test die without killing it.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    const int spawned = posix_spawnp(&pid_, "redis-server", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      pid_ = -1;
      return Started::kNotInstalled;
    }
    RedisOptions probe = ClientOptions();
    for (int i = 0; i < 500; ++i) {
      auto socket = ConnectRedis(probe, RedisIo::kBlocking,
                                 {std::chrono::steady_clock::now() + std::chrono::milliseconds(1000)});
      if (socket.ok()) return Started::kYes;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Kill();
    return Started::kNoAnswer;
  }

  //! SIGKILL: no chance to flush anything more.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGCONT);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  //! SIGSTOP / SIGCONT: a server that accepts connections (the kernel does) but answers nothing.
  void Freeze() { kill(pid_, SIGSTOP); }
  void Thaw() { kill(pid_, SIGCONT); }

  uint16_t port() const { return port_; }

  //! Options that reach this server: TLS on 127.0.0.1, the test CA, the client certificate and
  //! the password.
  RedisOptions ClientOptions() const {
    RedisOptions o;
    o.host = "127.0.0.1";
    o.port = port_;
    o.password = options_.password;
    o.tls_enabled = true;
    o.tls_ca_path = certs_.Path("ca.pem");
    o.tls_cert_path = certs_.Path("client.pem");
    o.tls_key_path = certs_.Path("client.key");
    o.connect_timeout_ms = 2000;
    return o;
  }

 private:
  const TlsTestCertificates& certs_;
  const TlsTestRedisOptions options_;
  const uint16_t port_;
  const std::filesystem::path dir_;
  pid_t pid_ = -1;
};

}  // namespace langfuse::queue::testing
