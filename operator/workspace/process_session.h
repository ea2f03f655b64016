#pragma once

#include <memory>

#include "workspace/process.h"
#include "workspace/session.h"

namespace alembic_sidecar::workspace {

/**
 * Starts argv as a child process whose stdin and stdout stay open for a conversation; stderr
 * is collected in the background (its tail is kept). The child gets its own process group,
 * inherits no descriptor beyond 0-2 and is killed when this process dies. ProcessSpec's
 * timeout and stdinData are ignored: the caller bounds each exchange.
 */
core::Result<std::unique_ptr<Session>> startProcessSession(const ProcessSpec& spec);

}  // namespace alembic_sidecar::workspace
