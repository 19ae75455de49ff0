// Thread names: what `top -H`, `ps -L`, perf and /proc/<pid>/task/*/comm show for a broker
// thread, so an operator can tell the clone worker from the HTTP reactors at a glance.
#ifndef BROKER_BASE_THREAD_H_
#define BROKER_BASE_THREAD_H_

#include <string>

namespace broker::base {

// Names the calling thread. Linux keeps 15 characters; a longer name is cut to them.
void NameThisThread(const std::string& name);

}  // namespace broker::base

#endif  // BROKER_BASE_THREAD_H_
