#include "kube/exec_stream.h"

#include <cpprest/containerstream.h>
#include <cpprest/ws_client.h>

#include <condition_variable>
#include <deque>
#include <mutex>

#include "core/redactor.h"
#include "kube/api_errors.h"

namespace alembic_sidecar::kube {
namespace {

namespace ws = web::websockets::client;

constexpr size_t kStdinChunk = 256 * 1024;
constexpr int kCloseNormal = 1000;
/** After a failed write, how long to wait for the frames the server sent before closing. */
constexpr auto kLateStatusWait = std::chrono::seconds(5);

std::string query(const std::string& key, const std::string& value) {
  return core::percentEncode(key) + "=" + core::percentEncode(value);
}

/** Frames pushed by the WebSocket thread, popped by the caller's thread. */
struct FrameQueue {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<ExecFrame> frames;
  bool closed = false;
  ExecFrame closeFrame;

  void push(ExecFrame frame) {
    {
      std::lock_guard lock(mutex);
      if (frame.closed) {
        if (closed) {
          return;
        }
        closed = true;
        closeFrame = frame;
      }
      frames.push_back(std::move(frame));
    }
    cv.notify_all();
  }

  std::optional<ExecFrame> pop(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex);
    if (!cv.wait_until(lock, deadline, [this] { return !frames.empty(); })) {
      return std::nullopt;
    }
    ExecFrame frame = std::move(frames.front());
    frames.pop_front();
    if (frame.closed) {
      frames.push_back(frame);  // stays closed for later calls
    }
    return frame;
  }
};

class WebSocketExecConnection final : public ExecConnection {
 public:
  WebSocketExecConnection(std::unique_ptr<ws::websocket_callback_client> client,
                          std::shared_ptr<FrameQueue> queue)
      : client_(std::move(client)), queue_(std::move(queue)) {}

  ~WebSocketExecConnection() override { close(); }

  std::optional<ExecFrame> receive(std::chrono::steady_clock::time_point deadline) override {
    return queue_->pop(deadline);
  }

  core::Status send(std::string data) override {
    try {
      const size_t size = data.size();
      ws::websocket_outgoing_message message;
      message.set_binary_message(concurrency::streams::bytestream::open_istream(std::move(data)),
                                 size);
      client_->send(message).get();
      return {};
    } catch (const std::exception& e) {
      return core::Error::retryable(kExecStreamBroken,
                                    std::string("cannot write to the exec stream: ") + e.what());
    }
  }

  void close() override {
    std::lock_guard lock(closeMutex_);
    if (closed_) {
      return;
    }
    closed_ = true;
    try {
      client_->close().wait();
    } catch (const std::exception& e) {
      // Already closed by the server, or the socket broke: nothing left to release.
      (void)e;
    }
  }

 private:
  std::unique_ptr<ws::websocket_callback_client> client_;
  std::shared_ptr<FrameQueue> queue_;
  std::mutex closeMutex_;
  bool closed_ = false;
};

class WebSocketDialer final : public ExecDialer {
 public:
  WebSocketDialer(std::string server, std::shared_ptr<const TlsContext> tls)
      : server_(std::move(server)), tls_(std::move(tls)) {}

  core::Result<std::unique_ptr<ExecConnection>> connect(
      const std::string& target, const std::string& bearerToken,
      std::chrono::milliseconds timeout) override {
    std::string url = server_;
    if (url.rfind("https://", 0) == 0) {
      url = "wss://" + url.substr(8);
    } else if (url.rfind("http://", 0) == 0) {
      url = "ws://" + url.substr(7);
    }
    url += target;
    try {
      ws::websocket_client_config config;
      config.add_subprotocol(U(kExecProtocolV5));
      config.add_subprotocol(U(kExecProtocolV4));
      if (!bearerToken.empty()) {
        config.headers().add(U("Authorization"),
                             utility::conversions::to_string_t("Bearer " + bearerToken));
      }
      config.set_validate_certificates(tls_->verifies());
      auto tls = tls_;
      config.set_ssl_context_callback([tls](boost::asio::ssl::context& context) {
        if (auto applied = tls->apply(context.native_handle()); !applied) {
          throw std::runtime_error(applied.error().message);
        }
      });
      auto queue = std::make_shared<FrameQueue>();
      auto client = std::make_unique<ws::websocket_callback_client>(config);
      client->set_message_handler([queue](const ws::websocket_incoming_message& message) {
        concurrency::streams::container_buffer<std::vector<uint8_t>> buffer;
        message.body().read_to_end(buffer).get();  // already in memory
        ExecFrame frame;
        frame.data.assign(buffer.collection().begin(), buffer.collection().end());
        queue->push(std::move(frame));
      });
      client->set_close_handler([queue](ws::websocket_close_status status,
                                        const utility::string_t& reason, const std::error_code&) {
        ExecFrame frame;
        frame.closed = true;
        frame.closeCode = static_cast<int>(status);
        frame.closeReason = utility::conversions::to_utf8string(reason);
        queue->push(std::move(frame));
      });
      auto connected = client->connect(web::uri(utility::conversions::to_string_t(url)));
      if (connected.wait() != pplx::completed) {
        return core::Error::retryable(kConnectionFailed,
                                      "exec connection to " + server_ + " was cancelled");
      }
      connected.get();
      (void)timeout;  // websocketpp bounds the opening handshake itself
      return std::unique_ptr<ExecConnection>(
          std::make_unique<WebSocketExecConnection>(std::move(client), std::move(queue)));
    } catch (const std::exception& e) {
      const std::string failure = tls_->lastVerifyFailure();
      const std::string what = e.what();
      if (!failure.empty() && what.find("TLS") != std::string::npos) {
        return core::Error::terminal(kTlsVerificationFailed,
                                     "the certificate of the API server " + server_ +
                                         " could not be verified against the configured CA (" +
                                         failure + ")");
      }
      return core::Error::retryable(kConnectionFailed,
                                    "cannot open the exec stream to " + server_ + ": " + what);
    }
  }

 private:
  std::string server_;
  std::shared_ptr<const TlsContext> tls_;
};

}  // namespace

std::string execTarget(const ExecRequest& request) {
  std::string target = "/api/v1/namespaces/" + core::percentEncode(request.namespace_) + "/pods/" +
                       core::percentEncode(request.pod) + "/exec?";
  std::string params;
  for (const auto& arg : request.command) {
    params += (params.empty() ? "" : "&") + query("command", arg);
  }
  if (!request.container.empty()) {
    params += "&" + query("container", request.container);
  }
  if (request.stdinData) {
    params += "&stdin=true";
  }
  params += "&stdout=true&stderr=true";
  return target + params;
}

core::Result<int> exitCodeFromStatus(const nlohmann::json& status, const std::string& where) {
  auto parsed = parseStatus(status);
  if (!parsed) {
    return core::Error::retryable(kBadResponse,
                                  "exec in " + where + ": the final status is not a Status");
  }
  if (parsed->status == "Success") {
    return 0;
  }
  if (parsed->reason == "NonZeroExitCode") {
    const auto causes = parsed->details.is_object()
                            ? parsed->details.value("causes", nlohmann::json::array())
                            : nlohmann::json::array();
    for (const auto& cause : causes) {
      if (cause.is_object() && cause.value("reason", "") == "ExitCode") {
        try {
          return std::stoi(cause.value("message", ""));
        } catch (const std::exception&) {
          break;
        }
      }
    }
    return core::Error::retryable(
        kBadResponse,
        "exec in " + where + ": NonZeroExitCode without an exit code: " + parsed->message);
  }
  return core::Error::terminal(
      kExecFailed, "exec in " + where +
                       " failed: " + (parsed->message.empty() ? parsed->reason : parsed->message));
}

namespace {

/** What the server sent until it closed the stream (or the deadline passed). */
struct Received {
  ExecResult result;
  std::string statusText;
  bool statusSeen = false;
  bool deadlinePassed = false;
  ExecFrame closing;
};

Received receiveUntilClosed(ExecConnection& connection,
                            std::chrono::steady_clock::time_point deadline) {
  Received received;
  while (true) {
    auto frame = connection.receive(deadline);
    if (!frame) {
      received.deadlinePassed = true;
      return received;
    }
    if (frame->closed) {
      received.closing = *frame;
      return received;
    }
    if (frame->data.empty()) {
      continue;
    }
    const auto channel = static_cast<unsigned char>(frame->data[0]);
    const std::string_view payload = std::string_view(frame->data).substr(1);
    switch (channel) {
      case exec_channel::kStdout:
        received.result.out.append(payload);
        break;
      case exec_channel::kStderr:
        received.result.err.append(payload);
        break;
      case exec_channel::kStatus:
        received.statusText.append(payload);
        received.statusSeen = true;
        break;
      default:
        break;  // close signals and resize echoes carry nothing for us
    }
  }
}

core::Status sendStdin(ExecConnection& connection, const ExecRequest& request) {
  if (!request.stdinData) {
    return {};
  }
  const std::string& data = *request.stdinData;
  for (size_t offset = 0; offset < data.size(); offset += kStdinChunk) {
    std::string frame(1, static_cast<char>(exec_channel::kStdin));
    frame.append(data, offset, kStdinChunk);
    if (auto sent = connection.send(std::move(frame)); !sent) {
      return sent;
    }
  }
  if (request.closeStdin) {
    std::string closeSignal{static_cast<char>(exec_channel::kClose),
                            static_cast<char>(exec_channel::kStdin)};
    return connection.send(std::move(closeSignal));
  }
  return {};
}

/** The exit code from the final Status, or the error it reports. */
core::Result<ExecResult> withExitCode(Received received, const std::string& where) {
  if (received.statusText.empty()) {
    // client-go treats a clean close without a Status as success.
    if (received.closing.closed && received.closing.closeCode != kCloseNormal) {
      return core::Error::retryable(
          kExecStreamBroken, "exec in " + where + ": the stream broke before the command ended" +
                                 " (close code " + std::to_string(received.closing.closeCode) +
                                 ")");
    }
    received.result.exitCode = 0;
    return std::move(received.result);
  }
  auto status = nlohmann::json::parse(received.statusText, nullptr, /*allow_exceptions=*/false);
  if (status.is_discarded()) {
    return core::Error::retryable(kBadResponse,
                                  "exec in " + where + ": the final status is not JSON");
  }
  auto code = exitCodeFromStatus(status, where);
  if (!code) {
    return code.error();
  }
  received.result.exitCode = code.value();
  return std::move(received.result);
}

}  // namespace

core::Result<ExecResult> runExecSession(ExecConnection& connection, const ExecRequest& request,
                                        std::chrono::steady_clock::time_point deadline) {
  const std::string where = "pod " + request.namespace_ + "/" + request.pod +
                            (request.container.empty() ? "" : " container " + request.container);
  if (auto sent = sendStdin(connection, request); !sent) {
    // The server may have closed first because the command could not start (the kubelet
    // sends the Status, then closes): that Status says what failed, the write error only
    // that the socket is gone. Which side moves first is a race, so read what arrived.
    connection.close();
    auto late = receiveUntilClosed(
        connection, std::min(deadline, std::chrono::steady_clock::now() + kLateStatusWait));
    if (!late.statusSeen) {
      return sent.error();
    }
    return withExitCode(std::move(late), where);
  }

  auto received = receiveUntilClosed(connection, deadline);
  connection.close();
  if (received.deadlinePassed && !received.statusSeen) {
    received.result.timedOut = true;
    return std::move(received.result);
  }
  // A deadline after the Status: the server reported the end but kept the socket open.
  return withExitCode(std::move(received), where);
}

std::shared_ptr<ExecDialer> makeWebSocketDialer(const ClusterConfig& config,
                                                std::shared_ptr<const TlsContext> tls) {
  return std::make_shared<WebSocketDialer>(config.server, std::move(tls));
}

}  // namespace alembic_sidecar::kube
