#pragma once

namespace alembic_sidecar::testing {

/** A free loopback TCP port: bound by the kernel's choice, then released. */
int freePort();

}  // namespace alembic_sidecar::testing
