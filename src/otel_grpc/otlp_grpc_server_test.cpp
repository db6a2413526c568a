// The OTLP/gRPC receiver over a real loopback gRPC channel, with a real SQLite API-key store,
// the real authenticator and the real local queue file.

#include "otel_grpc/otlp_grpc_server.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sodium.h>

#include <filesystem>
#include <stdexcept>
#include <thread>

#include "auth/api_keys.h"
#include "auth/auth_test_util.h"
#include "common/ids.h"
#include "ingest/batch.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace langfuse::otel_grpc {
namespace {

namespace otlp = opentelemetry::proto;

constexpr const char* kSalt = "grpc-test-salt";
constexpr const char* kPk = "pk-lf-33333333-3333-4333-8333-333333333333";
constexpr const char* kSk = "sk-lf-44444444-4444-4444-8444-444444444444";

std::string Basic(std::string_view pk, std::string_view sk) {
  const std::string text = std::string(pk) + ":" + std::string(sk);
  std::string out(sodium_base64_ENCODED_LEN(text.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);
  return "Basic " + out;
}

std::string Bytes(size_t n, char fill) { return std::string(n, fill); }

//! An ExportTraceServiceRequest with a root span and a gen_ai generation below it.
otlp::collector::trace::v1::ExportTraceServiceRequest GenAiRequest(const std::string& trace_id) {
  otlp::collector::trace::v1::ExportTraceServiceRequest request;
  auto* resource_spans = request.add_resource_spans();
  auto* attr = resource_spans->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value("grpc-test");
  auto* scope_spans = resource_spans->add_scope_spans();
  scope_spans->mutable_scope()->set_name("test.scope");
  const uint64_t start = 1'700'000'000'000'000'000ull;

  auto* root = scope_spans->add_spans();
  root->set_trace_id(trace_id);
  root->set_span_id(Bytes(8, '\x01'));
  root->set_name("root");
  root->set_start_time_unix_nano(start);
  root->set_end_time_unix_nano(start + 5'000'000);

  auto* gen = scope_spans->add_spans();
  gen->set_trace_id(trace_id);
  gen->set_span_id(Bytes(8, '\x02'));
  gen->set_parent_span_id(Bytes(8, '\x01'));
  gen->set_name("chat gpt-4o");
  gen->set_start_time_unix_nano(start + 1'000'000);
  gen->set_end_time_unix_nano(start + 4'000'000);
  auto* op = gen->add_attributes();
  op->set_key("gen_ai.operation.name");
  op->mutable_value()->set_string_value("chat");
  auto* model = gen->add_attributes();
  model->set_key("gen_ai.request.model");
  model->mutable_value()->set_string_value("gpt-4o");
  auto* tokens = gen->add_attributes();
  tokens->set_key("gen_ai.usage.input_tokens");
  tokens->mutable_value()->set_int_value(12);
  return request;
}

//! A queue whose disk write fails, which the real queue file cannot be made to do here.
class FailingEventQueueForTest final : public queue::EventQueue {
 public:
  Status Append(std::vector<NewItem>) override { return Status::Unavailable("disk I/O error (test)"); }
  StatusOr<std::vector<queue::QueueItem>> Read(size_t, std::chrono::milliseconds) override {
    return std::vector<queue::QueueItem>{};
  }
  Status Ack(const std::vector<std::string>&) override { return Status::Ok(); }
  Status DeadLetterItem(const std::string&, uint32_t, int64_t, const std::string&) override {
    return Status::Ok();
  }
  StatusOr<queue::QueueStats> Stats() override { return queue::QueueStats{}; }
  StatusOr<std::vector<queue::DeadLetter>> ListDeadLetters(size_t) override {
    return std::vector<queue::DeadLetter>{};
  }
  StatusOr<int64_t> ReplayDeadLetters(const std::vector<std::string>&) override { return int64_t{0}; }
  void Interrupt() override {}
};

struct CallResult {
  grpc::Status status;
  std::string response;
};

struct CallOptions {
  std::string method = std::string(kExportMethod);
  std::optional<std::string> authorization;
  bool gzip = false;
  std::vector<std::pair<std::string, std::string>> metadata;
};

class OtlpGrpcServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = auth::testing::OpenMigratedTempStore();
    ASSERT_NE(store_, nullptr);
    counting_store_ = std::make_unique<auth::testing::CountingMetaStore>(*store_);
    ASSERT_TRUE(store_->UpsertOrganization({"org-g", "Org"}).ok());
    meta::Project project;
    project.id = "proj-g";
    project.org_id = "org-g";
    project.name = "grpc";
    ASSERT_TRUE(store_->UpsertProject(project).ok());
    auto key = auth::MakeProjectApiKey("proj-g", {kPk, kSk}, kSalt, std::nullopt);
    ASSERT_TRUE(key.ok());
    ASSERT_TRUE(store_->UpsertApiKey(*key).ok());
    authenticator_ = std::make_unique<auth::ApiKeyAuthenticator>(*counting_store_, kSalt, int64_t{0});

    const char* root = std::getenv("LANGFUSE_TEST_TMP");
    dir_ = std::filesystem::path(root != nullptr && *root != '\0' ? root : "/tmp") /
           ("otel-grpc-" + NewUuidV4());
    std::filesystem::create_directories(dir_);
    auto queue = queue::OpenLocalEventQueue((dir_ / "queue.db").string());
    ASSERT_TRUE(queue.ok()) << queue.status().message();
    queue_ = std::move(queue).value();
  }

  void TearDown() override {
    server_.reset();
    queue_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartServer(queue::EventQueue& queue, OtlpGrpcServerOptions options = {}) {
    options.bind_address = "127.0.0.1";
    options.port = 0;
    options.handler_threads = 4;
    server_ = std::make_unique<OtlpGrpcServer>(options, queue, *authenticator_);
    server_->Start();
    ASSERT_NE(server_->port(), 0);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                   grpc::InsecureChannelCredentials());
  }
  void StartServer(OtlpGrpcServerOptions options = {}) { StartServer(*queue_, options); }

  CallResult Call(const std::string& bytes, CallOptions options = {}) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    if (!options.authorization) options.authorization = Basic(kPk, kSk);
    if (!options.authorization->empty()) context.AddMetadata("authorization", *options.authorization);
    for (const auto& [k, v] : options.metadata) context.AddMetadata(k, v);
    if (options.gzip) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::CompletionQueue cq;
    auto rpc = stub.PrepareUnaryCall(&context, options.method, request, &cq);
    rpc->StartCall();
    grpc::ByteBuffer response;
    CallResult result;
    rpc->Finish(&response, &result.status, this);
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_TRUE(ok);
    std::vector<grpc::Slice> slices;
    if (result.status.ok() && response.Dump(&slices).ok()) {
      for (const auto& s : slices) result.response.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return result;
  }

  int64_t PendingEvents() {
    auto stats = queue_->Stats();
    EXPECT_TRUE(stats.ok());
    return stats.ok() ? stats->pending_events : -1;
  }

  std::unique_ptr<meta::MetaStore> store_;
  std::unique_ptr<auth::testing::CountingMetaStore> counting_store_;
  std::unique_ptr<auth::ApiKeyAuthenticator> authenticator_;
  std::filesystem::path dir_;
  std::unique_ptr<queue::EventQueue> queue_;
  std::unique_ptr<OtlpGrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(OtlpGrpcServerTest, QueuesTheSpansForTheKeysProjectBeforeAnsweringOk) {
  StartServer();
  const std::string trace_id = Bytes(16, '\x0a');
  const CallResult result =
      Call(GenAiRequest(trace_id).SerializeAsString(), {.metadata = {{"x-langfuse-sdk-name", "grpc-sdk"}}});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.response, "") << "no partial_success when every span was accepted";

  // Already durable when OK arrived: read straight from the queue file.
  auto items = queue_->Read(10, std::chrono::milliseconds(0));
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  simdjson::dom::parser parser;
  auto payload = ingest::DecodeQueuePayload(parser, (*items)[0].payload);
  ASSERT_TRUE(payload.ok()) << payload.status().message();
  EXPECT_EQ(payload->project_id, "proj-g");
  EXPECT_EQ(payload->source.sdk_name, "grpc-sdk");
  EXPECT_FALSE(payload->source.api_key_id.empty());
  std::set<std::string> types;
  for (const auto& e : payload->events) types.insert(e.type);
  EXPECT_TRUE(types.count("trace-create")) << payload->events.size();
  EXPECT_TRUE(types.count("generation-create")) << payload->events.size();
  EXPECT_TRUE(types.count("span-create")) << payload->events.size();
}

TEST_F(OtlpGrpcServerTest, GzipCompressedMessagesAreAccepted) {
  StartServer();
  const CallResult result = Call(GenAiRequest(Bytes(16, '\x0b')).SerializeAsString(), {.gzip = true});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_GT(PendingEvents(), 0);
}

TEST_F(OtlpGrpcServerTest, InvalidSpansArePartialSuccessAndTheRestIsQueued) {
  StartServer();
  auto request = GenAiRequest(Bytes(16, '\x0c'));
  auto* bad = request.mutable_resource_spans(0)->mutable_scope_spans(0)->add_spans();
  bad->set_trace_id("abc");  // not 16 bytes
  bad->set_span_id(Bytes(8, '\x03'));
  bad->set_name("bad");
  const CallResult result = Call(request.SerializeAsString());
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  otlp::collector::trace::v1::ExportTraceServiceResponse response;
  ASSERT_TRUE(response.ParseFromString(result.response));
  EXPECT_EQ(response.partial_success().rejected_spans(), 1);
  EXPECT_FALSE(response.partial_success().error_message().empty());
  EXPECT_GT(PendingEvents(), 0);
}

TEST_F(OtlpGrpcServerTest, MissingOrWrongCredentialsAreUnauthenticatedAndQueueNothing) {
  StartServer();
  const std::string bytes = GenAiRequest(Bytes(16, '\x0d')).SerializeAsString();

  CallResult missing = Call(bytes, {.authorization = ""});
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(missing.status.error_message().find("authorization"), std::string::npos)
      << missing.status.error_message();

  CallResult wrong = Call(bytes, {.authorization = Basic(kPk, "sk-lf-wrong")});
  EXPECT_EQ(wrong.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(wrong.status.error_message().find("Invalid credentials"), std::string::npos)
      << wrong.status.error_message();

  CallResult garbage = Call(bytes, {.authorization = "Basic !!!"});
  EXPECT_EQ(garbage.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // `Bearer pk` is the scores-only level, not enough for ingestion.
  CallResult bearer = Call(bytes, {.authorization = std::string("Bearer ") + kPk});
  EXPECT_EQ(bearer.status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << bearer.status.error_message();

  EXPECT_EQ(PendingEvents(), 0);
}

TEST_F(OtlpGrpcServerTest, MalformedMessageIsInvalidArgument) {
  StartServer();
  const CallResult result = Call("\x0a\xff\xff\xff\xff\x0f garbage");
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(result.status.error_message().empty());
  EXPECT_EQ(PendingEvents(), 0);
}

TEST_F(OtlpGrpcServerTest, UnsupportedIngestionVersionIsInvalidArgument) {
  StartServer();
  const CallResult result = Call(GenAiRequest(Bytes(16, '\x0e')).SerializeAsString(),
                                 {.metadata = {{"x-langfuse-ingestion-version", "5"}}});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(result.status.error_message().find("Maximum supported"), std::string::npos);
  EXPECT_EQ(PendingEvents(), 0);
}

TEST_F(OtlpGrpcServerTest, OtherMethodsAreUnimplemented) {
  StartServer();
  const CallResult result =
      Call("", {.method = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(OtlpGrpcServerTest, MessagesAboveTheLimitAreResourceExhaustedEvenWhenCompressed) {
  StartServer({.max_receive_bytes = 4096});
  auto request = GenAiRequest(Bytes(16, '\x0f'));
  auto* big = request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->add_attributes();
  big->set_key("input.value");
  big->mutable_value()->set_string_value(std::string(100'000, 'x'));
  const std::string bytes = request.SerializeAsString();

  EXPECT_EQ(Call(bytes).status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // ~100 KB of 'x' gzips to a few hundred bytes: the limit applies to the inflated message.
  EXPECT_EQ(Call(bytes, {.gzip = true}).status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(PendingEvents(), 0);
  // The server is still fine.
  EXPECT_TRUE(Call(GenAiRequest(Bytes(16, '\x10')).SerializeAsString()).status.ok());
}

TEST_F(OtlpGrpcServerTest, QueueFailureIsUnavailable) {
  FailingEventQueueForTest failing;
  StartServer(failing);
  const CallResult result = Call(GenAiRequest(Bytes(16, '\x11')).SerializeAsString());
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(result.status.error_message().find("disk I/O error"), std::string::npos);
}

TEST_F(OtlpGrpcServerTest, KeyStoreFailureIsUnavailable) {
  StartServer();
  counting_store_->fail = true;
  const CallResult result = Call(GenAiRequest(Bytes(16, '\x12')).SerializeAsString());
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(PendingEvents(), 0);
}

TEST_F(OtlpGrpcServerTest, ConcurrentExportsAreAllQueued) {
  StartServer();
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 10;
  std::atomic<int> ok_calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        std::string trace_id = Bytes(16, '\x20');
        trace_id[0] = static_cast<char>(t);
        trace_id[1] = static_cast<char>(i);
        if (Call(GenAiRequest(trace_id).SerializeAsString()).status.ok()) ++ok_calls;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok_calls.load(), kThreads * kCallsPerThread);
  auto stats = queue_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->pending_items, kThreads * kCallsPerThread);
}

TEST_F(OtlpGrpcServerTest, APortInUseIsAStartError) {
  StartServer();
  OtlpGrpcServerOptions options;
  options.bind_address = "127.0.0.1";
  options.port = server_->port();
  OtlpGrpcServer second(options, *queue_, *authenticator_);
  EXPECT_THROW(second.Start(), std::runtime_error);
  // The first one still serves.
  EXPECT_TRUE(Call(GenAiRequest(Bytes(16, '\x13')).SerializeAsString()).status.ok());
}

TEST_F(OtlpGrpcServerTest, StopIsIdempotentAndRefusesLaterCalls) {
  StartServer();
  ASSERT_TRUE(Call(GenAiRequest(Bytes(16, '\x14')).SerializeAsString()).status.ok());
  server_->Stop();
  server_->Stop();
  EXPECT_EQ(Call(GenAiRequest(Bytes(16, '\x15')).SerializeAsString()).status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace langfuse::otel_grpc
