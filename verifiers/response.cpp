#include "verifiers/response.h"

namespace crucible::verifiers {

SplitResponse split_response(std::string_view response, bool assume_think_open) {
  constexpr std::string_view kOpen = "<think>";
  constexpr std::string_view kClose = "</think>";
  SplitResponse out;
  size_t open = response.find(kOpen);
  size_t close = response.rfind(kClose);
  out.has_think_open = open != std::string_view::npos;
  out.has_think_close = close != std::string_view::npos;
  if (out.has_think_close) {
    size_t start = (out.has_think_open && open < close) ? open + kOpen.size() : 0;
    out.reasoning = response.substr(start, close - start);
    out.answer = response.substr(close + kClose.size());
    return out;
  }
  if (out.has_think_open || assume_think_open) {
    out.unfinished = true;
    size_t start = out.has_think_open ? open + kOpen.size() : 0;
    out.reasoning = response.substr(start);
    out.answer = {};
    return out;
  }
  out.answer = response;
  return out;
}

}  // namespace crucible::verifiers
