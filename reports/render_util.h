// Number and label formatting shared by the Markdown and HTML renderers, so both print the same digits.
#pragma once
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <string>

namespace crucible::report {

// A rate in [0, 1] as a percentage with one decimal; "–" for null (does not apply).
inline std::string pct(const nlohmann::json& v) {
  return v.is_null() ? "–" : fmt::format("{:.1f}%", 100.0 * v.get<double>());
}
// A difference of rates in percentage points, signed.
inline std::string signed_pp(const nlohmann::json& v) {
  return v.is_null() ? "–" : fmt::format("{:+.1f} pp", 100.0 * v.get<double>());
}
// A per-problem solve rate: 0, 1 or two decimals.
inline std::string rate(const nlohmann::json& v) {
  double x = v.get<double>();
  if (x == 0 || x == 1) return fmt::format("{}", static_cast<int>(x));
  return fmt::format("{:.2f}", x);
}
inline std::string number(const nlohmann::json& v, int decimals = -1) {
  if (v.is_null()) return "–";
  if (v.is_number_integer()) return fmt::format("{}", v.get<int64_t>());
  if (decimals < 0) return fmt::format("{:g}", v.get<double>());
  return fmt::format("{:.{}f}", v.get<double>(), decimals);
}
inline std::string seconds(const nlohmann::json& v) {
  if (v.is_null()) return "–";
  double s = v.get<double>();
  if (s < 120) return fmt::format("{:.1f} s", s);
  return fmt::format("{}m {:02d}s", static_cast<int>(s / 60), static_cast<int>(std::fmod(s, 60)));
}
inline std::string p_value(const nlohmann::json& v) {
  double p = v.get<double>();
  return p < 0.001 ? "<0.001" : fmt::format("{:.3f}", p);
}
inline std::string basename_of(const nlohmann::json& path) {
  if (path.is_null()) return "–";
  auto s = path.get<std::string>();
  auto slash = s.find_last_of('/');
  return slash == std::string::npos ? s : s.substr(slash + 1);
}
// A count, or "–" for none: an SFT run generates no samples, and "0 samples · 0.0 tok/s" beside its 100 s of training
// would read as a run that did nothing.
inline std::string count_or_dash(const nlohmann::json& n) {
  return n.get<int64_t>() == 0 ? std::string("–") : std::to_string(n.get<int64_t>());
}
// The protocol of an eval run ("r1"); a training run has none, so its kind ("train-grpo") says what it is.
inline std::string protocol_or_kind(const nlohmann::json& run) {
  const std::string protocol = run.value("protocol", std::string());
  return protocol.empty() ? run.value("kind", std::string()) : protocol;
}
// "#3 smol-greedy": runs are named by id and name everywhere, so two runs of the same name stay apart.
inline std::string run_label(const nlohmann::json& report, const nlohmann::json& id) {
  for (const auto& r : report["runs"])
    if (r["id"] == id) return fmt::format("#{} {}", r["id"].get<int64_t>(), r["name"].get<std::string>());
  return fmt::format("#{}", id.get<int64_t>());
}

}  // namespace crucible::report
