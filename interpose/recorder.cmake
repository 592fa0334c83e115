# argus_recorder: the rank-record write API (interpose/recorder.h) without any hooks.
# Included from interpose/CMakeLists.txt and from tests (also in sanitizer builds, where
# interpose/ itself is not built):  include(${PROJECT_SOURCE_DIR}/interpose/recorder.cmake)
if(NOT TARGET argus_recorder)
  add_library(argus_recorder STATIC ${PROJECT_SOURCE_DIR}/interpose/recorder.cpp)
  target_include_directories(argus_recorder PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/interpose)
  target_link_libraries(argus_recorder PUBLIC Threads::Threads rt PRIVATE argus_warnings)
  set_target_properties(argus_recorder PROPERTIES POSITION_INDEPENDENT_CODE ON
                        CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
endif()
