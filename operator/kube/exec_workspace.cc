#include "kube/exec_workspace.h"

#include <spdlog/spdlog.h>

#include "core/reasons.h"
#include "kube/api_errors.h"
#include "kube/base64.h"
#include "kube/exec_session.h"
#include "kube/exec_stream.h"

namespace alembic_sidecar::kube {
namespace {

// Runs inside the container. Reads one JSON request line from stdin and never waits for
// stdin EOF. Its own failures go to stderr after kLauncherMarker.
constexpr std::string_view kLauncher = R"PY(import json, os, signal, sys, base64, threading
R = json.loads(sys.stdin.buffer.readline())
M = 'alembic-sidecar-launcher: '
def fail(code, text):
    sys.stderr.write(M + text + '\n')
    sys.stderr.flush()
    os._exit(code)
def where(p):
    return os.path.join(R.get('root') or os.getcwd(), p or '')
def run():
    env = dict(os.environ)
    env.update(R.get('env') or {})
    data = base64.b64decode(R.get('stdin') or '')
    argv = R['argv']
    rd, wr = os.pipe()
    er, ew = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            os.dup2(rd if data else os.open(os.devnull, os.O_RDONLY), 0)
            os.chdir(where(R.get('cwd')))
            os.execvpe(argv[0], argv, env)
        except BaseException as e:
            os.write(ew, ('%s: %s' % (argv[0] if argv else '', getattr(e, 'strerror', None) or e)).encode())
        os._exit(127)
    os.close(rd)
    os.close(ew)
    err = os.read(er, 4096)
    if err:
        os.waitpid(pid, 0)
        fail(127, 'cannot run ' + err.decode(errors='replace'))
    def feed():
        try:
            with os.fdopen(wr, 'wb') as f:
                f.write(data)
        except OSError:
            pass
    if data:
        threading.Thread(target=feed, daemon=True).start()
    else:
        os.close(wr)
    timed = []
    def expire(*_):
        sig = signal.SIGKILL if timed else signal.SIGTERM
        timed.append(sig)
        try:
            os.killpg(pid, sig)
        except OSError:
            pass
        signal.setitimer(signal.ITIMER_REAL, 2)
    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(float(R.get('timeout', 600)), 0.001))
    status = os.waitpid(pid, 0)[1]
    signal.setitimer(signal.ITIMER_REAL, 0)
    if timed:
        fail(124, 'timed out after %gs' % float(R.get('timeout', 600)))
    sys.exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
def read():
    out = sys.stdout.buffer
    with open(where(R['path']), 'rb') as f:
        while True:
            chunk = f.read(1 << 16)
            if not chunk:
                break
            out.write(chunk)
    out.flush()
def listdir():
    p = where(R['path'])
    sys.stdout.write(json.dumps([[n, os.path.isdir(os.path.join(p, n))] for n in sorted(os.listdir(p))]))
def remove():
    os.remove(where(R['path']))
def exists():
    sys.exit(0 if os.path.exists(where(R['path'])) else 1)
def tree():
    base = where('')
    top = where(R['path'])
    skip = set(R.get('skip') or [])
    suffixes = tuple(R.get('suffixes') or ['.py'])
    budget = int(R.get('maxBytes', 1 << 25))
    out = {}
    for d, dirs, files in os.walk(top):
        rel = os.path.relpath(d, top)
        depth = 0 if rel == '.' else rel.count(os.sep) + 1
        dirs[:] = sorted(n for n in dirs if n not in skip and depth < int(R.get('maxDepth', 8)))
        for n in sorted(files):
            if n.endswith(suffixes) and budget > 0:
                p = os.path.join(d, n)
                try:
                    with open(p, 'rb') as f:
                        text = f.read().decode('utf-8', errors='replace')
                except OSError:
                    continue
                budget -= len(text)
                out[os.path.relpath(p, base)] = text
    sys.stdout.write(json.dumps(out))
try:
    {'run': run, 'read': read, 'list': listdir, 'remove': remove, 'exists': exists,
     'tree': tree}[R['op']]()
except FileNotFoundError as e:
    fail(2, '%s: %s' % (e.strerror, R.get('path', '')))
except OSError as e:
    fail(1, '%s: %s' % (e.strerror, R.get('path', '')))
)PY";

std::string dumpRequest(const nlohmann::json& request) {
  // Replace, not throw, on invalid UTF-8: one odd byte must not lose the whole command.
  return request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

/** The launcher's own message (without the marker) when stderr ends with one. */
std::optional<std::string> launcherMessage(const std::string& err) {
  const std::string marker = kLauncherMarker;
  size_t at = err.rfind(marker);
  if (at == std::string::npos || (at != 0 && err[at - 1] != '\n')) {
    return std::nullopt;
  }
  std::string message = err.substr(at + marker.size());
  while (!message.empty() && message.back() == '\n') {
    message.pop_back();
  }
  return message;
}

std::string withoutLauncherLine(const std::string& err) {
  size_t at = err.rfind(kLauncherMarker);
  return at == std::string::npos ? err : err.substr(0, at);
}

}  // namespace

std::string_view execLauncherSource() { return kLauncher; }

core::Result<workspace::FileMap> ExecWorkspace::readTree(const std::string& dir,
                                                         const workspace::TreeOptions& options) {
  nlohmann::json request = {{"op", "tree"},
                            {"root", target_.workingDir},
                            {"path", dir},
                            {"skip", options.skipDirs},
                            {"suffixes", options.suffixes},
                            {"maxDepth", options.maxDepth},
                            {"maxBytes", options.maxBytes}};
  auto result = launch(request, options_.fileTimeout);
  if (!result) {
    return result.error();
  }
  if (result->exitCode != 0) {
    return fileError("tree", dir, *result);
  }
  auto parsed = nlohmann::json::parse(result->out, nullptr, false);
  if (!parsed.is_object()) {
    return core::Error::terminal(core::reason::kWorkspaceUnavailable,
                                 "unreadable file listing of " + dir + " from " + describe());
  }
  workspace::FileMap files;
  for (const auto& [path, text] : parsed.items()) {
    if (text.is_string()) {
      files.emplace(path, text.get<std::string>());
    }
  }
  return files;
}

ExecWorkspace::ExecWorkspace(std::shared_ptr<KubeApi> api, ExecTarget target,
                             ExecWorkspaceOptions options)
    : api_(std::move(api)), target_(std::move(target)), options_(std::move(options)) {}

std::string ExecWorkspace::describe() const {
  std::string out = "pod " + target_.namespace_ + "/" + target_.pod;
  if (!target_.container.empty()) {
    out += " container " + target_.container;
  }
  if (!target_.workingDir.empty()) {
    out += " dir " + target_.workingDir;
  }
  return out;
}

core::Result<ExecResult> ExecWorkspace::launch(const nlohmann::json& request,
                                               std::chrono::milliseconds timeout) {
  ExecRequest exec;
  exec.namespace_ = target_.namespace_;
  exec.pod = target_.pod;
  exec.container = target_.container;
  exec.command = {options_.python, "-c", std::string(kLauncher)};
  exec.stdinData = dumpRequest(request);
  exec.closeStdin = true;
  exec.timeout = timeout;
  auto result = api_->exec(exec);
  if (!result) {
    core::Error error = result.error();
    // Name the interpreter: a missing one is the usual cause, and the stream's own error
    // (the server's Status, or only a closed socket) does not always say which it was.
    error.message = "cannot run " + options_.python + " in " + describe() + ": " + error.message;
    error.reason = core::reason::kWorkspaceUnavailable;
    return error;
  }
  return result;
}

core::Error ExecWorkspace::fileError(const std::string& op, const std::string& path,
                                     const ExecResult& result) const {
  if (result.timedOut) {
    return core::Error::retryable(core::reason::kTimeout,
                                  op + " " + path + " in " + describe() + " timed out");
  }
  const auto message = launcherMessage(result.err);
  const std::string text =
      op + " " + path + " in " + describe() + ": " +
      (message ? *message : "exit code " + std::to_string(result.exitCode) + " " + result.err);
  if (result.exitCode == kLauncherNotFound && message) {
    return core::Error::terminal(kNotFound, text);
  }
  if (!message) {
    // Not the launcher speaking: the interpreter is missing or broke.
    return core::Error::retryable(core::reason::kWorkspaceUnavailable, text);
  }
  return core::Error::terminal(core::reason::kWorkspaceUnavailable, text);
}

core::Result<workspace::CommandOutput> ExecWorkspace::run(const workspace::Command& cmd) {
  if (cmd.argv.empty()) {
    return core::Error::terminal(core::reason::kUsageError, "run: empty argv");
  }
  nlohmann::json request = {{"op", "run"},
                            {"root", target_.workingDir},
                            {"argv", cmd.argv},
                            {"env", cmd.env},
                            {"cwd", cmd.cwd},
                            {"stdin", encodeBase64(cmd.stdinData)},
                            {"timeout", std::chrono::duration<double>(cmd.timeout).count()}};
  auto result = launch(request, cmd.timeout + options_.timeoutGrace);
  if (!result) {
    return result.error();
  }
  workspace::CommandOutput output;
  output.out = std::move(result->out);
  output.exitCode = result->exitCode;
  if (result->timedOut) {
    output.err = std::move(result->err);
    output.timedOut = true;
    output.exitCode = -1;
    return output;
  }
  const auto message = launcherMessage(result->err);
  if (message && result->exitCode == kLauncherCannotRun) {
    return core::Error::terminal(core::reason::kWorkspaceUnavailable,
                                 "in " + describe() + ": " + *message);
  }
  if (message && result->exitCode == kLauncherTimedOut) {
    output.err = withoutLauncherLine(result->err);
    output.timedOut = true;
    output.exitCode = -1;
    return output;
  }
  output.err = std::move(result->err);
  return output;
}

core::Result<std::unique_ptr<workspace::Session>> ExecWorkspace::start(
    const workspace::Command& cmd) {
  if (cmd.argv.empty()) {
    return core::Error::terminal(core::reason::kUsageError, "start: empty argv");
  }
  ExecRequest exec;
  exec.namespace_ = target_.namespace_;
  exec.pod = target_.pod;
  exec.container = target_.container;
  exec.command = cmd.argv;
  exec.stdinData = std::string();
  exec.closeStdin = false;
  exec.timeout = options_.fileTimeout;  // bounds the connection only
  auto connection = api_->openExec(exec);
  if (!connection) {
    core::Error error = connection.error();
    error.message = "cannot start " + cmd.argv.front() + " in " + describe() + ": " + error.message;
    error.reason = core::reason::kWorkspaceUnavailable;
    return error;
  }
  return makeExecSession(std::move(*connection), describe());
}

core::Result<std::string> ExecWorkspace::readFile(const std::string& path) {
  auto result =
      launch({{"op", "read"}, {"root", target_.workingDir}, {"path", path}}, options_.fileTimeout);
  if (!result) {
    return result.error();
  }
  if (result->exitCode != 0 || result->timedOut) {
    return fileError("read", path, result.value());
  }
  return std::move(result->out);
}

core::Result<std::vector<workspace::DirEntry>> ExecWorkspace::listDir(const std::string& path) {
  auto result =
      launch({{"op", "list"}, {"root", target_.workingDir}, {"path", path}}, options_.fileTimeout);
  if (!result) {
    return result.error();
  }
  if (result->exitCode != 0 || result->timedOut) {
    return fileError("list", path, result.value());
  }
  auto parsed = nlohmann::json::parse(result->out, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_array()) {
    return core::Error::retryable(core::reason::kWorkspaceUnavailable,
                                  "list " + path + " in " + describe() + ": unreadable answer");
  }
  std::vector<workspace::DirEntry> entries;
  for (const auto& item : parsed) {
    if (item.is_array() && item.size() == 2 && item[0].is_string() && item[1].is_boolean()) {
      entries.push_back({item[0].get<std::string>(), item[1].get<bool>()});
    }
  }
  return entries;
}

core::Status ExecWorkspace::removeFile(const std::string& path) {
  auto result = launch({{"op", "remove"}, {"root", target_.workingDir}, {"path", path}},
                       options_.fileTimeout);
  if (!result) {
    return result.error();
  }
  if (result->exitCode != 0 || result->timedOut) {
    return fileError("remove", path, result.value());
  }
  return {};
}

bool ExecWorkspace::exists(const std::string& path) {
  auto result = launch({{"op", "exists"}, {"root", target_.workingDir}, {"path", path}},
                       options_.fileTimeout);
  if (!result) {
    spdlog::warn("Workspace exists check failed workspace={} path={} error={}", describe(), path,
                 result.error().message);
    return false;
  }
  return result->exitCode == 0 && !result->timedOut;
}

}  // namespace alembic_sidecar::kube
