// Where this process stands in a data-parallel job, read from the environment the usual launchers set (torch-free):
//
//   torchrun / crucible --nproc-per-node:  RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT
//   Slurm (srun, one task per rank):       SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, the first host of
//                                          SLURM_JOB_NODELIST (MASTER_ADDR / MASTER_PORT override it when set)
//
// torchrun's variables win when both are present (torchrun inside an sbatch allocation). Neither: one process.
// A variable that is present but unusable is an InputError naming it: a job that silently trained as world size 1
// would waste the allocation.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace crucible::trainer::dist {

struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;               // the device index on this node (cuda:LOCAL_RANK)
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;          // torchrun's default
  std::string source = "single";    // single | torchrun | slurm
  bool distributed() const { return world_size > 1; }
};

using GetEnv = std::function<std::optional<std::string>(const std::string&)>;

// From the process environment (std::getenv).
DistEnv dist_env();
// From any lookup (tests pass a map).
DistEnv dist_env(const GetEnv& get);

// The first host of a Slurm node list: "node01" -> node01, "node[01-04,07],gpu5" -> node01,
// "a-[3,5]-x[2-4]" -> a-3-x2 (every bracket takes its first element, zero padding kept). InputError on a malformed
// list, naming SLURM_JOB_NODELIST.
std::string first_slurm_host(const std::string& nodelist);

}  // namespace crucible::trainer::dist
