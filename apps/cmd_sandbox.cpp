// crucible sandbox run [limits] -- CMD... — run one command by hand in the code sandbox (verifiers/code/sandbox.h):
// the program's stdout/stderr are passed through, the verdict goes to stderr (or stdout as JSON with --json).
#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <iterator>

#include "apps/cli.h"
#include "core/error.h"
#include "core/json_io.h"
#include "verifiers/code/sandbox.h"

namespace crucible::cli {
namespace {

namespace vc = crucible::verifiers::code;

struct SandboxArgs {
  vc::SandboxLimits limits;
  std::vector<std::string> command;
  std::vector<std::string> files;  // host files copied into /work
  std::string stdin_file;          // "-" = our stdin
};

int run_in_sandbox(const Globals& g, const SandboxArgs& a) {
  vc::SandboxSpec spec;
  spec.argv = a.command;
  spec.limits = a.limits;
  if (!a.stdin_file.empty()) {
    if (a.stdin_file == "-") {
      spec.stdin_data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      spec.stdin_data = read_text_file(a.stdin_file);
    }
  }
  for (const auto& path : a.files) {
    auto slash = path.rfind('/');
    spec.files.push_back({slash == std::string::npos ? path : path.substr(slash + 1), read_text_file(path)});
  }
  vc::SandboxResult r = vc::run_sandboxed(spec);
  Json j = {{"verdict", vc::verdict_name(r.verdict)},
            {"exit_code", r.exit_code},
            {"signal", r.signal},
            {"wall_seconds", r.wall_seconds},
            {"cpu_seconds", r.cpu_seconds},
            {"peak_memory_kb", r.peak_memory_kb},
            {"stdout_truncated", r.out_truncated},
            {"stderr_truncated", r.err_truncated},
            {"message", r.message}};
  if (g.json) {
    j["stdout"] = r.out;
    j["stderr"] = r.err;
    print_json(j.dump(2, ' ', false, Json::error_handler_t::replace));
  } else {
    std::fwrite(r.out.data(), 1, r.out.size(), stdout);
    std::fflush(stdout);
    std::fwrite(r.err.data(), 1, r.err.size(), stderr);
    fmt::print(stderr, "sandbox: {}\n", j.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  if (r.verdict == vc::Verdict::sandbox_error) return static_cast<int>(ExitCode::run_failed);
  return 0;
}

void setup(CLI::App& app, Globals& g, Action& action) {
  auto* sandbox = cli::subcommand(app, "sandbox", "Run commands in the code sandbox");
  auto* run = sandbox->add_subcommand("run", "Run one command (absolute path inside the sandbox view) with limits");
  auto a = std::make_shared<SandboxArgs>();
  run->add_option("--cpu", a->limits.cpu_seconds, "CPU seconds")->capture_default_str();
  run->add_option("--wall", a->limits.wall_seconds, "wall-clock seconds (0: 3 x cpu + 2)")->capture_default_str();
  run->add_option("--memory-mb", a->limits.memory_mb, "address space per process, MiB")->capture_default_str();
  run->add_option("--work-mb", a->limits.work_dir_mb, "size of the writable /work tmpfs, MiB")->capture_default_str();
  run->add_option("--processes", a->limits.max_processes, "processes + threads")->capture_default_str();
  run->add_option("--open-files", a->limits.max_open_files, "open files")->capture_default_str();
  run->add_option("--stdout-bytes", a->limits.stdout_bytes, "stdout cap")->capture_default_str();
  run->add_option("--file", a->files, "host file copied into /work (read-only there); repeatable");
  run->add_option("--stdin", a->stdin_file, "file fed to the program's stdin ('-' = this stdin)");
  run->add_option("command", a->command, "the command after --")->required();
  run->callback([&g, &action, a] { action = [&g, a] { return run_in_sandbox(g, *a); }; });
}

CRUCIBLE_REGISTER_COMMAND(610, setup);

}  // namespace
}  // namespace crucible::cli
