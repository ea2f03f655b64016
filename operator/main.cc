#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/app.h"

int main(int argc, char** argv) {
  const int code = alembic_sidecar::cli::runMain(argc, argv);
  // Everything the run owned is closed by now (runMain's scopes have ended). Static
  // destruction would still free cpprestsdk's pooled TLS connections after OpenSSL's own
  // exit-time cleanup: a rare heap corruption at exit (microsoft/cpprestsdk#1482) that turned
  // a finished command's exit code into 134. Flush and leave without static destructors.
  spdlog::shutdown();
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(code);
}
