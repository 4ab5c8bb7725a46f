// `crucible train … --nproc-per-node N`: this process becomes a supervisor that starts N ranks of itself on this node
// (torch-free). Each rank is this executable again (/proc/self/exe) with the same arguments less
// --nproc-per-node, and the torchrun variables set: RANK = LOCAL_RANK = 0..N-1, WORLD_SIZE = LOCAL_WORLD_SIZE = N,
// MASTER_ADDR = 127.0.0.1, MASTER_PORT = $MASTER_PORT or a free port. The supervisor waits for every rank; the first
// rank that fails (non-zero exit, or killed by a signal) makes it stop the others (SIGTERM, then SIGKILL after a
// grace period) and return non-zero, naming that rank. Rank 0 alone writes stdout, the store and the checkpoints.
// SIGINT (Ctrl-C reaches every rank of the terminal's process group) is ignored by the supervisor, which waits for
// the ranks to stop at a step boundary.
#pragma once
#include <string>
#include <vector>

namespace crucible::trainer::dist {

// The arguments this process was started with (/proc/self/cmdline).
std::vector<std::string> own_arguments();

// `args` without "--nproc-per-node N" / "--nproc-per-node=N".
std::vector<std::string> without_nproc_flag(const std::vector<std::string>& args);

// Runs the N ranks and returns the exit code (0: all ranks succeeded). InputError when this process already runs
// under a launcher (RANK or SLURM_PROCID with SLURM_NTASKS > 1 set): one or the other.
int launch_local_ranks(int nproc);

// A port free now on the loopback interface (the kernel's choice; RunError when none). Another process could take
// it before rank 0 binds it; MASTER_PORT pins it instead.
int free_port();

// A rank other than 0 has no TrainRun (whose SIGINT handler sets the stop flag): this handler does the same for it,
// so Ctrl-C stops every rank at the same step boundary instead of killing the ranks without rank 0's final save.
void install_sigint_flag();
bool sigint_received();

}  // namespace crucible::trainer::dist
