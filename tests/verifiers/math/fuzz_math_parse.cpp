// libFuzzer target: the answer parser and the equivalence checker (GiNaC included) on arbitrary bytes. The input is
// one answer, or two answers split at the first tab. Must never crash, hang, or run past its budget by much.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "verifiers/math/math_verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crucible::verifiers;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  MathGradeOptions o;
  auto t0 = std::chrono::steady_clock::now();
  (void)debug_parse(in);
  size_t tab = in.find('\t');
  if (tab != std::string_view::npos) {
    (void)compare_answers(in.substr(0, tab), in.substr(tab + 1), o);
  } else {
    (void)compare_answers(in, in, o);
    (void)compare_answers(in, "\\frac{x+1}{2}", o);
    (void)compare_answers(in, "(1, 2]", o);
  }
  // Each comparison has a 50 ms budget; four of them plus parsing must stay far below 3 s even under ASan and
  // coverage instrumentation (10-30x slower) on a shared machine.
  if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(3)) std::abort();
  return 0;
}
