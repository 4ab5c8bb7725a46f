// build_report and the renderers on a synthetic store (tests/reports/report_fixture.h): the numbers against values
// worked by hand, the errors, GPQA text never reaching any format, and read-only opening of an older schema.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "core/error.h"
#include "reports/report.h"
#include "reports/sqlite.h"
#include "reports/statistics.h"
#include "reports/store.h"
#include "tests/reports/report_fixture.h"
#include "tests/support/test_support.h"

using namespace crucible;
using crucible::testing::TempDir;
using Json = nlohmann::json;

namespace {

const Json& suite_of(const Json& report, const std::string& name) {
  for (const auto& s : report["suites"])
    if (s["suite"] == name) return s;
  throw std::runtime_error("no suite " + name);
}
const Json& run_in(const Json& suite, int64_t id) {
  for (const auto& r : suite["runs"])
    if (r["run_id"] == id) return r;
  throw std::runtime_error("no run");
}
std::vector<std::string> keys(const Json& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i["problem"]);
  return out;
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Store store = Store::open(dir.file("r.db"));
    ids = crucible::testing::populate_report_store(store);
  }
  Json build(std::vector<std::string> runs, std::optional<std::string> baseline = std::nullopt) {
    Store store = Store::open_read_only(dir.file("r.db"));
    report::ReportOptions o;
    o.runs = std::move(runs);
    o.baseline = std::move(baseline);
    return report::build_report(store, o);
  }
  TempDir dir;
  crucible::testing::ReportStore ids;
};

}  // namespace

TEST_F(ReportTest, SingleSampleRunsPairedWithMcNemar) {
  Json r = build({"base", "cand"});
  EXPECT_EQ(r["baseline_run"], ids.base);
  const Json& gsm = suite_of(r, "gsm8k");
  EXPECT_DOUBLE_EQ(run_in(gsm, ids.base)["pass1"]["value"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(run_in(gsm, ids.cand)["pass1"]["value"].get<double>(), 0.8);
  ASSERT_EQ(gsm["comparisons"].size(), 1u);
  const Json& c = gsm["comparisons"][0];
  EXPECT_EQ(c["paired"], 5);
  EXPECT_NEAR(c["difference"]["value"].get<double>(), 0.2, 1e-12);
  EXPECT_LE(c["difference"]["low"].get<double>(), 0.2);
  EXPECT_GE(c["difference"]["high"].get<double>(), 0.2);
  EXPECT_EQ(c["test"]["name"], "McNemar exact");
  EXPECT_EQ(c["test"]["discordant_worse"], 1);   // q1
  EXPECT_EQ(c["test"]["discordant_better"], 2);  // q2, q3
  EXPECT_DOUBLE_EQ(c["test"]["p_value"].get<double>(), 1.0);  // 2 · (1 + 3)/8
  EXPECT_EQ(keys(c["gained"]), (std::vector<std::string>{"q2", "q3"}));
  EXPECT_EQ(keys(c["lost"]), (std::vector<std::string>{"q1"}));
  EXPECT_EQ(c["unchanged"], 2);
  EXPECT_EQ(c["scatter"].size(), 5u);
  const Json& gpqa = suite_of(r, "gpqa_diamond");
  EXPECT_EQ(keys(gpqa["comparisons"][0]["gained"]), (std::vector<std::string>{"rec1"}));
  // Throughput: 8 samples × 100 tokens over the 100 s between started_at and ended_at.
  EXPECT_DOUBLE_EQ(r["runs"][0]["wall_s"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(r["runs"][0]["tokens_per_s"].get<double>(), 8.0);
}

TEST_F(ReportTest, MultiSampleRunCurvesConsTokensAndSignTest) {
  Json r = build({"base", "multi"});
  const Json& gsm = suite_of(r, "gsm8k");
  const Json& m = run_in(gsm, ids.multi);
  EXPECT_EQ(m["k"], 4);
  EXPECT_DOUBLE_EQ(m["pass1"]["value"].get<double>(), 0.5);  // (.5 + 0 + .75 + 1 + .25) / 5
  ASSERT_EQ(m["pass_at_k"].size(), 3u);
  EXPECT_EQ(m["pass_at_k"][2][0], 4);
  EXPECT_DOUBLE_EQ(m["pass_at_k"][2][1].get<double>(), 0.8);  // any of 4 right: q0 q2 q3 q4
  EXPECT_DOUBLE_EQ(m["pass_at_k"][0][1].get<double>(), 0.5);
  // cons from the stored classes (see the fixture): k=1 .4, k=2 .4, k=4 .6.
  EXPECT_EQ(m["cons"]["source"], "stored answer classes");
  EXPECT_DOUBLE_EQ(m["cons"]["value"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(m["cons_at_k"][0][1].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(m["cons_at_k"][1][1].get<double>(), 0.4);
  // Tokens 100, 110, 120, 130 per problem; 30 of 40 characters before </think>.
  EXPECT_DOUBLE_EQ(m["tokens"]["completion"]["mean"].get<double>(), 115);
  EXPECT_NEAR(m["tokens"]["reasoning_mean"].get<double>(), 86.25, 1e-9);
  EXPECT_NEAR(m["tokens"]["answer_mean"].get<double>(), 28.75, 1e-9);
  EXPECT_NE(m["tokens"]["split"].get<std::string>().find("estimated"), std::string::npos);
  EXPECT_DOUBLE_EQ(m["rates"]["length"].get<double>(), 0.25);  // every sample_index 3
  EXPECT_DOUBLE_EQ(m["rates"]["missing_think_close"].get<double>(), 0.0);
  int64_t total = 0;
  for (const auto& n : m["histogram"]) total += n.get<int64_t>();
  EXPECT_EQ(total, 20);
  const Json& c = gsm["comparisons"][0];
  EXPECT_EQ(c["test"]["name"], "sign test on per-problem solve rates");
  EXPECT_EQ(c["test"]["discordant_better"], 2);  // q2 0→.75, q3 0→1
  EXPECT_EQ(c["test"]["discordant_worse"], 3);   // q0, q1, q4
  EXPECT_EQ(keys(c["lost"]), (std::vector<std::string>{"q1", "q4", "q0"}));  // largest drop first
  // gpqa: the multi run has none, so it is listed as not compared rather than silently dropped.
  EXPECT_EQ(suite_of(r, "gpqa_diamond")["unpaired"].size(), 1u);
  // Training curves: numeric fields only.
  const Json& multi_run = r["runs"][1];
  ASSERT_EQ(multi_run["train_curves"].size(), 2u);
  EXPECT_EQ(multi_run["train_curves"][0]["metric"], "loss");
  EXPECT_EQ(multi_run["train_curves"][0]["points"].size(), 3u);
}

TEST_F(ReportTest, ATrainingRunBringsItsCurvesAndNoComparison) {
  {
    Store store = Store::open(dir.file("r.db"));
    RunRecord r;
    r.name = "sft";
    r.kind = "train-sft";
    r.identity = "identity-sft";
    r.started_at = "2026-11-23T10:00:00.000Z";
    r.status = "completed";
    const int64_t id = store.create_run(r);
    for (int step = 1; step <= 3; ++step) store.add_train_step({id, step, {{"loss", 3.0 / step}, {"lr", 0.001}}});
  }
  Json r = build({"base", "cand", "sft"});
  // Compared with nothing, and not listed as "not compared" under every suite either.
  for (const auto& suite : r["suites"])
    for (const auto& u : suite["unpaired"]) EXPECT_NE(u["run"], r["runs"][2]["id"]) << u.dump();
  const std::string html = report::render_html(r), md = report::render_markdown(r);
  // Its kind stands in for the protocol; no "T – · top-p –" row of dashes for sampling it never did.
  EXPECT_NE(html.find("<td class=\"l\">train-sft</td><td class=\"l\">–</td>"), std::string::npos) << html;
  EXPECT_EQ(html.find("T – ·"), std::string::npos);
  EXPECT_NE(md.find("| sft | – | train-sft |"), std::string::npos) << md;
  // No samples: dashes, not "0 samples · 0.0 tok/s" beside a run that trained.
  EXPECT_NE(md.find("| completed | – |"), std::string::npos) << md;
  EXPECT_NE(html.find("<td class=\"l\">completed</td><td>–</td><td>–</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("sft: loss"), std::string::npos);
  EXPECT_NE(html.find("<details><summary>1 more curve of #5 sft</summary>"), std::string::npos);
}

TEST_F(ReportTest, ALongNoisyCurveGetsItsCentredRollingMean) {
  {
    Store store = Store::open(dir.file("r.db"));
    RunRecord r;
    r.name = "grpo";
    r.kind = "train-grpo";
    r.identity = "identity-grpo";
    r.started_at = "2026-11-23T10:00:00.000Z";
    r.status = "completed";
    const int64_t id = store.create_run(r);
    // 100 steps alternating 0 and 1: the raw line zigzags; a 5-step centred mean is 0.4 or 0.6 inside.
    for (int step = 1; step <= 100; ++step) store.add_train_step({id, step, {{"reward_mean", double(step % 2)}}});
  }
  Json r = build({"base", "cand", "grpo"});
  const std::string html = report::render_html(r);
  EXPECT_NE(html.find("the centred mean of 5 steps"), std::string::npos) << html;
  const size_t at = html.find("<polyline class=\"rolling\"");
  ASSERT_NE(at, std::string::npos);
  const size_t from = html.find("points=\"", at) + 8;
  std::istringstream pts(html.substr(from, html.find('"', from) - from));
  // Its heights: 0.4 and 0.6 inside, 2/3 and 1/2 at the start, 1/2 and 1/3 at the end (shorter windows); never the
  // raw 0 or 1, so five distinct y values in 100 points.
  std::set<std::string> ys;
  size_t points = 0;
  for (std::string xy; pts >> xy; ++points) ys.insert(xy.substr(xy.find(',') + 1));
  EXPECT_EQ(points, 100u);
  EXPECT_EQ(ys.size(), 5u) << html.substr(at, 400);
}

TEST_F(ReportTest, BaselineFlagAndReproducibility) {
  Json a = build({"base", "cand", "multi"}, "cand");
  EXPECT_EQ(a["baseline_run"], ids.cand);
  EXPECT_EQ(a["runs"][0]["id"], ids.cand);
  EXPECT_EQ(a, build({"base", "cand", "multi"}, "cand"));  // seeded: the same store, the same report
}

TEST_F(ReportTest, BadInputIsAnInputError) {
  EXPECT_THROW(build({"base", "no-such-run"}), InputError);
  try {
    build({"base", "other"});
    FAIL() << "runs with no problem in common must be refused";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("share no problem"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(build({"other"}));  // one run alone is a fine report
  EXPECT_THROW(Store::open_read_only(dir.file("missing.db")), InputError);
}

TEST_F(ReportTest, GpqaTextNeverAppearsInAnyFormat) {
  Json r = build({"base", "cand"});
  std::string md = report::render_markdown(r), html = report::render_html(r), json = r.dump();
  for (const std::string* text : {&md, &html, &json}) {
    EXPECT_EQ(text->find("SENTINEL-QUESTION-TEXT"), std::string::npos);
    EXPECT_NE(text->find("rec1"), std::string::npos);  // problems appear by id
  }
}

TEST_F(ReportTest, RenderersShowTheKeyNumbers) {
  Json r = build({"base", "cand", "multi"});
  std::string md = report::render_markdown(r);
  EXPECT_NE(md.find("| #1 base | 5 | 1 | **60.0%**"), std::string::npos) << md;
  EXPECT_NE(md.find("**+20.0 pp**"), std::string::npos) << md;
  EXPECT_NE(md.find("McNemar exact"), std::string::npos);
  EXPECT_NE(md.find("gained (2): `q2` (0→1), `q3` (0→1)"), std::string::npos) << md;
  EXPECT_NE(md.find("## Training"), std::string::npos);
  // 4 significant digits, min/max, and the curve as a sparkline (loss 2, 1, 0.667 at steps 10, 20, 30).
  EXPECT_NE(md.find("| multi | loss | 3 | 2 | 0.6667 | 0.6667 | 2 | █▃▁ |"), std::string::npos) << md;
  std::string html = report::render_html(r);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // the SVG namespace is no fetch
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);
  EXPECT_NE(html.find("<th scope=\"col\""), std::string::npos);
  EXPECT_NE(html.find("role=\"img\""), std::string::npos);
  EXPECT_NE(html.find("<title id="), std::string::npos);
  EXPECT_NE(html.find("gsm8k: pass@k by k"), std::string::npos);
  EXPECT_NE(html.find("per-problem solve rate"), std::string::npos);
  EXPECT_NE(html.find("response length"), std::string::npos);
  EXPECT_NE(html.find("multi: loss"), std::string::npos);
  // A run's headline curve (loss) is open; its other metrics fold into one <details> after it.
  EXPECT_LT(html.find("multi: loss"), html.find("<details><summary>1 more curve of #3 multi</summary>"));
  EXPECT_NE(html.find("<details><summary>1 more curve of #3 multi</summary>"), std::string::npos) << html;
}

TEST(ReportStore, ReadOnlyOpenReadsAVersionOneFileWithoutMigratingIt) {
  TempDir dir;
  std::string db = dir.file("v1.db");
  {
    Store store = Store::open(db);
    crucible::testing::populate_report_store(store);
    // Turn it back into a version-1 file: no answer_class column, no samples_ungraded index, no sample_logprobs
    // table, no migration 2 or 3 recorded.
    store.connection().exec("DROP TABLE sample_logprobs; DROP INDEX samples_ungraded; ALTER TABLE samples DROP COLUMN "
                            "answer_class; DELETE FROM schema_version WHERE version >= 2");
  }
  {
    Store ro = Store::open_read_only(db);
    EXPECT_EQ(ro.schema_version(), 1);
    auto run = ro.find_run("multi");
    ASSERT_TRUE(run);
    auto samples = ro.run_samples(run->id);
    ASSERT_EQ(samples.size(), 20u);
    EXPECT_FALSE(samples[0].answer_class);
    report::ReportOptions o;
    o.runs = {"base", "multi"};
    Json r = report::build_report(ro, o);
    EXPECT_TRUE(run_in(suite_of(r, "gsm8k"), run->id)["cons"].is_null());  // no classes, no stored score
    EXPECT_EQ(ro.schema_version(), 1);  // untouched
  }
  Store rw = Store::open(db);  // a writer migrates it forward
  EXPECT_EQ(rw.schema_version(), Store::kSchemaVersion);
  EXPECT_FALSE(rw.run_samples(rw.find_run("multi")->id)[0].answer_class);
}

TEST(ReportStore, AnswerClassesSurviveExportImport) {
  TempDir dir;
  Store a = Store::open(dir.file("a.db"));
  auto ids = crucible::testing::populate_report_store(a);
  std::stringstream ss;
  a.export_run(ids.multi, ss);
  Store b = Store::open(dir.file("b.db"));
  int64_t id = b.import_run(ss, "export");
  auto x = a.run_samples(ids.multi), y = b.run_samples(id);
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(x[i].answer_class, y[i].answer_class) << i;
}
