// main() of every test binary: gmock_main's, plus an exit that skips static destructors.
// cpprestsdk frees its pooled TLS connections during static destruction, after OpenSSL's
// exit-time cleanup (microsoft/cpprestsdk#1482): about one run in 25 of a binary that spoke
// HTTPS aborted after all its tests had passed ("corrupted size vs. prev_size").

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
  testing::InitGoogleMock(&argc, argv);
  const int code = RUN_ALL_TESTS();
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(code);
}
