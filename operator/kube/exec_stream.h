#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "kube/config.h"
#include "kube/kube_api.h"
#include "kube/tls_context.h"

// pods/exec over WebSocket. Offered subprotocols, in order of preference:
// v5.channel.k8s.io, v4.channel.k8s.io. Every binary message starts with a channel byte:
// 0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 resize; v5 adds 255 "close stream"
// ([255, 0] half-closes stdin). cpprestsdk does not expose which subprotocol the server
// chose, so the session never depends on it: the close signal is sent anyway (a v4 server
// ignores frames for channels it does not know) and nothing waits for stdin EOF.

namespace alembic_sidecar::kube {

inline constexpr char kExecProtocolV5[] = "v5.channel.k8s.io";
inline constexpr char kExecProtocolV4[] = "v4.channel.k8s.io";

namespace exec_channel {
inline constexpr unsigned char kStdin = 0;
inline constexpr unsigned char kStdout = 1;
inline constexpr unsigned char kStderr = 2;
inline constexpr unsigned char kStatus = 3;
inline constexpr unsigned char kResize = 4;
inline constexpr unsigned char kClose = 255;
}  // namespace exec_channel

/** One message from the server, or the end of the connection. */
struct ExecFrame {
  bool closed = false;
  std::string data;  // channel byte first; binary-safe
  /** WebSocket close code when closed (1000 normal, 1006 dropped). */
  int closeCode = 0;
  std::string closeReason;
};

/** An open exec WebSocket. */
class ExecConnection {
 public:
  virtual ~ExecConnection() = default;
  /** The next frame; nullopt when `deadline` passed first. After a closed frame, closed again. */
  virtual std::optional<ExecFrame> receive(std::chrono::steady_clock::time_point deadline) = 0;
  virtual core::Status send(std::string data) = 0;
  /** Closes the socket (idempotent). */
  virtual void close() = 0;
};

/** Opens exec WebSockets to one API server. */
class ExecDialer {
 public:
  virtual ~ExecDialer() = default;
  /**
   * Connects to `target` (path and query) offering v5 then v4. Errors: kTlsVerificationFailed,
   * kConnectionFailed (also when the server refused the upgrade).
   */
  virtual core::Result<std::unique_ptr<ExecConnection>> connect(
      const std::string& target, const std::string& bearerToken,
      std::chrono::milliseconds timeout) = 0;
};

/** /api/v1/namespaces/NS/pods/POD/exec?command=..&command=..&container=C&stdout=true&... */
std::string execTarget(const ExecRequest& request);

/**
 * Reads the final Status of channel 3: Success gives 0, NonZeroExitCode with an ExitCode
 * cause gives that code, any other Failure an kExecFailed error carrying the Status message.
 */
core::Result<int> exitCodeFromStatus(const nlohmann::json& status, const std::string& where);

/**
 * Runs the channel protocol on an open connection: sends stdin (then the v5 close signal),
 * collects stdout and stderr until the server closes, and reads the exit code. At the
 * deadline the connection is closed and the result has timedOut set.
 */
core::Result<ExecResult> runExecSession(ExecConnection& connection, const ExecRequest& request,
                                        std::chrono::steady_clock::time_point deadline);

/** The cpprestsdk (websocketpp) dialer for `config.server`. */
std::shared_ptr<ExecDialer> makeWebSocketDialer(const ClusterConfig& config,
                                                std::shared_ptr<const TlsContext> tls);

}  // namespace alembic_sidecar::kube
