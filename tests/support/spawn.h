// Child processes a test interrupts (a run it will SIGKILL, a server it will stop): argv run directly (no shell),
// stdout and stderr thrown away.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace crucible::testing {

pid_t spawn_quiet(const std::vector<std::string>& argv);

// Runs argv (spawn_quiet) until it exits or `reached()` holds (polled every 5 ms, for at most `limit`), then
// SIGKILLs it if it is still running and reaps it. True when it had to be killed.
bool run_then_kill_when(const std::vector<std::string>& argv, const std::function<bool()>& reached,
                        std::chrono::seconds limit = std::chrono::seconds(120));

}  // namespace crucible::testing
