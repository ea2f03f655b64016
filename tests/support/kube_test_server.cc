#include "support/kube_test_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "kube/api_errors.h"

namespace alembic_sidecar::testing {
namespace {

constexpr char kPython[] = "/usr/bin/python3";
constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kStopGrace = std::chrono::seconds(3);

core::Error startError(const std::string& message, const std::string& logFile) {
  return core::Error::terminal("TestServerFailed",
                               message + "\n--- server log ---\n" + readTextFile(logFile));
}

/** Formats a double the way argparse will read it back. */
std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

std::string readTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

void writeTextFile(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  std::filesystem::rename(temp, path);
}

core::Result<std::unique_ptr<KubeTestServer>> KubeTestServer::start(const Options& options) {
  std::unique_ptr<KubeTestServer> server(new KubeTestServer());
  const std::string dir = server->dir_.str();
  const std::string stateDir = dir + "/state";
  const std::string stdoutFile = dir + "/stdout.log";
  server->logFile_ = dir + "/server.log";

  std::vector<std::string> args = {
      kPython,       std::string(ALEMBIC_SIDECAR_SOURCE_DIR) + "/tests/kube_api_server/server.py",
      "--state-dir", stateDir,
      "--port",      "0"};
  if (!options.execRoot.empty()) {
    args.insert(args.end(), {"--exec-root", options.execRoot});
  }
  if (options.compactionWindow > 0) {
    args.insert(args.end(), {"--compaction-window", std::to_string(options.compactionWindow)});
  }
  if (options.bookmarkIntervalSeconds > 0) {
    args.insert(args.end(), {"--bookmark-interval", number(options.bookmarkIntervalSeconds)});
  }
  for (const auto& crd : options.crdFiles) {
    args.insert(args.end(), {"--crd", crd});
  }
  args.insert(args.end(), options.extraArgs.begin(), options.extraArgs.end());
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    return core::Error::terminal("TestServerFailed", "fork failed");
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    // Dies with the test process even when that one crashes.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(1);
    }
    const int out = ::open(stdoutFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(server->logFile_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || in < 0) {
      ::_exit(127);
    }
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    ::execv(kPython, argv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so kill(-pid) works right away
  server->pid_ = pid;

  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  std::string line;
  while (true) {
    const std::string content = readTextFile(stdoutFile);
    if (auto newline = content.find('\n'); newline != std::string::npos) {
      line = content.substr(0, newline);
      break;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      server->pid_ = -1;
      return startError("the test API server exited before it was ready", server->logFile_);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return startError("the test API server did not start in time", server->logFile_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto info = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (info.is_discarded() || !info.is_object()) {
    return startError("the test API server printed no JSON: " + line, server->logFile_);
  }
  server->url_ = info.value("url", "");
  server->port_ = info.value("port", 0);
  server->caFile_ = info.value("ca", "");
  server->token_ = info.value("token", "");
  server->clientCertFile_ = info.value("clientCert", "");
  server->clientKeyFile_ = info.value("clientKey", "");
  server->otherCaFile_ = info.value("otherCa", "");
  server->kubeconfig_ = info.value("kubeconfig", "");
  server->kubeconfigCert_ = info.value("kubeconfigCert", "");
  server->stateDir_ = info.value("stateDir", stateDir);
  server->execRoot_ = info.value("execRoot", "");
  server->caPem_ = readTextFile(server->caFile_);

  kube::ClientOptions clientOptions;
  clientOptions.retry.attempts = 2;
  clientOptions.retry.base = std::chrono::milliseconds(50);
  auto admin = kube::KubeClient::fromConfig(server->adminConfig(), clientOptions);
  if (!admin) {
    return startError("cannot build the admin client: " + admin.error().message, server->logFile_);
  }
  server->admin_ = std::move(admin.value());
  return server;
}

KubeTestServer::~KubeTestServer() { kill(); }

void KubeTestServer::kill() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(-pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + kStopGrace;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(-pid_, SIGKILL);  // anything the server left behind in its group
  pid_ = -1;
}

std::string KubeTestServer::log() const { return readTextFile(logFile_); }

kube::ClusterConfig KubeTestServer::configWithToken(const std::string& token) const {
  kube::ClusterConfig config;
  config.server = url_;
  config.caPem = caPem_;
  config.token = std::make_shared<kube::StaticTokenSource>(token);
  config.namespace_ = "default";
  config.source = "test server";
  return config;
}

kube::ClusterConfig KubeTestServer::adminConfig() const { return configWithToken(token_); }

core::Result<nlohmann::json> KubeTestServer::control(const std::string& method,
                                                     const std::string& path,
                                                     const nlohmann::json& body) {
  auto response = admin_->request(method, path, body.is_null() ? std::string() : body.dump());
  if (!response) {
    return response.error();
  }
  if (response->status < 200 || response->status > 299) {
    return kube::errorFromResponse(response->status, response->body, method, path);
  }
  auto parsed = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return core::Error::terminal(kube::kBadResponse, method + " " + path + ": not JSON");
  }
  return parsed;
}

core::Status KubeTestServer::addToken(const std::string& token, const std::string& user,
                                      const nlohmann::json& rules) {
  auto result =
      control("POST", "/_test/tokens", {{"token", token}, {"user", user}, {"rules", rules}});
  return result ? core::Status() : core::Status(result.error());
}

core::Status KubeTestServer::revokeToken(const std::string& token) {
  auto result = control("DELETE", "/_test/tokens/" + token);
  return result ? core::Status() : core::Status(result.error());
}

core::Status KubeTestServer::addFaults(const nlohmann::json& faults) {
  auto result = control("POST", "/_test/faults", {{"faults", faults}});
  return result ? core::Status() : core::Status(result.error());
}

core::Status KubeTestServer::clearFaults() {
  auto result = control("DELETE", "/_test/faults");
  return result ? core::Status() : core::Status(result.error());
}

core::Status KubeTestServer::compact() {
  auto result = control("POST", "/_test/compact");
  return result ? core::Status() : core::Status(result.error());
}

core::Result<nlohmann::json> KubeTestServer::requests() {
  auto result = control("GET", "/_test/requests");
  if (!result) {
    return result.error();
  }
  return result->value("requests", nlohmann::json::array());
}

core::Status KubeTestServer::clearRequests() {
  auto result = control("DELETE", "/_test/requests");
  return result ? core::Status() : core::Status(result.error());
}

core::Status KubeTestServer::reset() {
  auto result = control("POST", "/_test/reset");
  return result ? core::Status() : core::Status(result.error());
}

core::Status KubeTestServer::setExecProtocols(const std::vector<std::string>& protocols) {
  auto result = control("POST", "/_test/exec-protocols", {{"protocols", protocols}});
  return result ? core::Status() : core::Status(result.error());
}

core::Result<nlohmann::json> KubeTestServer::state() { return control("GET", "/_test/state"); }

}  // namespace alembic_sidecar::testing
