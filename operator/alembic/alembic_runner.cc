#include "alembic/alembic_runner.h"

#include <regex>
#include <sstream>

#include "core/reasons.h"

namespace alembic_sidecar::alembic {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::string AlembicRun::tail(size_t maxLines) const {
  const std::string& text = err.empty() ? out : err;
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.rfind("(Background on this error", 0) != 0) {
      lines.push_back(line);
    }
  }
  // A Python traceback is noise to the reader: keep the final exception (and the SQL that
  // follows it) or alembic's own "FAILED:" line.
  static const std::regex kException(R"(^([A-Za-z_][\w.]*(Error|Exception|Exit)|FAILED)\b.*)");
  size_t start = lines.size() > maxLines ? lines.size() - maxLines : 0;
  for (size_t i = lines.size(); i-- > 0;) {
    if (std::regex_match(lines[i], kException)) {
      start = i;
      break;
    }
  }
  std::string result;
  for (size_t i = start; i < lines.size() && i < start + maxLines; ++i) {
    result += (result.empty() ? "" : "\n") + lines[i];
  }
  if (timedOut) {
    result += (result.empty() ? "" : "\n") + std::string("(timed out)");
  }
  return result;
}

AlembicRunner::AlembicRunner(workspace::Workspace& workspace, AlembicSettings settings,
                             core::RedactorPtr redactor)
    : workspace_(workspace), settings_(std::move(settings)), redactor_(std::move(redactor)) {}

core::Result<AlembicRun> AlembicRunner::run(const std::vector<std::string>& args,
                                            const database::ConnectionInfo& db) {
  workspace::Command cmd;
  cmd.argv = settings_.command;
  cmd.argv.push_back("-c");
  cmd.argv.push_back(settings_.configFile);
  cmd.argv.insert(cmd.argv.end(), args.begin(), args.end());
  cmd.env[settings_.urlEnvVar] = db.url();
  cmd.timeout = settings_.timeout;
  if (redactor_) {
    redactor_->add(db.password);
  }
  auto start = Clock::now();
  auto output = workspace_.run(cmd);
  if (!output) {
    core::Error error = output.error();
    error.message = "cannot run " + settings_.command.front() + " in " + workspace_.describe() +
                    ": " + error.message;
    return error;
  }
  AlembicRun run;
  run.args = args;
  run.exitCode = output->exitCode;
  run.timedOut = output->timedOut;
  run.out = redactor_ ? redactor_->scrub(output->out) : output->out;
  run.err = redactor_ ? redactor_->scrub(output->err) : output->err;
  run.durationMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  return run;
}

core::Result<AlembicRun> AlembicRunner::upgrade(const std::string& target,
                                                const database::ConnectionInfo& db) {
  return run({"upgrade", target}, db);
}

core::Result<AlembicRun> AlembicRunner::downgrade(const std::string& target,
                                                  const database::ConnectionInfo& db) {
  return run({"downgrade", target}, db);
}

core::Result<AlembicRun> AlembicRunner::autogenerate(const std::string& message,
                                                     const database::ConnectionInfo& db) {
  return run({"revision", "--autogenerate", "-m", message}, db);
}

core::Result<std::vector<std::string>> AlembicRunner::heads(const database::ConnectionInfo& db) {
  auto result = run({"heads"}, db);
  if (!result) {
    return result.error();
  }
  if (!result->succeeded()) {
    return core::Error::terminal(core::reason::kProjectInvalid,
                                 "alembic heads failed: " + result->tail());
  }
  return parseHeads(result->out);
}

std::string generatedPathFromOutput(const std::string& output) {
  static const std::regex kGenerating(R"(Generating (.+?) \.\.\.\s+done)");
  std::smatch m;
  if (std::regex_search(output, m, kGenerating)) {
    return m[1].str();
  }
  return {};
}

std::vector<std::string> parseHeads(const std::string& output) {
  static const std::regex kHead(R"(^\s*([0-9A-Za-z_]+) (\(.*\)\s*)?\(head\))");
  std::vector<std::string> heads;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, kHead)) {
      heads.push_back(m[1].str());
    }
  }
  return heads;
}

}  // namespace alembic_sidecar::alembic
