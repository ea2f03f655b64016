#pragma once

namespace alembic_sidecar::cli {

/** Parses the command line, runs one subcommand and returns the process exit code. */
int runMain(int argc, char** argv);

}  // namespace alembic_sidecar::cli
