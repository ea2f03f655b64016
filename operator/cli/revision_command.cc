#include "cli/revision_command.h"

#include <memory>
#include <regex>

#include "cli/local_run.h"

namespace alembic_sidecar::cli {
namespace {

constexpr size_t kMaxMessage = 200;

struct RevisionOptions {
  std::string message;
  std::string head;
  std::string revId;
  LocalRunOptions run;
};

}  // namespace

std::function<int()> addRevisionCommand(CLI::App& app, const core::RedactorPtr& redactor) {
  auto options = std::make_shared<RevisionOptions>();
  auto* cmd = app.add_subcommand(
      "revision", "Generate a migration with alembic revision --autogenerate, then validate "
                  "and round-trip it");
  cmd->add_option("-m,--message", options->message, "Revision message (1..200 characters)")
      ->required()
      ->check(
          [](const std::string& m) {
            if (m.find_first_not_of(" \t\r\n\v\f") == std::string::npos) {
              return std::string("the message must not be blank");
            }
            return m.size() > kMaxMessage ? std::string("the message must have 1 to 200 characters")
                                          : std::string();
          },
          "1..200 characters");
  cmd->add_option("--head", options->head,
                  "The head the revision goes on when the history has several by design, "
                  "e.g. expand@head (alembic revision --head)");
  cmd->add_option("--rev-id", options->revId,
                  "The new revision's id, for projects that number their revisions (alembic "
                  "revision --rev-id)")
      ->check(
          [](const std::string& id) {
            static const std::regex kId("^[A-Za-z0-9_]{1,32}$");
            return std::regex_match(id, kId)
                       ? std::string()
                       : std::string("a revision id is 1 to 32 letters, digits or _");
          },
          "1..32 of [A-Za-z0-9_]");
  addLocalRunOptions(*cmd, options->run);
  return [options, cmd, redactor]() -> int {
    pipeline::RunRequest request;
    request.action = pipeline::kActionRevision;
    request.message = options->message;
    request.head = options->head;
    request.revId = options->revId;
    return runLocal(std::move(request), options->run, redactor);
  };
}

}  // namespace alembic_sidecar::cli
