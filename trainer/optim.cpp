#include "trainer/optim.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace crucible::trainer {

void OptimConfig::validate(const std::string& where) const {
  auto need = [&](bool ok, const char* field, const std::string& what) {
    if (!ok) throw InputError(where, field, what);
  };
  need(std::isfinite(lr) && lr >= 0, "lr", "must be a finite number >= 0");
  need(std::isfinite(weight_decay) && weight_decay >= 0, "weight_decay", "must be >= 0");
  need(beta1 >= 0 && beta1 < 1, "beta1", "must be in [0, 1)");
  need(beta2 >= 0 && beta2 < 1, "beta2", "must be in [0, 1)");
  need(eps > 0, "eps", "must be > 0");
  need(std::isfinite(warmup) && warmup >= 0 && (warmup < 1 || warmup == std::floor(warmup)), "warmup",
       "must be a step count (a whole number >= 1) or a fraction in [0, 1)");
  need(schedule == "cosine" || schedule == "linear" || schedule == "constant", "schedule",
       "must be cosine, linear or constant, got '" + schedule + "'");
  need(min_lr_ratio >= 0 && min_lr_ratio <= 1, "min_lr_ratio", "must be in [0, 1]");
  need(min_lr_ratio == 0 || schedule == "cosine", "min_lr_ratio", "applies to the cosine schedule only");
  need(std::isfinite(max_grad_norm), "max_grad_norm", "must be a number (<= 0 turns clipping off)");
}

nlohmann::json OptimConfig::to_json() const {
  return {{"lr", lr},       {"weight_decay", weight_decay}, {"beta1", beta1},
          {"beta2", beta2}, {"eps", eps},                   {"warmup", warmup},
          {"schedule", schedule}, {"min_lr_ratio", min_lr_ratio}, {"max_grad_norm", max_grad_norm}};
}

OptimConfig OptimConfig::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw InputError(where, "", "expected a JSON object");
  OptimConfig c;
  auto num = [&](const char* field, double& out) {
    if (!j.contains(field)) return;
    if (!j[field].is_number()) throw InputError(where, field, "expected a number");
    out = j[field].get<double>();
  };
  num("lr", c.lr);
  num("weight_decay", c.weight_decay);
  num("beta1", c.beta1);
  num("beta2", c.beta2);
  num("eps", c.eps);
  num("warmup", c.warmup);
  num("min_lr_ratio", c.min_lr_ratio);
  num("max_grad_norm", c.max_grad_norm);
  if (j.contains("schedule")) {
    if (!j["schedule"].is_string()) throw InputError(where, "schedule", "expected a string");
    c.schedule = j["schedule"].get<std::string>();
  }
  c.validate(where);
  return c;
}

int64_t OptimConfig::warmup_steps(int64_t total_steps) const {
  if (warmup >= 1) return static_cast<int64_t>(warmup);
  return static_cast<int64_t>(std::ceil(static_cast<double>(total_steps) * warmup));
}

double OptimConfig::lr_lambda(int64_t step, int64_t total) const {
  const int64_t w = warmup_steps(total);
  if (step < w) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, w));
  if (schedule == "constant") return 1.0;
  if (schedule == "linear")
    return std::max(0.0, static_cast<double>(total - step) / static_cast<double>(std::max<int64_t>(1, total - w)));
  // cosine, num_cycles = 0.5
  const double progress = static_cast<double>(step - w) / static_cast<double>(std::max<int64_t>(1, total - w));
  double factor = 0.5 * (1.0 + std::cos(std::numbers::pi * 0.5 * 2.0 * progress));
  factor = factor * (1 - min_lr_ratio) + min_lr_ratio;
  return std::max(0.0, factor);
}

}  // namespace crucible::trainer
