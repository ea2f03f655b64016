#include "alembic/driver_launch.h"

#include <nlohmann/json.hpp>

#include "core/reasons.h"

namespace alembic_sidecar::alembic {
namespace {

// Reads one line, the JSON object {module name: source}, installs a finder that serves
// those modules from memory, and runs the driver. Everything after that first line is the
// driver's (sys.stdin.buffer keeps what readline() buffered).
constexpr char kBootstrap[] = R"PY(import sys,json,importlib.abc,importlib.util
M=json.loads(sys.stdin.buffer.readline())
class F(importlib.abc.MetaPathFinder,importlib.abc.Loader):
    def find_spec(self,name,path=None,target=None):
        return importlib.util.spec_from_loader(name,self) if name in M else None
    def create_module(self,spec):
        return None
    def exec_module(self,module):
        exec(compile(M[module.__name__],'<'+module.__name__+'>','exec'),module.__dict__)
sys.meta_path.insert(0,F())
import alembic_sidecar_driver
alembic_sidecar_driver.main()
)PY";

// argv: ROOT ALEMBIC. Finds the interpreter of the alembic script and execs it with BOOT.
constexpr char kResolver[] = R"PY(import os,re,shutil,sys
root,cmd=sys.argv[1],sys.argv[2]
if root:
    os.chdir(root)
path=shutil.which(cmd) or cmd
try:
    with open(path,'rb') as f:
        head=f.read(1024).decode('utf-8','replace').splitlines()
except OSError as e:
    sys.stderr.write('alembic-sidecar: cannot read %s (from --alembic-cmd %s): %s\n'%(path,cmd,e.strerror))
    sys.exit(127)
argv=head[0][2:].split() if head and head[0].startswith('#!') else []
if argv and os.path.basename(argv[0]) in ('sh','bash') and len(head)>1:
    m=re.search(r"exec'\s+\"?([^\"\s]+)",head[1])
    argv=[m.group(1)] if m else []
if not argv:
    sys.stderr.write('alembic-sidecar: %s is not a Python script with a #! line; pass --python\n'%path)
    sys.exit(127)
if len(argv)==1 and os.path.realpath(shutil.which(argv[0]) or argv[0])==os.path.realpath(sys.executable):
    exec(BOOT)
else:
    try:
        os.execvp(argv[0],argv+['-c',BOOT])
    except OSError as e:
        sys.stderr.write('alembic-sidecar: cannot run %s (the interpreter of %s): %s\n'%(argv[0],path,e.strerror))
        sys.exit(127)
)PY";

bool isAlembic(const std::string& word) {
  return word == "alembic" || (word.size() > 8 && word.compare(word.size() - 8, 8, "/alembic") == 0);
}

}  // namespace

const std::string& driverBootstrap() {
  static const std::string kText = kBootstrap;
  return kText;
}

core::Result<std::vector<std::string>> driverCommand(const DriverLaunch& launch) {
  auto withBoot = [](std::vector<std::string> argv) {
    argv.push_back("-c");
    argv.push_back(kBootstrap);
    return argv;
  };
  if (!launch.python.empty()) {
    return withBoot(launch.python);
  }
  const auto& cmd = launch.alembicCommand;
  if (cmd.empty()) {
    return core::Error::terminal(core::reason::kUsageError, "--alembic-cmd is empty");
  }
  for (size_t i = 0; i + 1 < cmd.size(); ++i) {
    if (cmd[i] == "-m" && cmd[i + 1] == "alembic" && i > 0) {
      return withBoot(std::vector<std::string>(cmd.begin(), cmd.begin() + static_cast<long>(i)));
    }
  }
  if (cmd.size() > 1 && cmd.back() == "alembic") {
    std::vector<std::string> argv(cmd.begin(), cmd.end() - 1);
    argv.push_back("python");
    return withBoot(argv);
  }
  if (cmd.size() == 1 && isAlembic(cmd.front())) {
    std::string resolver = std::string("BOOT=") + nlohmann::json(std::string(kBootstrap)).dump() +
                           "\n" + kResolver;
    return std::vector<std::string>{launch.bootstrapPython, "-c", resolver, launch.root,
                                    cmd.front()};
  }
  std::string text;
  for (const auto& word : cmd) {
    text += (text.empty() ? "" : " ") + word;
  }
  return core::Error::terminal(core::reason::kUsageError,
                               "cannot tell which Python interpreter runs alembic from "
                               "--alembic-cmd \"" + text + "\"; pass --python with it");
}

}  // namespace alembic_sidecar::alembic
