// Several processes on one store: concurrent writers never see "database is locked", and a writer killed with
// SIGKILL mid-run leaves a readable database holding every sample it had committed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "reports/sqlite.h"
#include "reports/store.h"
#include "tests/reports/store_fixture.h"
#include "tests/support/test_support.h"

using namespace crucible;
using crucible::testing::make_sample;
using crucible::testing::populate;
using crucible::testing::TempDir;

TEST(StoreProcesses, TwoWritersThousandSamplesEach) {
  TempDir dir;
  std::string db = dir.file("c.db");
  std::vector<int64_t> problems;
  int64_t run_a, run_b;
  {
    Store store = Store::open(db);
    auto a = populate(store, "a", "ia");
    auto b = populate(store, "b", "ib");
    run_a = a.run_id;
    run_b = b.run_id;
    problems = a.problem_ids;
  }
  std::vector<pid_t> children;
  for (int64_t run : {run_a, run_b}) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        Store store = Store::open(db);
        for (int i = 0; i < 1000; ++i) store.insert_sample(make_sample(run, problems[i % 3], i, i % 3 == 0));
        _exit(0);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer for run %lld failed: %s\n", static_cast<long long>(run), e.what());
        _exit(1);
      }
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a writer failed (see stderr)";
  }
  Store store = Store::open(db);
  EXPECT_EQ(store.count_samples(run_a), 1000);
  EXPECT_EQ(store.count_samples(run_b), 1000);
  sql::Statement st(store.connection().handle(), "SELECT count(*) FROM samples");
  st.step();
  EXPECT_EQ(st.column_int(0), 2000);
}

TEST(StoreProcesses, SigkillMidWriteLosesNoCommittedSample) {
  for (int round = 0; round < 3; ++round) {
    TempDir dir;
    std::string db = dir.file("c.db");
    int64_t run;
    std::vector<int64_t> problems;
    {
      Store store = Store::open(db);
      auto p = populate(store);
      run = p.run_id;
      problems = p.problem_ids;
    }
    int acks[2];
    ASSERT_EQ(pipe(acks), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(acks[0]);
      Store store = Store::open(db);
      for (int i = 0;; ++i) {
        store.insert_sample(make_sample(run, problems[i % 3], i, true));
        // Only after the commit returned do we tell the parent: everything acknowledged must survive the kill.
        if (write(acks[1], &i, sizeof i) != sizeof i) _exit(2);
      }
    }
    close(acks[1]);
    int last = -1, got;
    const int kill_after = 200 + round * 150;
    while (last < kill_after && read(acks[0], &got, sizeof got) == sizeof got) last = got;
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    while (read(acks[0], &got, sizeof got) == sizeof got) last = got;  // acks written before the kill landed
    close(acks[0]);
    ASSERT_TRUE(WIFSIGNALED(status));

    Store store = Store::open(db);
    sql::Statement check(store.connection().handle(), "PRAGMA integrity_check");
    check.step();
    EXPECT_EQ(check.column_text(0), "ok");
    auto samples = store.run_samples(run);
    std::vector<bool> present(samples.size() + last + 2, false);
    for (const auto& s : samples) present.at(s.sample_index) = true;
    for (int i = 0; i <= last; ++i) ASSERT_TRUE(present[i]) << "committed sample " << i << " lost in round " << round;
    EXPECT_GE(static_cast<int>(samples.size()), last + 1);
    // The store stays writable after the crash.
    store.insert_sample(make_sample(run, problems[0], 1000000, true));
  }
}
