#include "trainer/grpo_config.h"

#include "core/error.h"

namespace crucible::trainer {

namespace {

template <typename E, size_t N>
E parse_enum(const std::string& s, const char* field, const std::pair<const char*, E> (&table)[N]) {
  std::string known;
  for (const auto& [name, value] : table) {
    if (s == name) return value;
    known += (known.empty() ? "" : ", ") + std::string(name);
  }
  throw InputError("command line", field, "unknown value '" + s + "' (expected one of: " + known + ")");
}

const std::pair<const char*, LossType> kLossTypes[] = {{"grpo", LossType::grpo},       {"bnpo", LossType::bnpo},
                                                       {"dr_grpo", LossType::dr_grpo}, {"dapo", LossType::dapo},
                                                       {"cispo", LossType::cispo},     {"sapo", LossType::sapo}};
const std::pair<const char*, ImportanceLevel> kLevels[] = {{"token", ImportanceLevel::token},
                                                           {"sequence", ImportanceLevel::sequence}};
const std::pair<const char*, ScaleRewards> kScales[] = {
    {"group", ScaleRewards::group}, {"batch", ScaleRewards::batch}, {"none", ScaleRewards::none}};
const std::pair<const char*, IsMode> kIsModes[] = {{"token_truncate", IsMode::token_truncate},
                                                   {"token_mask", IsMode::token_mask},
                                                   {"sequence_truncate", IsMode::sequence_truncate},
                                                   {"sequence_mask", IsMode::sequence_mask}};

template <typename E, size_t N>
const char* enum_name(E v, const std::pair<const char*, E> (&table)[N]) {
  for (const auto& [name, value] : table)
    if (value == v) return name;
  return "?";
}

}  // namespace

LossType parse_loss_type(const std::string& s) { return parse_enum(s, "--loss-type", kLossTypes); }
ImportanceLevel parse_importance_level(const std::string& s) { return parse_enum(s, "--importance-level", kLevels); }
ScaleRewards parse_scale_rewards(const std::string& s) { return parse_enum(s, "--scale-rewards", kScales); }
IsMode parse_is_mode(const std::string& s) { return parse_enum(s, "--is-mode", kIsModes); }
const char* loss_type_name(LossType t) { return enum_name(t, kLossTypes); }
const char* importance_level_name(ImportanceLevel l) { return enum_name(l, kLevels); }
const char* scale_rewards_name(ScaleRewards s) { return enum_name(s, kScales); }
const char* is_mode_name(IsMode m) { return enum_name(m, kIsModes); }

nlohmann::json to_json(const GrpoLossConfig& c) {
  nlohmann::json j = {{"loss_type", loss_type_name(c.loss_type)},
                      {"importance_level", importance_level_name(c.importance_level)},
                      {"epsilon", c.epsilon_low},
                      {"epsilon_high", c.epsilon_high},
                      {"beta", c.beta},
                      {"top_entropy_quantile", c.top_entropy_quantile},
                      {"max_completion_length", c.max_completion_length},
                      {"sapo_temperature_pos", c.sapo_temperature_pos},
                      {"sapo_temperature_neg", c.sapo_temperature_neg}};
  j["delta"] = c.delta ? nlohmann::json(*c.delta) : nlohmann::json(nullptr);
  return j;
}

}  // namespace crucible::trainer
