#include "cli/logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>

namespace alembic_sidecar::cli {
namespace {

/** Writes each record to stderr after masking every known secret; text or JSON lines. */
class RedactingStderrSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  RedactingStderrSink(core::RedactorPtr redactor, LogFormat format)
      : redactor_(std::move(redactor)), format_(format) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text(msg.payload.data(), msg.payload.size());
    text = redactor_->scrub(text);
    std::string line;
    if (format_ == LogFormat::kJson) {
      auto seconds = std::chrono::duration_cast<std::chrono::milliseconds>(
                         msg.time.time_since_epoch())
                         .count();
      nlohmann::json j = {{"ts", static_cast<double>(seconds) / 1000.0},
                          {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                                                spdlog::level::to_string_view(msg.level).size())},
                          {"msg", text}};
      line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    } else {
      auto level = spdlog::level::to_string_view(msg.level);
      line = "alembic-sidecar " + std::string(level.data(), level.size()) + ": " + text + "\n";
    }
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  core::RedactorPtr redactor_;
  LogFormat format_;
};

}  // namespace

void setUpLogging(const core::RedactorPtr& redactor, LogFormat format, const char* defaultLevel) {
  auto sink = std::make_shared<RedactingStderrSink>(redactor, format);
  auto logger = std::make_shared<spdlog::logger>("alembic-sidecar", sink);
  const char* level = std::getenv("ALEMBIC_SIDECAR_LOG_LEVEL");
  logger->set_level(spdlog::level::from_str(level != nullptr ? level : defaultLevel));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace alembic_sidecar::cli
