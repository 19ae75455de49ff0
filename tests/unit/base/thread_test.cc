#include "broker/base/thread.h"

#include <doctest/doctest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

namespace broker::base {
namespace {

// The calling thread's name as the kernel reports it.
std::string OwnName() {
  std::ifstream in("/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

TEST_SUITE("base::NameThisThread") {
  TEST_CASE("names the calling thread, cut to the kernel's 15 characters") {
    std::string short_name, long_name;
    std::thread([&] {
      NameThisThread("worker/3");
      short_name = OwnName();
      NameThisThread("a-name-longer-than-fifteen");
      long_name = OwnName();
    }).join();
    CHECK(short_name == "worker/3");
    CHECK(long_name == "a-name-longer-t");
  }
}

}  // namespace
}  // namespace broker::base
