#include "cli/app.h"

int main(int argc, char** argv) { return alembic_sidecar::cli::runMain(argc, argv); }
