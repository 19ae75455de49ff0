# The Cloud Foundry package (scripts/package), included from the top-level CMakeLists.txt after
# cmake/tmate_bundle.cmake, whose TMATE_BUNDLE_PATH it packages:
#   broker_package   ${CMAKE_BINARY_DIR}/dist: this build's broker and tmate bundle laid out for the
#                    binary buildpack (scripts/package --broker ... --bundle ...); not part of the
#                    default build. The release package is `scripts/package` (its own Release build).
# integration_tests depends on it and gets BROKER_PACKAGE_DIR (tests/integration/package_test.cc).
set(BROKER_PACKAGE_DIR ${CMAKE_BINARY_DIR}/dist)
set(_package_stamp ${CMAKE_BINARY_DIR}/CMakeFiles/broker_package.stamp)
file(GLOB _package_migrations CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/migrations/*.sql)

# The package's mtimes are fixed (reproducible), so a stamp file records when it was made.
add_custom_command(
  OUTPUT ${_package_stamp}
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/package --broker $<TARGET_FILE:broker> --bundle ${TMATE_BUNDLE_PATH}
          --output ${BROKER_PACKAGE_DIR}
  COMMAND ${CMAKE_COMMAND} -E touch ${_package_stamp}
  DEPENDS broker $<TARGET_FILE:broker> tmate_bundle ${TMATE_BUNDLE_PATH}
          ${PROJECT_SOURCE_DIR}/scripts/package ${PROJECT_SOURCE_DIR}/scripts/lib/bundle.sh
          ${PROJECT_SOURCE_DIR}/scripts/lib/common.sh ${PROJECT_SOURCE_DIR}/catalog/catalog.json
          ${PROJECT_SOURCE_DIR}/manifest.yml ${_package_migrations}
  COMMENT "Packaging the broker for Cloud Foundry into dist/"
  VERBATIM)
add_custom_target(broker_package DEPENDS ${_package_stamp})

if(TARGET integration_tests)
  add_dependencies(integration_tests broker_package)
  target_compile_definitions(integration_tests PRIVATE BROKER_PACKAGE_DIR="${BROKER_PACKAGE_DIR}")
endif()
