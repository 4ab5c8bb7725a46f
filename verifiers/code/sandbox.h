// A sandbox for running one untrusted program (today `python3`; any interpreter or compiler under /usr can follow).
//
// Environment it was designed for (checked 2026-11-23, the same in CI): crucible runs as root on a 2-core x86-64
// Linux 6.x VM without a GPU. `unshare`/clone with CLONE_NEWUSER|NEWPID|NEWNET|NEWNS|NEWIPC|NEWUTS works (also for
// root, nested in the VM); cgroup v2 is only a bare `unified` mount next to cgroup v1 controllers we do not own (the
// memory controller is already a delegated child of the host), so cgroups are not a dependable limit here; bubblewrap
// 0.8 runs.
//
// Design: we clone the namespaces ourselves instead of exec'ing bubblewrap. Reasons: (1) the process cap. Root
// ignores RLIMIT_NPROC, and bwrap keeps the caller's uid; we map the sandbox to two host uids of its own (61000 =
// namespace root, 61001 = the program; SandboxSpec::host_uid), and since Linux 5.14 RLIMIT_NPROC is counted per
// (user namespace, uid), so the cap counts exactly the tasks (processes and threads) of this one run, no cgroup.
// (2) Our own pid 1: a tiny init (code below, no exec) reaps orphans and reports the program's exit status on a
// pipe only it holds; when it exits the kernel SIGKILLs every process left in the pid namespace, so teardown is total
// and needs no bookkeeping.
// (3) One exec per run instead of two, which matters at thousands of runs per minute. (Boost.Process, named in the
// issue, cannot create namespaces or run code between clone and exec, so it has no part here.)
//
// What a run gets:
//   - namespaces: user, pid, network (a fresh one: only a downed loopback, so no network at all), mount, ipc, uts,
//     cgroup;
//   - a filesystem built from nothing: a read-only tmpfs root holding a read-only, nosuid bind of /usr (plus the
//     /bin, /lib, /lib64, /sbin symlinks) with /usr/local and /usr/lib/python3/dist-packages hidden (the program
//     gets the interpreter and its standard library, not the host's tools and packages), a minimal /dev (null, zero, full, random, urandom; no /dev/shm), a
//     read-only /proc of the new pid namespace, and /work (= /tmp) a private tmpfs of `work_dir_mb`, the only
//     writable place. Nothing of /etc, /home, /root, /tmp or the host's /proc is visible;
//   - an empty environment and only fds 0, 1, 2 (stdin from a memfd, stdout/stderr pipes read by the parent);
//   - uid 1000 inside / 61001 outside with no capabilities (bounding set emptied), no_new_privs, and a seccomp filter
//     returning EPERM for ptrace, mount/pivot_root/chroot, unshare/setns/namespace clone flags, kexec, reboot,
//     keyctl, bpf, perf_event_open, io_uring, module loading, clock setting, process_vm_*, and socket() outside
//     AF_UNIX; non-native syscall ABIs (i386, x32) kill the process;
//   - a CPU limit and a resident-memory limit on all processes of the run together (sampled from /proc every
//     10 ms), and rlimits: CPU (per process, backstop), address space (per process), file size, open files,
//     core = 0, stack, and RLIMIT_NPROC (processes + threads of the run, see above);
//   - a wall-clock limit after which the whole namespace is SIGKILLed; output caps on stdout/stderr, read
//     concurrently by the parent so a chatty program can never deadlock on a full pipe;
//   - memory that cannot escape: no /dev/shm, and every tmpfs is size-bounded (work dir + 64 KiB of /dev);
//   - death with crucible: the init has a parent-death SIGKILL, so killing crucible mid-run ends the run too.
//
// What it does NOT cover:
//   - total memory without a cgroup: each process has memory_mb of address space, and the resident sum of the run is
//     sampled every 10 ms and killed past memory_mb, so a fork bomb of allocators can overshoot by what it touches
//     in 10 ms (plus work_dir_mb of tmpfs);
//   - the CPU limit of the whole tree is enforced by sampling every 10 ms (RLIMIT_CPU, per process and in whole
//     seconds, is the backstop), so a run may overshoot it by one sampling interval;
//   - a crucible killed in the microseconds between clone() and the init's prctl() leaves that run to finish on its
//     own (still boxed, but without its wall-clock limit);
//   - kernel vulnerabilities reachable through the allowed syscalls (the usual container caveat);
//   - covert timing channels, and CPU contention with other runs (verdicts are judged on CPU time, see below);
//   - processes of one run are not isolated from each other: they share a uid, so one can signal another, and only a
//     process that makes itself non-dumpable keeps the others out of its /proc/PID/{mem,fd,environ}. The drivers
//     build on that (code_grader.h: the assertion form's checker goes non-dumpable, forks the candidate off, and
//     only then reads the tests; the stdin and functional forms compare outside the sandbox).
//
// Verdict policy: time_limit when the CPU time exceeded `cpu_seconds` (judged on CPU, so machine load does not
// flip it), or the wall-clock limit (default 3 x cpu + 2 s, generous on purpose) ran out; memory_limit when the
// program died of MemoryError / failed allocation under the address-space limit; output_limit when a cap was hit;
// runtime_error for any other non-zero exit or signal; sandbox_error when the sandbox itself could not be set up.
// A clean exit is `pass` at this level; drivers turn a wrong output into wrong_answer.
//
// Thread-safe: run_sandboxed() may be called concurrently from any number of threads.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crucible::verifiers::code {

enum class Verdict { pass, wrong_answer, time_limit, memory_limit, output_limit, runtime_error, sandbox_error };
std::string_view verdict_name(Verdict v);

struct SandboxLimits {
  double cpu_seconds = 6.0;      // CPU time of all processes of the run together
  double wall_seconds = 0.0;     // 0: 3 x cpu_seconds + 2
  int64_t memory_mb = 1024;      // address space per process (RLIMIT_AS), and resident memory of the whole run
  int64_t work_dir_mb = 32;      // size of the private writable tmpfs (/work, also /tmp)
  int64_t file_size_mb = 16;     // RLIMIT_FSIZE
  int64_t stack_mb = 16;         // RLIMIT_STACK; also each thread's stack reservation, which counts in memory_mb
  int max_processes = 64;        // processes + threads of the run (RLIMIT_NPROC in its own user namespace)
  int max_open_files = 256;      // RLIMIT_NOFILE
  int64_t stdout_bytes = 8 << 20;
  int64_t stderr_bytes = 64 << 10;

  double effective_wall_seconds() const { return wall_seconds > 0 ? wall_seconds : 3 * cpu_seconds + 2; }
};

struct SandboxFile {
  std::string name;     // a plain file name inside /work (no '/')
  std::string content;
};

struct SandboxSpec {
  std::vector<std::string> argv;   // argv[0] is an absolute path inside the sandbox view (e.g. /usr/bin/python3)
  std::string stdin_data;
  std::vector<SandboxFile> files;  // written to /work before the program starts, read-only to it
  SandboxLimits limits;
  // Host uid/gid of namespace root (the init, which mounts) and host_uid + 1 of the program. No host file belongs to
  // them, and no capability they hold reaches outside the run. Tests pick their own to count leftovers exactly.
  unsigned host_uid = 61000;
};

struct SandboxResult {
  Verdict verdict = Verdict::sandbox_error;
  int exit_code = -1;            // when the program exited
  int signal = 0;                // when it was killed by a signal (SIGKILL also when we killed it)
  double wall_seconds = 0;
  double cpu_seconds = 0;        // user + system of the program and the children it waited for
  int64_t peak_memory_kb = 0;    // largest VmHWM of the program's processes, sampled every 10 ms (a short-lived
                                 // child's peak between samples can be missed)
  std::string out, err;          // capped at the limits
  bool out_truncated = false, err_truncated = false;
  std::string message;           // why, for sandbox_error and for limits hit
};

// Runs spec.argv inside a fresh sandbox and returns when every process of the run is gone.
SandboxResult run_sandboxed(const SandboxSpec& spec);

// Whether this machine can create the sandbox at all (namespaces, uid maps); the reason when it cannot.
bool sandbox_available(std::string* why = nullptr);

}  // namespace crucible::verifiers::code
