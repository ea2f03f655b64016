#include "kube/exec_session.h"

#include <deque>
#include <nlohmann/json.hpp>

#include "core/reasons.h"

namespace alembic_sidecar::kube {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kStderrKept = 16 * 1024;
constexpr size_t kStdinChunk = 256 * 1024;

class ExecSession final : public workspace::Session {
 public:
  ExecSession(std::unique_ptr<ExecConnection> connection, std::string where)
      : connection_(std::move(connection)), where_(std::move(where)) {}

  ~ExecSession() override { close(std::chrono::milliseconds(0)); }

  core::Status write(const std::string& data) override {
    if (ended_) {
      return ended();
    }
    for (size_t offset = 0; offset < data.size(); offset += kStdinChunk) {
      std::string frame(1, static_cast<char>(exec_channel::kStdin));
      frame.append(data, offset, kStdinChunk);
      if (auto sent = connection_->send(std::move(frame)); !sent) {
        ended_ = true;
        endText_ = "the exec stream to " + where_ + " broke: " + sent.error().message;
        return ended();
      }
    }
    return {};
  }

  core::Result<std::optional<std::string>> readLine(Clock::time_point deadline) override {
    while (true) {
      auto nl = stdout_.find('\n');
      if (nl != std::string::npos) {
        std::string line = stdout_.substr(0, nl);
        stdout_.erase(0, nl + 1);
        return std::optional<std::string>(std::move(line));
      }
      if (ended_) {
        return ended();
      }
      auto frame = connection_->receive(deadline);
      if (!frame) {
        return std::optional<std::string>();
      }
      if (frame->closed) {
        ended_ = true;
        if (endText_.empty()) {
          endText_ = "the exec session in " + where_ + " closed (code " +
                     std::to_string(frame->closeCode) + ")";
        }
        continue;
      }
      if (frame->data.empty()) {
        continue;
      }
      const auto channel = static_cast<unsigned char>(frame->data[0]);
      std::string_view payload = std::string_view(frame->data).substr(1);
      if (channel == exec_channel::kStdout) {
        stdout_.append(payload);
      } else if (channel == exec_channel::kStderr) {
        stderr_.append(payload);
        if (stderr_.size() > kStderrKept) {
          stderr_.erase(0, stderr_.size() - kStderrKept);
        }
      } else if (channel == exec_channel::kStatus) {
        auto status = nlohmann::json::parse(std::string(payload), nullptr, false);
        auto code = status.is_discarded() ? core::Result<int>(-1)
                                          : exitCodeFromStatus(status, where_);
        endText_ = "the command in " + where_ + " ended" +
                   (code ? " with exit code " + std::to_string(*code) : ": " + code.error().message);
        ended_ = true;
      }
    }
  }

  std::string stderrTail() override { return stderr_; }

  void close(std::chrono::milliseconds grace) override {
    if (closed_) {
      return;
    }
    closed_ = true;
    // v5: half-close stdin so the command sees end of input and exits by itself; a v4
    // server ignores the frame, and closing the socket ends the session there.
    std::string closeSignal{static_cast<char>(exec_channel::kClose),
                            static_cast<char>(exec_channel::kStdin)};
    if (!ended_ && connection_->send(std::move(closeSignal))) {
      const auto deadline = Clock::now() + grace;
      while (!ended_ && Clock::now() < deadline) {
        auto frame = connection_->receive(deadline);
        if (!frame || frame->closed) {
          break;
        }
        if (!frame->data.empty() &&
            static_cast<unsigned char>(frame->data[0]) == exec_channel::kStatus) {
          break;
        }
      }
    }
    connection_->close();
  }

 private:
  core::Error ended() const {
    std::string text = endText_.empty() ? "the exec session in " + where_ + " ended" : endText_;
    if (!stderr_.empty()) {
      text += "; its last output:\n" + stderr_;
    }
    return core::Error::retryable(core::reason::kWorkspaceUnavailable, text);
  }

  std::unique_ptr<ExecConnection> connection_;
  std::string where_;
  std::string stdout_;
  std::string stderr_;
  bool ended_ = false;
  bool closed_ = false;
  std::string endText_;
};

}  // namespace

std::unique_ptr<workspace::Session> makeExecSession(std::unique_ptr<ExecConnection> connection,
                                                    std::string where) {
  return std::make_unique<ExecSession>(std::move(connection), std::move(where));
}

}  // namespace alembic_sidecar::kube
