# Writes OUTPUT: a C++ source defining, in alembic_sidecar::alembic,
# - driverModules(): the package operator/alembic/driver/alembic_sidecar_driver/ as
#   (module name, source) pairs (`alembic_sidecar_driver` is its __init__.py),
# - driverBootstrapSource() / driverResolverSource(): bootstrap.py and resolve.py,
# so the driver ships inside the binary. Run at build time by the custom command in
# CMakeLists.txt.
function(raw_string path out)
  file(READ "${path}" text)
  string(FIND "${text}" ")PYSRC\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${path} contains the raw-string delimiter )PYSRC\"")
  endif()
  set(${out} "R\"PYSRC(${text})PYSRC\"" PARENT_SCOPE)
endfunction()

file(GLOB modules "${DRIVER_DIR}/alembic_sidecar_driver/*.py")
list(SORT modules)
set(body "")
foreach(path ${modules})
  get_filename_component(name "${path}" NAME_WE)
  if(name STREQUAL "__init__")
    set(name "alembic_sidecar_driver")
  else()
    set(name "alembic_sidecar_driver.${name}")
  endif()
  raw_string("${path}" text)
  string(APPEND body "      {\"${name}\", ${text}},\n")
endforeach()
raw_string("${DRIVER_DIR}/bootstrap.py" bootstrap)
raw_string("${DRIVER_DIR}/resolve.py" resolver)
file(WRITE "${OUTPUT}.tmp" "// Generated from operator/alembic/driver/ by cmake/embed_driver.cmake.
#include \"alembic/driver_sources.h\"

namespace alembic_sidecar::alembic {

const std::vector<std::pair<std::string, std::string>>& driverModules() {
  static const std::vector<std::pair<std::string, std::string>> kModules = {
${body}  };
  return kModules;
}

const std::string& driverBootstrapSource() {
  static const std::string kText = ${bootstrap};
  return kText;
}

const std::string& driverResolverSource() {
  static const std::string kText = ${resolver};
  return kText;
}

}  // namespace alembic_sidecar::alembic
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
