#include "broker/base/url.h"

namespace broker::base {

std::string JoinUrl(std::string_view base, std::string_view path) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::string out;
  out.reserve(base.size() + 1 + path.size());
  out.append(base);
  out += '/';
  out.append(path);
  return out;
}

}  // namespace broker::base
