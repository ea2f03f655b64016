# Writes OUTPUT: a C++ source defining the function FUNCTION (namespace NAMESPACE, declared in
# HEADER) that returns the text of INPUT, so a document ships inside the binary. Run at build
# time by a custom command in CMakeLists.txt.
file(READ "${INPUT}" text)
string(FIND "${text}" ")EMBED\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )EMBED\"")
endif()
file(WRITE "${OUTPUT}.tmp" "// Generated from ${INPUT_NAME} by cmake/embed_text.cmake.
#include \"${HEADER}\"

namespace ${NAMESPACE} {

std::string_view ${FUNCTION}() {
  static constexpr char kText[] = R\"EMBED(${text})EMBED\";
  return {kText, sizeof(kText) - 1};
}

}  // namespace ${NAMESPACE}
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
