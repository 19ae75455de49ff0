# cmake -DIN=<file> -DOUT=<file.cc> -P embed.cmake: writes a C++ source defining
# broker::session::BootstrapScript() as the bytes of IN (see bootstrap_script.h).
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_length)
if(hex_length EQUAL 0)
  message(FATAL_ERROR "${IN} is empty")
endif()
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}.tmp"
  "// Generated from ${IN} by broker/session/embed.cmake. Do not edit.\n"
  "#include \"broker/session/bootstrap_script.h\"\n\n"
  "namespace broker::session {\nnamespace {\n"
  "constexpr unsigned char kScript[] = {${bytes}};\n"
  "}  // namespace\n\n"
  "std::string_view BootstrapScript() { return {reinterpret_cast<const char*>(kScript), sizeof kScript}; }\n\n"
  "}  // namespace broker::session\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
