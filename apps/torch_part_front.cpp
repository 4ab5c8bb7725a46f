// Linked into the torch-free `crucible` only. `generate`, `serve` and `train` always run a model: the front registers
// them as hand-overs that parse nothing (their flags, --help included, are crucible-torch's, defined once in
// cmd_generate.cpp, cmd_serve.cpp and cmd_train*.cpp) and exec crucible-torch with the command line as it was typed.
// Their one-line descriptions are repeated here so that `crucible --help` lists them without loading torch.
#include "apps/cli.h"
#include "apps/torch_part.h"

namespace crucible::cli {

const TorchPart* torch_part() { return nullptr; }

namespace {

void add_hand_over(CLI::App& app, Action& action, const char* name, const char* description) {
  auto* cmd = app.add_subcommand(name, description + std::string(" [runs in crucible-torch]"));
  cmd->set_help_flag();  // `crucible generate --help` is answered by crucible-torch
  cmd->allow_extras();
  cmd->prefix_command();
  cmd->fallthrough(false);  // every argument after the name is the command's own
  cmd->callback([&action] { action = []() -> int { exec_torch_part(); }; });
}

CRUCIBLE_REGISTER_COMMAND(300, [](CLI::App& app, Globals&, Action& action) {
  add_hand_over(app, action, "generate", "Generate text from a model (HF folder, GGUF or llama2.c .bin)");
});
CRUCIBLE_REGISTER_COMMAND(400, [](CLI::App& app, Globals&, Action& action) {
  add_hand_over(app, action, "train", "Train a model: sft (supervised fine-tuning), grpo (reinforcement learning)");
});
CRUCIBLE_REGISTER_COMMAND(420, [](CLI::App& app, Globals&, Action& action) {
  add_hand_over(app, action, "init-model",
                "Write a Llama HF folder with seeded random weights and a byte-level tokenizer (ChatML, <think>)");
});
CRUCIBLE_REGISTER_COMMAND(350, [](CLI::App& app, Globals&, Action& action) {
  add_hand_over(app, action, "serve",
                "Serve a model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /v1/models)");
});

}  // namespace
}  // namespace crucible::cli
