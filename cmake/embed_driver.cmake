# Writes OUTPUT: a C++ source defining alembic_sidecar::alembic::driverModules(), the Python
# modules of operator/alembic/driver/ as (module name, source) pairs, so the driver ships
# inside the binary. Run at build time by the custom command in CMakeLists.txt.
file(GLOB modules "${DRIVER_DIR}/*.py")
list(SORT modules)
set(body "")
foreach(path ${modules})
  get_filename_component(name "${path}" NAME_WE)
  file(READ "${path}" text)
  string(FIND "${text}" ")PYSRC\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${path} contains the raw-string delimiter )PYSRC\"")
  endif()
  string(APPEND body "      {\"${name}\", R\"PYSRC(${text})PYSRC\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from operator/alembic/driver/*.py by cmake/embed_driver.cmake.
#include \"alembic/driver_sources.h\"

namespace alembic_sidecar::alembic {

const std::vector<std::pair<std::string, std::string>>& driverModules() {
  static const std::vector<std::pair<std::string, std::string>> kModules = {
${body}  };
  return kModules;
}

}  // namespace alembic_sidecar::alembic
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
