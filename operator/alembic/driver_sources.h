#pragma once

#include <string>
#include <utility>
#include <vector>

namespace alembic_sidecar::alembic {

/**
 * The driver's Python package (module name, source), embedded at build time from
 * operator/alembic/driver/alembic_sidecar_driver/; `alembic_sidecar_driver` is its __init__.
 */
const std::vector<std::pair<std::string, std::string>>& driverModules();
/** operator/alembic/driver/bootstrap.py: run as `python -c`, it loads the package from stdin. */
const std::string& driverBootstrapSource();
/** operator/alembic/driver/resolve.py: finds a bare `alembic`'s interpreter, then runs BOOT. */
const std::string& driverResolverSource();

}  // namespace alembic_sidecar::alembic
