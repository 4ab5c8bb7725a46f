// Where the CLI's LibTorch part lives. `crucible` (the front) is torch-free: loading LibTorch costs 0.4–1.7 s, and
// grade, runs, report, score, regrade, data, tokenize and sandbox never run a model. The commands that do (eval
// --model, generate, serve) run in `crucible-torch`, the same CLI linked with the torch layers, installed beside the
// front: the front parses the command line, sees that it needs a model, and exec()s `crucible-torch` with the same
// arguments. exec keeps the pid, stdin/stdout/stderr, the environment and the signal mask, so a caller that waits
// on, signals or kills the process sees no difference. apps/README.md says why exec rather than dlopen.
#pragma once
#include <memory>

namespace crucible::harness {
class Backend;
struct NativeBackendOptions;
}  // namespace crucible::harness

namespace crucible::cli {

// What the torch-linked executable adds; the front has none.
struct TorchPart {
  std::unique_ptr<harness::Backend> (*make_native_backend)(const harness::NativeBackendOptions&);
};

// The torch part linked into this executable, or nullptr in the torch-free front.
const TorchPart* torch_part();

// main() records its arguments so that exec_torch_part can hand them on unchanged.
void remember_arguments(int argc, char** argv);

// Replaces this process with `crucible-torch` (beside this executable; $CRUCIBLE_TORCH_EXE overrides) and the same
// arguments. Returns only by throwing RunError (not built: CRUCIBLE_TORCH=OFF, or exec failed).
[[noreturn]] void exec_torch_part();

}  // namespace crucible::cli
