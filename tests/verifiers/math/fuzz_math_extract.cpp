// libFuzzer target: response splitting and every extraction rule (math and multiple choice), then grading.
#include <cstdint>
#include <string_view>

#include "verifiers/choice/choice_verifier.h"
#include "verifiers/math/math_verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crucible::verifiers;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  MathGradeOptions o = MathGradeOptions::gsm8k();
  o.rules.push_back(ExtractRule::whole);
  for (ExtractRule r : o.rules) (void)extract_answer(in, {r});
  (void)grade_math(in, "42", o);
  (void)grade_choice(in, 'C', {"1/2", "\\pi", "x+1", "none of these"});
  return 0;
}
