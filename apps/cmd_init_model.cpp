// crucible init-model — a Llama-architecture HF folder with seeded random weights and a byte-level tokenizer
// (model/random_init.h): the start of models trained from scratch (`crucible demo`). Runs in crucible-torch, where
// the model layer (the safetensors writer, the config) is linked.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "apps/cli.h"
#include "model/random_init.h"

namespace crucible::cli {
namespace {

struct InitArgs {
  model::RandomLlamaSpec spec;
  std::string out;
};

int run_init(const Globals& g, const InitArgs& a) {
  model::write_random_llama(a.spec, a.out);
  const int64_t params = model::random_llama_parameters(a.spec);
  if (g.json) {
    print_json(nlohmann::json{{"out", a.out},
                              {"parameters", params},
                              {"vocab_size", model::byte_level_vocab().tokens.size()},
                              {"seed", a.spec.seed}}
                   .dump(2));
  } else {
    fmt::print("{}: Llama, {} layers, dim {}, {} heads ({} kv), ffn {}, {} parameters, seed {}\n", a.out,
               a.spec.layers, a.spec.hidden, a.spec.heads, a.spec.kv_heads, a.spec.ffn, params, a.spec.seed);
  }
  return 0;
}

CRUCIBLE_REGISTER_COMMAND(420, [](CLI::App& app, Globals& g, Action& action) {
  auto a = std::make_shared<InitArgs>();
  auto* cmd = app.add_subcommand(
      "init-model", "Write a Llama HF folder with seeded random weights and a byte-level tokenizer (ChatML, <think>)");
  cmd->add_option("--layers", a->spec.layers, "decoder layers")->capture_default_str();
  cmd->add_option("--dim", a->spec.hidden, "hidden size")->capture_default_str();
  cmd->add_option("--heads", a->spec.heads, "attention heads")->capture_default_str();
  cmd->add_option("--kv-heads", a->spec.kv_heads, "key/value heads (divides --heads)")->capture_default_str();
  cmd->add_option("--ffn", a->spec.ffn, "MLP intermediate size")->capture_default_str();
  cmd->add_option("--max-positions", a->spec.max_positions, "max_position_embeddings")->capture_default_str();
  cmd->add_option("--init-std", a->spec.init_std, "std of the normal init of linear and embedding weights")
      ->capture_default_str();
  cmd->add_option("--seed", a->spec.seed, "weight seed")->capture_default_str();
  cmd->add_option("--out", a->out, "output folder")->required();
  cmd->callback([&g, &action, a] { action = [&g, a] { return run_init(g, *a); }; });
});

}  // namespace
}  // namespace crucible::cli
