# The self-contained tmate tarballs (scripts/build-tmate-bundle), included from the top-level
# CMakeLists.txt after tests/ so the targets defined there exist:
#   tmate_bundle        ${CMAKE_BINARY_DIR}/assets/tmate-bundle.tar.gz (+ .sha256), Debian's tmate
#                       (BROKER_TMATE_BINARY, default /usr/bin/tmate); part of the default build
#   test_tmate_bundle   ${CMAKE_BINARY_DIR}/assets/test-tmate-bundle.tar.gz (+ .sha256), the same
#                       bundle around the fake_tmate test program; only when that target exists
# integration_tests depends on both and gets TMATE_BUNDLE_PATH, TMATE_BINARY_PATH (the tmate bundled)
# and, with fake_tmate, TEST_TMATE_BUNDLE_PATH.
#
# Rebuilt when any file a bundle contains changes, not only the scripts and the tmate binary: the
# target tmate_bundle_inputs runs on every build and writes the sha256 of every input (the
# scripts, tmate, its loader and shared libraries as resolved now, the locale and terminfo files)
# to assets/tmate-bundle.inputs, touching it only when one changed (an `apt-get upgrade` of
# libssh, libevent or glibc does); each bundle depends on that file.
set(BROKER_TMATE_BINARY /usr/bin/tmate CACHE FILEPATH "The tmate program scripts/build-tmate-bundle bundles")
if(NOT EXISTS "${BROKER_TMATE_BINARY}")
  message(FATAL_ERROR "tmate is not installed (no ${BROKER_TMATE_BINARY}); it is needed to build "
                      "assets/tmate-bundle.tar.gz: run scripts/setup (Debian package tmate), or set "
                      "-DBROKER_TMATE_BINARY=PATH")
endif()

set(TMATE_BUNDLE_PATH ${CMAKE_BINARY_DIR}/assets/tmate-bundle.tar.gz)
set(TEST_TMATE_BUNDLE_PATH ${CMAKE_BINARY_DIR}/assets/test-tmate-bundle.tar.gz)
set(_tmate_bundle_script ${PROJECT_SOURCE_DIR}/scripts/build-tmate-bundle)
set(_tmate_bundle_deps ${_tmate_bundle_script} ${PROJECT_SOURCE_DIR}/scripts/lib/bundle.sh
                       ${PROJECT_SOURCE_DIR}/scripts/lib/common.sh)

set(_tmate_bundle_inputs ${CMAKE_BINARY_DIR}/assets/tmate-bundle.inputs)
add_custom_target(tmate_bundle_inputs
  COMMAND ${_tmate_bundle_script} --tmate ${BROKER_TMATE_BINARY} --inputs-stamp ${_tmate_bundle_inputs}
  BYPRODUCTS ${_tmate_bundle_inputs}
  COMMENT "Checking the tmate bundle's inputs (tmate, its shared libraries, locale, terminfo)"
  VERBATIM)

add_custom_command(
  OUTPUT ${TMATE_BUNDLE_PATH} ${TMATE_BUNDLE_PATH}.sha256
  COMMAND ${_tmate_bundle_script} --tmate ${BROKER_TMATE_BINARY} --output ${TMATE_BUNDLE_PATH}
  DEPENDS ${_tmate_bundle_deps} ${BROKER_TMATE_BINARY} ${_tmate_bundle_inputs}
  COMMENT "Bundling ${BROKER_TMATE_BINARY} into assets/tmate-bundle.tar.gz"
  VERBATIM)
add_custom_target(tmate_bundle ALL DEPENDS ${TMATE_BUNDLE_PATH} ${TMATE_BUNDLE_PATH}.sha256)
add_dependencies(tmate_bundle tmate_bundle_inputs)

if(TARGET fake_tmate)
  set(_test_tmate_bundle_inputs ${CMAKE_BINARY_DIR}/assets/test-tmate-bundle.inputs)
  add_custom_target(test_tmate_bundle_inputs
    COMMAND ${_tmate_bundle_script} --tmate $<TARGET_FILE:fake_tmate> --inputs-stamp ${_test_tmate_bundle_inputs}
    BYPRODUCTS ${_test_tmate_bundle_inputs}
    COMMENT "Checking the test tmate bundle's inputs"
    VERBATIM)
  add_dependencies(test_tmate_bundle_inputs fake_tmate)
  add_custom_command(
    OUTPUT ${TEST_TMATE_BUNDLE_PATH} ${TEST_TMATE_BUNDLE_PATH}.sha256
    COMMAND ${_tmate_bundle_script} --tmate $<TARGET_FILE:fake_tmate> --output ${TEST_TMATE_BUNDLE_PATH}
    DEPENDS ${_tmate_bundle_deps} fake_tmate $<TARGET_FILE:fake_tmate> ${_test_tmate_bundle_inputs}
    COMMENT "Bundling fake_tmate into assets/test-tmate-bundle.tar.gz"
    VERBATIM)
  add_custom_target(test_tmate_bundle DEPENDS ${TEST_TMATE_BUNDLE_PATH} ${TEST_TMATE_BUNDLE_PATH}.sha256)
  add_dependencies(test_tmate_bundle test_tmate_bundle_inputs)
endif()

if(TARGET integration_tests)
  add_dependencies(integration_tests tmate_bundle)
  target_compile_definitions(integration_tests PRIVATE
    TMATE_BUNDLE_PATH="${TMATE_BUNDLE_PATH}"
    TMATE_BINARY_PATH="${BROKER_TMATE_BINARY}")
  if(TARGET test_tmate_bundle)
    add_dependencies(integration_tests test_tmate_bundle)
    target_compile_definitions(integration_tests PRIVATE TEST_TMATE_BUNDLE_PATH="${TEST_TMATE_BUNDLE_PATH}")
  endif()
endif()
