# crucible_add_test(<name> SOURCES <src...> [LIBS <targets...>] [LABELS unit|integration|slow|gpu ...])
# One GoogleTest binary per call; each TEST() becomes its own ctest entry with the given labels, and runs with the
# source tree's root as working directory so tests can reach ../shared by a relative path.
function(crucible_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} crucible_test_support GTest::gtest GTest::gtest_main crucible_warnings)
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 120  # torch binaries load ~1 GB of shared libraries; cold page cache takes seconds
    # The source and build folders reach the tests as compile definitions of crucible_test_support
    # (tests/CMakeLists.txt): an ENVIRONMENT list here is split at its ';' by gtest_discover_tests and set nothing.
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()
