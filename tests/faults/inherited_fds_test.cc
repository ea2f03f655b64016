// The user's env.py runs in the driver, a child of alembic-sidecar: it must see no descriptor of
// alembic-sidecar's beyond stdin/stdout/stderr and the driver's own protocol pipes. To make the
// check able to fail, the test hands the CLI a listening TCP socket without close-on-exec (as a
// shell, a supervisor or a sidecar's probe listener would); the CLI inherits it and must not
// pass it on.
//
// What is checked: the env.py below lists /proc/self/fd as the first thing it does at import,
// before it imports the app or opens any connection, every time alembic loads it. The first
// listing of the driver (the model check's load, before any database connection of the run)
// must have no `socket:` entry at all. Later listings are printed, not judged: by then
// alembic's own asyncpg connections of earlier commands may still be in the pool's hands; they
// only must not hold the inherited socket.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "support/child_process.h"
#include "support/example_app.h"
#include "support/postgres_server.h"
#include "support/temp_dir.h"

namespace alembic_sidecar::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kFdLister[] = R"PY(import os as _fd_os


def _list_fds_for_test():
    where = _fd_os.environ.get("TEST_FD_DIR")
    if not where:
        return
    lines = []
    for name in sorted(_fd_os.listdir("/proc/self/fd"), key=int):
        try:
            lines.append("%s %s" % (name, _fd_os.readlink("/proc/self/fd/" + name)))
        except OSError:
            pass  # the listing's own descriptor, closed by now
    n = len([f for f in _fd_os.listdir(where) if f.startswith("fds-")])
    with open(_fd_os.path.join(where, "fds-%03d-%d.txt" % (n, _fd_os.getpid())), "w") as f:
        f.write("\n".join(lines) + "\n")


_list_fds_for_test()

)PY";

std::string readWhole(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/** A listening loopback socket without FD_CLOEXEC: every exec'd child inherits it. */
int inheritableListener() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);  // no SOCK_CLOEXEC on purpose
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::listen(fd, 1);
  return fd;
}

TEST(InheritedFds, EnvPyInTheDriverSeesNoSocketOfItsParent) {
  auto live = createTestDatabase("fds");
  ExampleApp app;
  app.applyChange("user_add_phone");
  app.write("migrations/env.py", std::string(kFdLister) + app.read("migrations/env.py"));
  TempDir fdDir("fault-fds");
  const int listener = inheritableListener();
  ASSERT_GE(listener, 3);
  struct stat st {};
  ASSERT_EQ(::fstat(listener, &st), 0);
  const std::string ours = "socket:[" + std::to_string(st.st_ino) + "]";

  ChildProcess run({ALEMBIC_SIDECAR_EXE, "revision", "-m", "add user phone", "--project", app.dir(),
                    "--database-url", live.url(), "--json"},
                   {{"TEST_FD_DIR", fdDir.str()}, {"DATABASE_URL", ""}}, fdDir.str() + "/run.log");
  // The CLI itself holds the socket (the negative control: there is something to leak).
  std::string cliFds;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(run.pid()) + "/fd")) {
    std::error_code ec;
    cliFds += e.path().filename().string() + " " +
              std::filesystem::read_symlink(e.path(), ec).string() + "\n";
  }
  auto code = run.wait(std::chrono::seconds(180));
  ::close(listener);
  ASSERT_EQ(code, std::optional<int>(0)) << run.log();
  EXPECT_THAT(cliFds, HasSubstr(std::to_string(listener) + " socket:")) << cliFds;

  std::vector<std::filesystem::path> listings;
  for (const auto& e : std::filesystem::directory_iterator(fdDir.path())) {
    if (e.path().filename().string().rfind("fds-", 0) == 0) {
      listings.push_back(e.path());
    }
  }
  std::sort(listings.begin(), listings.end());
  ASSERT_FALSE(listings.empty()) << "env.py never ran in the driver:\n" << run.log();
  const std::string first = readWhole(listings.front());
  std::cerr << "env.py loads: " << listings.size() << "; the first one's descriptors:\n" << first;
  // It ran in the driver (the protocol pipes are there) and sees no socket.
  EXPECT_THAT(first, HasSubstr("pipe:"));
  EXPECT_THAT(first, Not(HasSubstr("socket:")));
  for (size_t i = 1; i < listings.size(); ++i) {
    std::string later = readWhole(listings[i]);
    EXPECT_THAT(later, Not(HasSubstr(ours))) << listings[i];
    if (later.find("socket:") != std::string::npos) {
      std::cerr << "load " << i << " (" << listings[i].filename() << ") sees a socket:\n" << later;
    }
  }
}

}  // namespace
}  // namespace alembic_sidecar::testing
