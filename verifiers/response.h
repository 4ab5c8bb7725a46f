// Splitting a model response into its reasoning and its answer, the first step of every grader.
//
// R1-style models write `<think>\n…</think>` and then the answer; only what follows the *last* `</think>` is graded.
// A response that opens `<think>` (or was started inside one by the prompt) and never closes it is unfinished: it has
// no answer, whatever numbers the reasoning mentions.
#pragma once
#include <string_view>

namespace crucible::verifiers {

struct SplitResponse {
  std::string_view reasoning;  // text before the last </think> (without the tags); empty if none
  std::string_view answer;     // text after the last </think>, or the whole response when no think block exists
  bool has_think_open = false;    // a <think> tag appears
  bool has_think_close = false;   // a </think> tag appears
  bool unfinished = false;        // think opened (or assumed open) but never closed: there is no answer
};

// `assume_think_open`: the prompt itself ended with "<think>\n" (R1 protocol), so the response starts inside the
// reasoning even though it does not contain the opening tag.
SplitResponse split_response(std::string_view response, bool assume_think_open = false);

}  // namespace crucible::verifiers
