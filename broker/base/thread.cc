#include "broker/base/thread.h"

#include <pthread.h>

namespace broker::base {

void NameThisThread(const std::string& name) {
  constexpr std::size_t kMax = 15;  // TASK_COMM_LEN - 1
  pthread_setname_np(pthread_self(), name.substr(0, kMax).c_str());
}

}  // namespace broker::base
