// Code extraction from a model response: the grader's step between split_response() and the sandbox.
//
// Rule: in the answer (text after the last </think>), the last ```python (or ```py, ```python3) block that holds
// code — not blank, not only comments such as "# YOUR CODE HERE" — else the last fenced block of any language that is
// not blank. An unclosed fence is not a block (a truncated response has no final code). LiveCodeBench's own
// extractor takes the last pair of ``` lines, which picks a trailing ```text or ```output block of prose or sample
// output; preferring the last python block avoids that, and falls back to LCB's choice when nothing is tagged.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace crucible::verifiers::code {

// `answer` is the text after </think> (see verifiers/response.h); nullopt when it holds no usable block.
std::optional<std::string> extract_code(std::string_view answer);

}  // namespace crucible::verifiers::code
