#pragma once

#include <string>
#include <utility>
#include <vector>

namespace alembic_sidecar::alembic {

/**
 * The driver's Python modules (name, source), embedded at build time from
 * the .py files of operator/alembic/driver/; alembic_sidecar_driver is the entry point.
 */
const std::vector<std::pair<std::string, std::string>>& driverModules();

}  // namespace alembic_sidecar::alembic
