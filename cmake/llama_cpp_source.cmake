# Locate llama.cpp's source: PYLLM_LLAMA_CPP_DIR when given, else vendor/llama.cpp,
# filled on first configure from the pinned llama-cpp-python sdist (cmake/fetch_llama_cpp.py).
# Sets LLAMA_CPP_DIR, LLAMA_CPP_COMMIT and LLAMA_CPP_SOURCE.

set(PYLLM_LLAMA_CPP_DIR "" CACHE PATH "Use this llama.cpp checkout instead of the pinned source")

if(PYLLM_LLAMA_CPP_DIR)
  set(LLAMA_CPP_DIR "${PYLLM_LLAMA_CPP_DIR}")
  if(NOT EXISTS "${LLAMA_CPP_DIR}/CMakeLists.txt" OR NOT EXISTS "${LLAMA_CPP_DIR}/include/llama.h")
    message(FATAL_ERROR "PYLLM_LLAMA_CPP_DIR=${LLAMA_CPP_DIR} is not a llama.cpp source tree "
                        "(no CMakeLists.txt / include/llama.h there).")
  endif()
  execute_process(COMMAND git -C "${LLAMA_CPP_DIR}" rev-parse --short HEAD
                  OUTPUT_VARIABLE LLAMA_CPP_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _git_rc ERROR_QUIET)
  if(NOT _git_rc EQUAL 0)
    set(LLAMA_CPP_COMMIT "unknown")
  endif()
  set(LLAMA_CPP_SOURCE "checkout ${LLAMA_CPP_DIR}")
else()
  set(LLAMA_CPP_DIR "${PROJECT_SOURCE_DIR}/vendor/llama.cpp")
  if(NOT EXISTS "${LLAMA_CPP_DIR}/CMakeLists.txt")
    find_package(Python COMPONENTS Interpreter REQUIRED)
    execute_process(
      COMMAND "${Python_EXECUTABLE}" "${PROJECT_SOURCE_DIR}/cmake/fetch_llama_cpp.py" "${LLAMA_CPP_DIR}"
      RESULT_VARIABLE _fetch_rc)
    if(NOT _fetch_rc EQUAL 0)
      message(FATAL_ERROR "Could not prepare ${LLAMA_CPP_DIR} (see the message above). "
                          "Fix network access to the package index, or configure with "
                          "-DPYLLM_LLAMA_CPP_DIR=/path/to/llama.cpp "
                          "(pip: -C cmake.define.PYLLM_LLAMA_CPP_DIR=/path/to/llama.cpp).")
    endif()
  endif()
  file(READ "${LLAMA_CPP_DIR}/PYLLM_SOURCE.json" _stamp)
  string(JSON LLAMA_CPP_COMMIT ERROR_VARIABLE _json_err GET "${_stamp}" llama_cpp_commit)
  if(_json_err)
    set(LLAMA_CPP_COMMIT "unknown")
  endif()
  string(JSON _pkg ERROR_VARIABLE _json_err GET "${_stamp}" package)
  string(JSON _ver ERROR_VARIABLE _json_err GET "${_stamp}" version)
  set(LLAMA_CPP_SOURCE "${_pkg}==${_ver} sdist")
  # pyllm's few changes to the pinned source (cmake/patch_llama_cpp.py says what and why);
  # a checkout given by PYLLM_LLAMA_CPP_DIR is used as it is.
  find_package(Python COMPONENTS Interpreter REQUIRED)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" "${PROJECT_SOURCE_DIR}/cmake/patch_llama_cpp.py" "${LLAMA_CPP_DIR}"
    RESULT_VARIABLE _patch_rc)
  if(NOT _patch_rc EQUAL 0)
    message(FATAL_ERROR "Could not apply pyllm's changes to ${LLAMA_CPP_DIR} (see the message above).")
  endif()
  set(LLAMA_CPP_SOURCE "${LLAMA_CPP_SOURCE} + pyllm changes")
endif()

message(STATUS "pyllm: llama.cpp source ${LLAMA_CPP_DIR} (commit ${LLAMA_CPP_COMMIT})")
