#pragma once

#include <string_view>

namespace alembic_sidecar::report {

/** docs/findings.md as it was when the binary was built (cmake/embed_text.cmake). */
std::string_view findingsDocument();

}  // namespace alembic_sidecar::report
