// Link seam for fuzz_cc_json only. broker/cf/uaa_client.cc holds UAA's pure parsers
// (ParseTokenResponse, StatusFromUaaResponse, ParseRootLinks) next to the UaaClient class, whose
// methods call HttpClient::Send, defined in http_client.cc with libcurl, which this build leaves
// out. The harness never constructs a UaaClient, so Send is never called: this definition only
// satisfies the linker, and aborts loudly if that ever changes. (It goes away when the parsers
// move to a file of their own; tests/fuzz/README.md.)
#include <cstdio>
#include <cstdlib>

#include "broker/cf/http_client.h"

namespace broker::cf {

base::Result<HttpResponse> HttpClient::Send(const HttpRequest&) {
  std::fputs("fuzz: HttpClient::Send called; the fuzz build has no HTTP client\n", stderr);
  std::abort();
}

}  // namespace broker::cf
