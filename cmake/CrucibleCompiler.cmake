# Warnings, sanitizers and ccache for every crucible target.
find_program(CRUCIBLE_CCACHE ccache)
if(CRUCIBLE_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${CRUCIBLE_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CRUCIBLE_CCACHE})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${CRUCIBLE_CCACHE})
endif()

add_library(crucible_warnings INTERFACE)
target_compile_options(crucible_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wno-missing-field-initializers>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${CRUCIBLE_WERROR}>>:-Werror>)

if(CRUCIBLE_SANITIZE)
  string(REPLACE "," ";" _sans "${CRUCIBLE_SANITIZE}")
  foreach(s ${_sans})
    add_compile_options(-fsanitize=${s} -fno-omit-frame-pointer)
    add_link_options(-fsanitize=${s})
  endforeach()
endif()
