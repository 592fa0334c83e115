# argus_add_fuzzer(NAME SOURCES... LIBS ... CORPUS dir)
# The source defines LLVMFuzzerTestOneInput. With clang and ARGUS_FUZZ=ON it becomes a
# libFuzzer binary and a ctest that fuzzes for ARGUS_FUZZ_SECONDS starting from the kept
# corpus; otherwise a replay driver runs every corpus file through it (a regression test).
option(ARGUS_FUZZ "Build libFuzzer targets (needs clang)" OFF)
set(ARGUS_FUZZ_SECONDS 30 CACHE STRING "Seconds each fuzzer runs in the test suite")
# A fixed seed keeps the CI gate reproducible; longer or differently seeded runs are for
# hunting: -DARGUS_FUZZ_SEED=0 lets libFuzzer pick one.
set(ARGUS_FUZZ_SEED 1 CACHE STRING "libFuzzer -seed for the test-suite runs")

function(argus_add_fuzzer name)
  cmake_parse_arguments(F "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${F_SOURCES})
  target_link_libraries(${name} PRIVATE ${F_LIBS} argus_warnings)
  if(ARGUS_FUZZ AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    # New inputs go to a scratch folder; the kept corpus in the repo is only read.
    set(work ${CMAKE_CURRENT_BINARY_DIR}/${name}-corpus)
    add_test(NAME fuzz.${name}
      COMMAND sh -c "mkdir -p '${work}' && exec \"$0\" -seed=${ARGUS_FUZZ_SEED} -max_total_time=${ARGUS_FUZZ_SECONDS} -rss_limit_mb=2048 -print_final_stats=1 '${work}' '${F_CORPUS}'"
              $<TARGET_FILE:${name}>)
    set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT 600)
  else()
    target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/test/fuzz/replay_main.cpp)
    add_test(NAME fuzz-replay.${name} COMMAND $<TARGET_FILE:${name}> ${F_CORPUS})
    set_tests_properties(fuzz-replay.${name} PROPERTIES LABELS "unit;fuzz")
  endif()
endfunction()
