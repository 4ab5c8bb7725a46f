# Stamp the git sha and build type into the binary (crucible --version, runs.git_sha).
find_package(Git QUIET)
set(CRUCIBLE_GIT_SHA "unknown")
if(GIT_FOUND AND EXISTS ${CMAKE_SOURCE_DIR}/.git)
  execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --short=12 HEAD
                  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE _sha
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
  if(_rc EQUAL 0 AND _sha)
    set(CRUCIBLE_GIT_SHA ${_sha})
  endif()
  execute_process(COMMAND ${GIT_EXECUTABLE} status --porcelain --untracked-files=no
                  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE _dirty ERROR_QUIET)
  if(_dirty)
    string(APPEND CRUCIBLE_GIT_SHA "-dirty")
  endif()
  # Re-run configure when HEAD moves so the sha stays true.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/.git/HEAD)
  if(EXISTS ${CMAKE_SOURCE_DIR}/.git/index)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/.git/index)
  endif()
endif()
configure_file(${CMAKE_SOURCE_DIR}/core/version_info.h.in ${CMAKE_BINARY_DIR}/generated/core/version_info.h @ONLY)
