// Building URLs under a base URL such as BROKER_PUBLIC_URL. Pure; thread-safe.
#ifndef BROKER_BASE_URL_H_
#define BROKER_BASE_URL_H_

#include <string>
#include <string_view>

namespace broker::base {

// `base` and `path` joined with exactly one '/': the '/'s that end `base` and the '/'s that start
// `path` collapse into one, so "https://b.example.com/" or "https://b.example.com/prefix//" work
// as well as a base without a trailing '/'. `base` is an absolute URL without query or fragment
// (it may carry a path prefix); `path` is an absolute path ("/ssh-access/v1/..."). Nothing is
// percent-encoded: a caller that puts a variable segment into `path` encodes it first
// (base::PercentEncode in encoding.h).
std::string JoinUrl(std::string_view base, std::string_view path);

}  // namespace broker::base

#endif  // BROKER_BASE_URL_H_
