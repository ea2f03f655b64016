#pragma once

#include <memory>
#include <string>

#include "kube/exec_stream.h"
#include "workspace/session.h"

namespace alembic_sidecar::kube {

/**
 * A workspace::Session over an open pods/exec connection: write() sends on channel 0,
 * readLine() returns channel 1 line by line, channel 2 is kept as the stderr tail, and the
 * final Status (channel 3) or the socket's close ends the session. `where` names the pod
 * and container for messages.
 */
std::unique_ptr<workspace::Session> makeExecSession(std::unique_ptr<ExecConnection> connection,
                                                    std::string where);

}  // namespace alembic_sidecar::kube
