// The sandbox: parent side (clone, uid maps, output pump, limits, verdict) and the child side (pid 1 of the run:
// mounts, then the program). See sandbox.h for what is and is not covered.
//
// The child side (init and program until its execve) shares the memory of a multi-threaded process (CLONE_VM: no
// page-table copy, which for a process with LibTorch mapped costs tens of milliseconds per run). So everything after
// clone reads only data prepared before it and makes plain syscalls: no allocation, no stdio, no glibc fork(), and
// credentials change through raw syscalls (glibc's setresuid would try to synchronise crucible's other threads).
// errno is the calling thread's (shared TLS); it only ever feeds an error message.
#include "verifiers/code/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

namespace crucible::verifiers::code {

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::pass: return "pass";
    case Verdict::wrong_answer: return "wrong_answer";
    case Verdict::time_limit: return "time_limit";
    case Verdict::memory_limit: return "memory_limit";
    case Verdict::output_limit: return "output_limit";
    case Verdict::runtime_error: return "runtime_error";
    case Verdict::sandbox_error: return "sandbox_error";
  }
  return "sandbox_error";
}

namespace {

constexpr unsigned kInnerUserId = 1000;  // the program's uid and gid inside; namespace root is 0

// Fixed descriptor numbers inside the child.
constexpr int kReportFd = 3;  // init -> parent: setup failures and the program's wait status
constexpr int kSyncFd = 4;    // parent -> init: uid maps are written

enum Stage : int32_t {
  stage_none = 0, stage_sync, stage_setgroups, stage_setid, stage_mount_private, stage_mount_root, stage_mount_usr,
  stage_mount_work, stage_mount_dev, stage_pivot, stage_mount_proc, stage_write_files, stage_remount_ro, stage_fork,
  stage_child_setup, stage_rlimit, stage_caps, stage_seccomp, stage_exec
};
const char* stage_name(int32_t s) {
  static const char* names[] = {"none",        "sync",        "setgroups",  "setid",     "mount private",
                                "mount root",  "mount /usr",  "mount /work", "mount /dev", "pivot_root",
                                "mount /proc", "write files", "remount read-only", "fork", "child setup",
                                "rlimit",      "capabilities", "seccomp",    "exec"};
  return s >= 0 && s < static_cast<int32_t>(sizeof(names) / sizeof(names[0])) ? names[s] : "?";
}

struct Report {
  int32_t kind = 0;    // 1 = setup failure, 2 = program finished
  int32_t stage = 0;
  int32_t err = 0;
  int32_t status = 0;  // wait status of the program
  int64_t cpu_usec = 0;     // user + system of every process the init reaped (the program and its orphans)
};

struct ChildFile {
  const char* path;  // absolute inside the new root (before pivot: under the staging dir)
  const char* data;
  size_t size;
};

// Everything the child needs, prepared before clone (the child must not allocate).
struct ChildPlan {
  int stdin_fd, stdout_fd, stderr_fd, report_fd, sync_fd;
  const char* staging;  // where the new root is assembled before pivot_root
  const char* work_opts;
  std::deque<std::string> strings;  // owns every path below (a deque: c_str() pointers stay valid)
  std::vector<const char*> mkdirs;  // under staging, in order
  std::vector<std::pair<const char*, const char*>> symlinks;  // (target, linkpath)
  std::vector<std::pair<const char*, const char*>> dev_binds;  // (host device, file in staging)
  const char* usr_src;
  std::vector<const char*> hidden;  // directories under the /usr bind covered by an empty tmpfs
  const char* usr_dst;
  const char* work_dst;
  const char* tmp_dst;
  const char* dev_dst;
  const char* proc_dst;
  const char* old_root;  // inside staging, relative after pivot
  std::vector<ChildFile> files;  // paths after pivot (/work/...)
  const char* const* argv;
  void* program_stack_top;
  struct rlimit rl_cpu, rl_as, rl_fsize, rl_nofile, rl_core, rl_nproc, rl_stack;
  struct sock_fprog seccomp;
};

[[noreturn]] void child_fail(int report_fd, Stage stage) {
  Report r;
  r.kind = 1;
  r.stage = stage;
  r.err = errno;
  (void)!write(report_fd, &r, sizeof r);
  _exit(120);
}

bool write_all_raw(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// The program: pid 2 of the run. Drops every privilege, then execs.
[[noreturn]] void exec_program(const ChildPlan& p) {
  if (chdir("/work") != 0) child_fail(kReportFd, stage_child_setup);
  setsid();
  if (setrlimit(RLIMIT_CPU, &p.rl_cpu) || setrlimit(RLIMIT_AS, &p.rl_as) || setrlimit(RLIMIT_FSIZE, &p.rl_fsize) ||
      setrlimit(RLIMIT_NOFILE, &p.rl_nofile) || setrlimit(RLIMIT_CORE, &p.rl_core) ||
      setrlimit(RLIMIT_STACK, &p.rl_stack))
    child_fail(kReportFd, stage_rlimit);
  // Empty the bounding set while we still hold CAP_SETPCAP, then become the unprivileged user: the switch from
  // namespace root to a non-zero uid clears the remaining capability sets.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) child_fail(kReportFd, stage_caps);
  }
  if (syscall(SYS_setresgid, kInnerUserId, kInnerUserId, kInnerUserId) != 0) child_fail(kReportFd, stage_setid);
  if (syscall(SYS_setresuid, kInnerUserId, kInnerUserId, kInnerUserId) != 0) child_fail(kReportFd, stage_setid);
  // RLIMIT_NPROC counts tasks of (this user namespace, this uid): set it after the uid switch so the count starts
  // with this one process.
  if (setrlimit(RLIMIT_NPROC, &p.rl_nproc) != 0) child_fail(kReportFd, stage_rlimit);
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capset, &hdr, data) != 0) child_fail(kReportFd, stage_caps);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(kReportFd, stage_seccomp);
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p.seccomp) != 0) child_fail(kReportFd, stage_seccomp);
  static char* const empty_env[] = {nullptr};
  execve(p.argv[0], const_cast<char* const*>(p.argv), empty_env);
  child_fail(kReportFd, stage_exec);
}

int program_main(void* arg) { exec_program(*static_cast<const ChildPlan*>(arg)); }

// pid 1 of the run.
int init_main(void* arg) {
  const ChildPlan& p = *static_cast<const ChildPlan*>(arg);
  // Another thread's pipes may have been copied into our fd table at clone: keep only ours, at fixed numbers.
  int fds[5] = {p.stdin_fd, p.stdout_fd, p.stderr_fd, p.report_fd, p.sync_fd};
  for (int& fd : fds) fd = fcntl(fd, F_DUPFD, 64);
  for (int i = 0; i < 5; ++i) {
    if (fds[i] < 0 || dup2(fds[i], i) < 0) _exit(121);
  }
  syscall(SYS_close_range, 5, ~0U, 0);
  fcntl(kReportFd, F_SETFD, FD_CLOEXEC);

  char byte;
  if (read(kSyncFd, &byte, 1) != 1) child_fail(kReportFd, stage_sync);
  close(kSyncFd);
  if (syscall(SYS_setgroups, 0, nullptr) != 0) child_fail(kReportFd, stage_setgroups);
  if (syscall(SYS_setresgid, 0, 0, 0) != 0 || syscall(SYS_setresuid, 0, 0, 0) != 0)
    child_fail(kReportFd, stage_setid);
  // If crucible dies (and with it the thread that cloned us), nobody enforces the limits any more: die too, which
  // takes the whole run with us. The kernel's signal counts as coming from an ancestor namespace, so pid 1 gets it.
  // Set after the credential change, which clears it.
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  sethostname("sandbox", 7);

  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) child_fail(kReportFd, stage_mount_private);
  if (mount("sandbox-root", p.staging, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755") != 0)
    child_fail(kReportFd, stage_mount_root);
  for (const char* d : p.mkdirs) {
    if (mkdir(d, 0755) != 0 && errno != EEXIST) child_fail(kReportFd, stage_mount_root);
  }
  for (const auto& [target, link] : p.symlinks) {
    if (symlink(target, link) != 0) child_fail(kReportFd, stage_mount_root);
  }
  if (mount(p.usr_src, p.usr_dst, nullptr, MS_BIND | MS_REC, nullptr) != 0) child_fail(kReportFd, stage_mount_usr);
  if (mount(nullptr, p.usr_dst, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0)
    child_fail(kReportFd, stage_mount_usr);
  for (const char* hidden : p.hidden) {
    if (mount("sandbox-empty", hidden, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0755") != 0)
      child_fail(kReportFd, stage_mount_usr);
  }
  if (mount("sandbox-work", p.work_dst, "tmpfs", MS_NOSUID | MS_NODEV, p.work_opts) != 0)
    child_fail(kReportFd, stage_mount_work);
  if (mount(p.work_dst, p.tmp_dst, nullptr, MS_BIND, nullptr) != 0) child_fail(kReportFd, stage_mount_work);
  if (mount("sandbox-dev", p.dev_dst, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755") != 0)
    child_fail(kReportFd, stage_mount_dev);
  for (const auto& [host, file] : p.dev_binds) {
    int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) child_fail(kReportFd, stage_mount_dev);
    close(fd);
    if (mount(host, file, nullptr, MS_BIND, nullptr) != 0) child_fail(kReportFd, stage_mount_dev);
  }
  // proc must be mounted while the host's /proc is still visible: the kernel refuses a new proc mount in a user
  // namespace whose mount tree holds no fully visible proc to compare it with.
  if (mount("proc", p.proc_dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, nullptr) != 0)
    child_fail(kReportFd, stage_mount_proc);
  if (syscall(SYS_pivot_root, p.staging, p.old_root) != 0) child_fail(kReportFd, stage_pivot);
  if (chdir("/") != 0) child_fail(kReportFd, stage_pivot);
  if (umount2("/.old", MNT_DETACH) != 0 || rmdir("/.old") != 0) child_fail(kReportFd, stage_pivot);
  // Owned by namespace root, mode 0644, in a sticky 1777 dir: the program can read them but neither change nor
  // delete them.
  if (chmod("/work", 01777) != 0) child_fail(kReportFd, stage_write_files);
  for (const ChildFile& f : p.files) {
    int fd = open(f.path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0 || !write_all_raw(fd, f.data, f.size)) child_fail(kReportFd, stage_write_files);
    close(fd);
  }
  if (mount(nullptr, "/dev", nullptr, MS_REMOUNT | MS_NOSUID | MS_NOEXEC | MS_RDONLY, nullptr) != 0)
    child_fail(kReportFd, stage_remount_ro);
  if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_RDONLY, nullptr) != 0)
    child_fail(kReportFd, stage_remount_ro);

  // The program shares our memory until its execve (vfork semantics, we sleep meanwhile): copying the page tables
  // of a process with LibTorch mapped costs tens of milliseconds per run.
  pid_t program =
      clone(program_main, p.program_stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, const_cast<ChildPlan*>(&p));
  if (program < 0) child_fail(kReportFd, stage_fork);
  close(0);
  close(1);
  close(2);

  // Reap everything (orphans are re-parented to us) until the program itself ends; then leave, which makes the
  // kernel kill whatever the program left behind.
  // The init's own rusage would count itself, a copy of crucible; it sums the CPU of what it reaps instead.
  Report r;
  r.kind = 2;
  for (;;) {
    int status = 0;
    struct rusage ru;
    pid_t pid = wait4(-1, &status, __WALL, &ru);
    if (pid < 0) {
      if (errno == EINTR) continue;
      child_fail(kReportFd, stage_fork);
    }
    r.cpu_usec += (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    if (pid == program) {
      r.status = status;
      (void)!write(kReportFd, &r, sizeof r);
      _exit(0);
    }
  }
}

std::vector<sock_filter> build_seccomp_filter() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) throw std::runtime_error("seccomp_init failed");
  const int eperm = SCMP_ACT_ERRNO(EPERM);
  int denied[] = {SCMP_SYS(ptrace),          SCMP_SYS(mount),           SCMP_SYS(umount2),
                  SCMP_SYS(pivot_root),      SCMP_SYS(chroot),          SCMP_SYS(unshare),
                  SCMP_SYS(setns),           SCMP_SYS(kexec_load),      SCMP_SYS(kexec_file_load),
                  SCMP_SYS(reboot),          SCMP_SYS(keyctl),          SCMP_SYS(add_key),
                  SCMP_SYS(request_key),     SCMP_SYS(bpf),             SCMP_SYS(perf_event_open),
                  SCMP_SYS(init_module),     SCMP_SYS(finit_module),    SCMP_SYS(delete_module),
                  SCMP_SYS(swapon),          SCMP_SYS(swapoff),         SCMP_SYS(acct),
                  SCMP_SYS(settimeofday),    SCMP_SYS(clock_settime),   SCMP_SYS(adjtimex),
                  SCMP_SYS(clock_adjtime),   SCMP_SYS(sethostname),     SCMP_SYS(setdomainname),
                  SCMP_SYS(iopl),            SCMP_SYS(ioperm),          SCMP_SYS(process_vm_readv),
                  SCMP_SYS(process_vm_writev), SCMP_SYS(userfaultfd),   SCMP_SYS(open_by_handle_at),
                  SCMP_SYS(name_to_handle_at), SCMP_SYS(quotactl),      SCMP_SYS(syslog),
                  SCMP_SYS(vhangup),         SCMP_SYS(io_uring_setup),  SCMP_SYS(io_uring_enter),
                  SCMP_SYS(io_uring_register), SCMP_SYS(fanotify_init), SCMP_SYS(move_mount),
                  SCMP_SYS(fsopen),          SCMP_SYS(fsmount),         SCMP_SYS(fsconfig),
                  SCMP_SYS(fspick),          SCMP_SYS(open_tree),       SCMP_SYS(mount_setattr),
                  SCMP_SYS(pidfd_getfd),     SCMP_SYS(lookup_dcookie),  SCMP_SYS(uselib),
                  SCMP_SYS(personality),     SCMP_SYS(mknod),           SCMP_SYS(mknodat)};
  int rc = 0;
  for (int sys : denied) rc |= seccomp_rule_add(ctx, eperm, sys, 0);
  // clone3 passes its flags in memory seccomp cannot read: refuse it with ENOSYS so glibc falls back to clone(),
  // whose flags we can check.
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  // Multiple rules for one syscall are OR'ed: any namespace flag makes clone fail.
  for (uint64_t flag : {CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUTS,
                        CLONE_NEWCGROUP}) {
    rc |= seccomp_rule_add(ctx, eperm, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
  }
  // No network family at all (the network namespace already has nothing to reach; this also keeps netlink and
  // packet sockets away from the kernel's less-travelled code).
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
  rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
  // Syscalls of other ABIs (int 0x80, x32) are not in this filter: kill on sight.
  rc |= seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc != 0) {
    seccomp_release(ctx);
    throw std::runtime_error("seccomp_rule_add failed");
  }
  int mfd = memfd_create("crucible-seccomp", MFD_CLOEXEC);
  if (mfd < 0 || seccomp_export_bpf(ctx, mfd) != 0) {
    if (mfd >= 0) close(mfd);
    seccomp_release(ctx);
    throw std::runtime_error("seccomp_export_bpf failed");
  }
  seccomp_release(ctx);
  off_t size = lseek(mfd, 0, SEEK_END);
  std::vector<sock_filter> prog(static_cast<size_t>(size) / sizeof(sock_filter));
  ssize_t got = pread(mfd, prog.data(), static_cast<size_t>(size), 0);
  close(mfd);
  if (got != size || prog.empty()) throw std::runtime_error("seccomp filter export was short");
  return prog;
}

// Built once per process: run_sandboxed() is called from many threads.
const std::vector<sock_filter>* seccomp_program(std::string* error) {
  static std::once_flag once;
  static std::vector<sock_filter> prog;
  static std::string failure;
  std::call_once(once, [] {
    try {
      prog = build_seccomp_filter();
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  if (!failure.empty()) {
    *error = failure;
    return nullptr;
  }
  return &prog;
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

bool make_pipe(Fd& read_end, Fd& write_end) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return false;
  read_end.reset(p[0]);
  write_end.reset(p[1]);
  return true;
}

bool write_text(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write_all_raw(fd, text.data(), text.size());
  close(fd);
  return ok;
}

struct rlimit make_rlimit(rlim_t soft, rlim_t hard) { return {soft, hard}; }

// CPU seconds and the largest VmHWM of the processes under `init`, read from the host's /proc. Needed because
// (1) processes killed by the wall clock are never reaped by the init, so its rusage misses them, and (2) ru_maxrss
// survives execve: a program forked from a copy of crucible (hundreds of MiB with torch mapped) would report
// crucible's size. VmHWM belongs to the post-exec address space, so it is the program's own peak.
struct TreeStats {
  double cpu_seconds = 0;
  int64_t peak_kb = 0;    // largest VmHWM of one process
  int64_t rss_kb = 0;     // sum of VmRSS now (shared pages count once per process: an over-estimate)
};
TreeStats tree_stats(pid_t init) {
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  // Our executable by identity, not by name: a binary replaced on disk while an eval runs (a rebuild, an upgrade)
  // makes /proc/PID/exe read "... (deleted)", and a name comparison then counted the init's resident memory (all of
  // crucible's, model included) against the program's limit.
  static const std::pair<dev_t, ino_t> self_exe = [] {
    struct stat s {};
    if (::stat("/proc/self/exe", &s) != 0) return std::pair<dev_t, ino_t>{0, 0};
    return std::pair<dev_t, ino_t>{s.st_dev, s.st_ino};
  }();
  auto runs_our_executable = [](const std::string& proc_dir) {
    struct stat s {};
    return ::stat((proc_dir + "/exe").c_str(), &s) == 0 && std::pair<dev_t, ino_t>{s.st_dev, s.st_ino} == self_exe;
  };
  TreeStats st;
  std::vector<pid_t> stack = {init};
  while (!stack.empty()) {
    pid_t pid = stack.back();
    stack.pop_back();
    const std::string dir = "/proc/" + std::to_string(pid);
    std::ifstream stat(dir + "/stat");
    std::string line;
    if (std::getline(stat, line)) {
      auto close_paren = line.rfind(')');
      if (close_paren != std::string::npos && close_paren + 2 < line.size()) {
        std::istringstream fields(line.substr(close_paren + 2));
        std::string f;
        double sum = 0;  // utime(14) stime(15) cutime(16) cstime(17); the stream starts at field 3
        for (int i = 3; i <= 17 && (fields >> f); ++i) {
          if (i >= 14) sum += std::strtod(f.c_str(), nullptr);
        }
        st.cpu_seconds += sum / ticks;
      }
    }
    // Skip the init and a program not yet past execve: both still share crucible's address space.
    if (pid != init && !runs_our_executable(dir)) {
      std::ifstream status(dir + "/status");
      while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) {
          st.peak_kb = std::max<int64_t>(st.peak_kb, std::strtoll(line.c_str() + 6, nullptr, 10));
        } else if (line.rfind("VmRSS:", 0) == 0) {
          st.rss_kb += std::strtoll(line.c_str() + 6, nullptr, 10);
          break;  // VmRSS follows VmHWM in /proc/PID/status
        }
      }
    }
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(dir + "/task", ec)) {
      std::ifstream children(task.path() / "children");
      pid_t child;
      while (children >> child) stack.push_back(child);
    }
  }
  return st;
}

bool stderr_says_memory_error(const std::string& err) {
  return err.find("MemoryError") != std::string::npos ||
         err.find("Cannot allocate memory") != std::string::npos ||
         err.find("std::bad_alloc") != std::string::npos ||
         err.find("out of memory") != std::string::npos;
}

}  // namespace

SandboxResult run_sandboxed(const SandboxSpec& spec) {
  SandboxResult res;
  const SandboxLimits& lim = spec.limits;
  auto fail = [&res](std::string why) {
    res.verdict = Verdict::sandbox_error;
    res.message = std::move(why);
    return res;
  };
  if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0][0] != '/')
    return fail("argv[0] must be an absolute path inside the sandbox");
  for (const auto& f : spec.files) {
    if (f.name.empty() || f.name.find('/') != std::string::npos || f.name == "." || f.name == "..")
      return fail("sandbox file name must be a plain name: '" + f.name + "'");
  }
  std::string seccomp_error;
  const std::vector<sock_filter>* filter = seccomp_program(&seccomp_error);
  if (!filter) return fail("seccomp: " + seccomp_error);

  // ---- the plan for the child, fully built before clone
  ChildPlan plan{};
  auto keep = [&plan](std::string s) -> const char* {
    plan.strings.push_back(std::move(s));
    return plan.strings.back().c_str();
  };
  // The staging mount point only has to exist on the host; the tmpfs mounted on it is private to the run.
  const std::string staging = "/tmp";
  plan.staging = keep(staging);
  plan.work_opts = keep("size=" + std::to_string(lim.work_dir_mb) + "m,mode=01777,nr_inodes=4096");
  for (const char* d : {"usr", "dev", "proc", "work", "tmp", ".old"}) plan.mkdirs.push_back(keep(staging + "/" + d));
  // Debian is merged-/usr: /bin, /lib, /lib64, /sbin are symlinks into /usr; mirror whichever exist.
  for (const char* l : {"bin", "lib", "lib64", "sbin", "libx32", "lib32"}) {
    std::error_code ec;
    std::filesystem::path host = std::string("/") + l;
    if (std::filesystem::is_symlink(host, ec)) {
      auto target = std::filesystem::read_symlink(host, ec);
      if (!ec && target.string().rfind("usr/", 0) == 0)
        plan.symlinks.emplace_back(keep(target.string()), keep(staging + "/" + l));
    }
  }
  for (const char* d : {"null", "zero", "full", "random", "urandom"})
    plan.dev_binds.emplace_back(keep(std::string("/dev/") + d), keep(staging + "/dev/" + d));
  plan.usr_src = "/usr";
  // The host's own additions to /usr stay out: /usr/local (tools, pip installs) and Debian's third-party Python
  // packages, whose .pth hooks would otherwise run at every interpreter start. The sandbox runs the standard library.
  for (const char* d : {"/usr/local", "/usr/lib/python3/dist-packages"}) {
    std::error_code ec;
    if (std::filesystem::is_directory(d, ec)) plan.hidden.push_back(keep(staging + d));
  }
  plan.usr_dst = keep(staging + "/usr");
  plan.work_dst = keep(staging + "/work");
  plan.tmp_dst = keep(staging + "/tmp");
  plan.dev_dst = keep(staging + "/dev");
  plan.proc_dst = keep(staging + "/proc");
  plan.old_root = keep(staging + "/.old");
  for (const auto& f : spec.files) plan.files.push_back({keep("/work/" + f.name), f.content.data(), f.content.size()});
  std::vector<const char*> argv;
  for (const auto& a : spec.argv) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  plan.argv = argv.data();
  const auto cpu_limit = static_cast<rlim_t>(std::ceil(lim.cpu_seconds));
  // A backstop a second past the sampled limit below: SIGXCPU, then SIGKILL a second later if it is caught.
  plan.rl_cpu = make_rlimit(cpu_limit + 1, cpu_limit + 2);
  const rlim_t mem = static_cast<rlim_t>(lim.memory_mb) << 20;
  plan.rl_as = make_rlimit(mem, mem);
  const rlim_t fsize = static_cast<rlim_t>(lim.file_size_mb) << 20;
  plan.rl_fsize = make_rlimit(fsize, fsize);
  plan.rl_nofile = make_rlimit(static_cast<rlim_t>(lim.max_open_files), static_cast<rlim_t>(lim.max_open_files));
  plan.rl_core = make_rlimit(0, 0);
  plan.rl_nproc = make_rlimit(static_cast<rlim_t>(lim.max_processes), static_cast<rlim_t>(lim.max_processes));
  const rlim_t stack = static_cast<rlim_t>(lim.stack_mb) << 20;
  plan.rl_stack = make_rlimit(stack, stack);
  plan.seccomp.len = static_cast<unsigned short>(filter->size());
  plan.seccomp.filter = const_cast<sock_filter*>(filter->data());

  // ---- descriptors
  Fd out_r, out_w, err_r, err_w, rep_r, rep_w, sync_r, sync_w;
  if (!make_pipe(out_r, out_w) || !make_pipe(err_r, err_w) || !make_pipe(rep_r, rep_w) || !make_pipe(sync_r, sync_w))
    return fail(std::string("pipe: ") + std::strerror(errno));
  Fd in_fd(memfd_create("crucible-stdin", MFD_CLOEXEC));
  if (!in_fd || !write_all_raw(in_fd.get(), spec.stdin_data.data(), spec.stdin_data.size()) ||
      lseek(in_fd.get(), 0, SEEK_SET) != 0)
    return fail(std::string("stdin memfd: ") + std::strerror(errno));
  plan.stdin_fd = in_fd.get();
  plan.stdout_fd = out_w.get();
  plan.stderr_fd = err_w.get();
  plan.report_fd = rep_w.get();
  plan.sync_fd = sync_r.get();

  // ---- clone into the namespaces. The init runs on its own stack in our address space (CLONE_VM); the stacks and
  // the plan must outlive it, which the reaper below guarantees on every path out of this function.
  std::vector<char> init_stack(128 << 10), program_stack(128 << 10);
  plan.program_stack_top = program_stack.data() + program_stack.size();
  const auto t0 = std::chrono::steady_clock::now();
  int pidfd_raw = -1;
  const int flags = CLONE_VM | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC |
                    CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_PIDFD | SIGCHLD;
  pid_t pid = clone(init_main, init_stack.data() + init_stack.size(), flags, &plan, &pidfd_raw);
  if (pid < 0) return fail(std::string("clone with namespaces: ") + std::strerror(errno));
  struct Reaper {
    pid_t pid;
    bool reaped = false;
    int status = 0;
    void reap() {
      while (!reaped) {
        if (waitpid(pid, &status, __WALL) >= 0 || errno != EINTR) reaped = true;
      }
    }
    ~Reaper() {
      if (!reaped) {
        kill(pid, SIGKILL);  // an unreaped child's pid cannot be reused, so this reaches the right process
        reap();
      }
    }
  } reaper{pid};
  Fd pidfd(pidfd_raw);
  in_fd.reset();
  out_w.reset();
  err_w.reset();
  rep_w.reset();
  sync_r.reset();

  auto kill_run = [&] { syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0); };
  const std::string proc = "/proc/" + std::to_string(pid);
  const std::string map = "0 " + std::to_string(spec.host_uid) + " 1\n" + std::to_string(kInnerUserId) + " " +
                          std::to_string(spec.host_uid + 1) + " 1\n";
  bool mapped = write_text(proc + "/uid_map", map) && write_text(proc + "/gid_map", map);
  if (!mapped) {
    std::string why = std::string("writing uid/gid maps: ") + std::strerror(errno);
    kill_run();
    reaper.reap();
    return fail(why);
  }
  char go = 1;
  (void)!write(sync_w.get(), &go, 1);
  sync_w.reset();

  // ---- pump output until the run ends, the wall clock runs out or a cap is hit
  const double wall_limit = lim.effective_wall_seconds();
  const auto deadline = t0 + std::chrono::duration<double>(wall_limit);
  fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  fcntl(err_r.get(), F_SETFL, O_NONBLOCK);
  bool out_open = true, err_open = true, exited = false, wall_killed = false, output_killed = false;
  bool cpu_killed = false, memory_killed = false;
  double cpu_at_kill = 0;
  int64_t sampled_peak_kb = 0;
  constexpr int kSampleMs = 10;  // how often the program's memory high-water mark is read
  char buf[65536];
  auto drain = [&](Fd& fd, bool& open, std::string& into, int64_t cap, bool& truncated) {
    for (;;) {
      ssize_t n = read(fd.get(), buf, sizeof buf);
      if (n > 0) {
        const int64_t room = cap - static_cast<int64_t>(into.size());
        if (room > 0) into.append(buf, static_cast<size_t>(std::min<int64_t>(room, n)));
        if (n > room) truncated = true;
        continue;
      }
      if (n == 0) open = false;
      else if (errno == EINTR) continue;
      return;
    }
  };
  while (!exited || out_open || err_open) {
    pollfd pfds[3];
    int n = 0;
    int i_out = -1, i_err = -1, i_pid = -1;
    if (out_open) { pfds[n] = {out_r.get(), POLLIN, 0}; i_out = n++; }
    if (err_open) { pfds[n] = {err_r.get(), POLLIN, 0}; i_err = n++; }
    if (!exited) { pfds[n] = {pidfd.get(), POLLIN, 0}; i_pid = n++; }
    auto now = std::chrono::steady_clock::now();
    int timeout_ms;
    if (!exited && !wall_killed) {
      timeout_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
      if (timeout_ms <= 0) {
        cpu_at_kill = tree_stats(pid).cpu_seconds;
        wall_killed = true;
        kill_run();
        continue;
      }
    } else {
      // After the run is gone every write end is closed; this bound only matters if a descriptor leaked.
      timeout_ms = 2000;
    }
    if (!exited) timeout_ms = std::min(timeout_ms, kSampleMs);
    int r = poll(pfds, static_cast<nfds_t>(n), timeout_ms);
    if (!exited && !wall_killed && !cpu_killed) {
      // The same sample enforces the CPU limit on the whole tree, to the 10 ms: RLIMIT_CPU is per process and in
      // whole seconds.
      TreeStats st = tree_stats(pid);
      sampled_peak_kb = std::max(sampled_peak_kb, st.peak_kb);
      if (st.cpu_seconds > lim.cpu_seconds) {
        cpu_killed = true;
        cpu_at_kill = st.cpu_seconds;
        kill_run();
      } else if (st.rss_kb > (lim.memory_mb << 10)) {
        // RLIMIT_AS bounds one process; this bounds the run (a fork bomb of allocators) without a cgroup.
        memory_killed = true;
        kill_run();
      }
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      kill_run();
      break;
    }
    if (r == 0) {
      if (exited) break;  // a leaked write end: stop waiting for EOF
      continue;
    }
    if (i_out >= 0 && pfds[i_out].revents) drain(out_r, out_open, res.out, lim.stdout_bytes, res.out_truncated);
    if (i_err >= 0 && pfds[i_err].revents) drain(err_r, err_open, res.err, lim.stderr_bytes, res.err_truncated);
    // stdout over its cap ends the run; stderr beyond its cap is only discarded (debug chatter is not a verdict).
    if (!output_killed && !exited && res.out_truncated) {
      output_killed = true;
      kill_run();
    }
    if (i_pid >= 0 && pfds[i_pid].revents) exited = true;
  }
  // pid 1 is gone only once every process of its namespace has been reaped by the kernel: teardown is complete.
  reaper.reap();
  const int status = reaper.status;
  res.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  Report report;
  bool have_report = false;
  fcntl(rep_r.get(), F_SETFL, O_NONBLOCK);  // its data is already in the pipe; a leaked write end must not block us
  for (;;) {
    Report r;
    ssize_t n = read(rep_r.get(), &r, sizeof r);
    if (n == static_cast<ssize_t>(sizeof r)) {
      report = r;
      have_report = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }

  if (wall_killed) {
    res.cpu_seconds = cpu_at_kill;
    res.peak_memory_kb = sampled_peak_kb;
    res.verdict = Verdict::time_limit;
    res.signal = SIGKILL;
    res.message = "wall-clock limit of " + std::to_string(wall_limit) + " s";
    return res;
  }
  if (memory_killed) {
    res.peak_memory_kb = sampled_peak_kb;
    res.verdict = Verdict::memory_limit;
    res.signal = SIGKILL;
    res.message = "memory limit of " + std::to_string(lim.memory_mb) + " MiB (resident, all processes of the run)";
    return res;
  }
  if (cpu_killed) {
    res.cpu_seconds = cpu_at_kill;
    res.peak_memory_kb = sampled_peak_kb;
    res.verdict = Verdict::time_limit;
    res.signal = SIGKILL;
    res.message = "CPU limit of " + std::to_string(lim.cpu_seconds) + " s (all processes of the run)";
    return res;
  }
  if (output_killed) {
    res.verdict = Verdict::output_limit;
    res.signal = SIGKILL;
    res.message = "stdout over " + std::to_string(lim.stdout_bytes) + " bytes";
    return res;
  }
  if (!have_report) {
    res.verdict = Verdict::sandbox_error;
    res.message = "the sandbox init ended without a report (wait status " + std::to_string(status) + ")";
    return res;
  }
  if (report.kind == 1) {
    if (report.stage == stage_exec) {
      // The program could not be started (e.g. a missing interpreter inside the view): the caller's problem.
      res.verdict = Verdict::runtime_error;
      res.exit_code = 127;
      res.message = std::string("exec ") + spec.argv[0] + ": " + std::strerror(report.err);
      return res;
    }
    res.verdict = Verdict::sandbox_error;
    res.message = std::string("sandbox setup failed at ") + stage_name(report.stage) + ": " + std::strerror(report.err);
    return res;
  }
  res.cpu_seconds = static_cast<double>(report.cpu_usec) / 1e6;
  res.peak_memory_kb = sampled_peak_kb;
  const int ps = report.status;
  if (WIFEXITED(ps)) res.exit_code = WEXITSTATUS(ps);
  if (WIFSIGNALED(ps)) res.signal = WTERMSIG(ps);
  if (res.cpu_seconds > lim.cpu_seconds || res.signal == SIGXCPU) {
    res.verdict = Verdict::time_limit;
    res.message = "CPU limit of " + std::to_string(lim.cpu_seconds) + " s";
    return res;
  }
  if (res.exit_code == 0) {
    res.verdict = Verdict::pass;
    return res;
  }
  if (stderr_says_memory_error(res.err)) {
    res.verdict = Verdict::memory_limit;
    res.message = "memory limit of " + std::to_string(lim.memory_mb) + " MiB";
    return res;
  }
  if (res.signal == SIGXFSZ) {
    res.verdict = Verdict::output_limit;
    res.message = "file size limit of " + std::to_string(lim.file_size_mb) + " MiB";
    return res;
  }
  res.verdict = Verdict::runtime_error;
  res.message = res.signal ? "killed by signal " + std::to_string(res.signal) + " (" + strsignal(res.signal) + ")"
                           : "exit code " + std::to_string(res.exit_code);
  return res;
}

bool sandbox_available(std::string* why) {
  SandboxSpec spec;
  spec.argv = {"/usr/bin/true"};
  spec.limits.cpu_seconds = 2;
  SandboxResult r = run_sandboxed(spec);
  if (r.verdict == Verdict::pass) return true;
  if (why) *why = r.message.empty() ? std::string(verdict_name(r.verdict)) : r.message;
  return false;
}

}  // namespace crucible::verifiers::code
