// render_html: one self-contained page. Inline CSS, charts as inline SVG (each with a <title> and <desc> for screen
// readers and axis labels), tables with header cells, no script and no external resource: the Content-Security-Policy
// forbids loading anything, so a page that renders at all renders complete and offline.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "reports/render_util.h"
#include "reports/report.h"

namespace crucible::report {

using Json = nlohmann::json;

namespace {

std::string esc(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// Colour-blind-safe (Okabe–Ito), one per run in report order.
const char* const kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};
std::string run_color(const Json& report, const Json& run_id) {
  size_t i = 0;
  for (const auto& r : report["runs"]) {
    if (r["id"] == run_id) break;
    ++i;
  }
  return kPalette[i % (sizeof kPalette / sizeof kPalette[0])];
}

// "Nice" tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^n, about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 5) {
  if (!(hi > lo)) hi = lo + 1;
  double raw = (hi - lo) / target;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push_back(t);
  return ticks;
}

std::string tick_label(double v) {
  if (std::abs(v) >= 1000) return fmt::format("{:.0f}", v);
  return fmt::format("{:g}", std::round(v * 1000) / 1000);
}

// A plot area with axes, ticks, labels, a title and a legend; the caller draws into it with x()/y().
class Chart {
 public:
  static constexpr double W = 560, H = 320, L = 62, R = 150, T = 34, B = 48;
  Chart(std::string id, std::string title, std::string desc, double x0, double x1, double y0, double y1)
      : id_(std::move(id)), title_(std::move(title)), desc_(std::move(desc)), x0_(x0), x1_(x1), y0_(y0), y1_(y1) {
    if (!(x1_ > x0_)) x1_ = x0_ + 1;
    if (!(y1_ > y0_)) y1_ = y0_ + 1;
  }
  double x(double v) const { return L + (v - x0_) / (x1_ - x0_) * (W - L - R); }
  double y(double v) const { return H - B - (v - y0_) / (y1_ - y0_) * (H - T - B); }
  void axes(const std::vector<std::pair<double, std::string>>& xticks, const std::vector<double>& yticks,
            const std::string& xlabel, const std::string& ylabel, bool y_percent) {
    for (double t : yticks) {
      body_ += fmt::format("<line class=\"grid\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>", L, y(t), W - R, y(t));
      body_ += fmt::format("<text class=\"tick\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>", L - 6, y(t) + 4,
                           y_percent ? fmt::format("{:.0f}%", t * 100) : tick_label(t));
    }
    for (const auto& [v, label] : xticks)
      body_ += fmt::format("<text class=\"tick\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>", x(v),
                           H - B + 16, esc(label));
    body_ += fmt::format("<line class=\"axis\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\"/>", L, H - B, W - R);
    body_ += fmt::format("<line class=\"axis\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/>", L, H - B, T);
    body_ += fmt::format("<text class=\"label\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>",
                         (L + W - R) / 2, H - 10, esc(xlabel));
    body_ += fmt::format("<text class=\"label\" transform=\"translate(14 {:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
                         (T + H - B) / 2, esc(ylabel));
  }
  void legend(const std::vector<std::pair<std::string, std::string>>& entries) {  // (label, colour)
    double ly = T + 4;
    for (const auto& [label, color] : entries) {
      body_ += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"12\" height=\"12\" fill=\"{}\"/>", W - R + 12, ly, color);
      std::string shown = label.size() > 20 ? label.substr(0, 19) + "…" : label;
      body_ += fmt::format("<text class=\"tick\" x=\"{:.1f}\" y=\"{:.1f}\">{}</text>", W - R + 30, ly + 10, esc(shown));
      ly += 18;
    }
  }
  void add(const std::string& svg) { body_ += svg; }
  std::string svg() const {
    return fmt::format(
        "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" "
        "role=\"img\" aria-labelledby=\"{2}-t {2}-d\"><title id=\"{2}-t\">{3}</title><desc id=\"{2}-d\">{4}</desc>"
        "<text class=\"ctitle\" x=\"{5}\" y=\"20\">{3}</text>{6}</svg><figcaption>{4}</figcaption></figure>",
        W, H, id_, esc(title_), esc(desc_), L, body_);
  }

 private:
  std::string id_, title_, desc_, body_;
  double x0_, x1_, y0_, y1_;
};

std::string pass_at_k_chart(const Json& report, const Json& suite, const std::string& id) {
  int64_t kmax = 1;
  for (const auto& r : suite["runs"]) kmax = std::max(kmax, r["pass_at_k"].back()[0].get<int64_t>());
  double lx1 = std::max(1.0, std::log2(static_cast<double>(kmax)));
  Chart c(id, suite["suite"].get<std::string>() + ": pass@k by k",
          "Unbiased pass@k (mean over problems) for k = 1, 2, 4, … up to the samples per problem; one line per run.",
          0, lx1, 0, 1);
  std::vector<std::pair<double, std::string>> xt;
  for (int64_t k = 1; k <= kmax; k *= 2) xt.emplace_back(std::log2(static_cast<double>(k)), std::to_string(k));
  c.axes(xt, nice_ticks(0, 1), "k (samples drawn, log scale)", "pass@k", true);
  std::vector<std::pair<std::string, std::string>> legend;
  for (const auto& r : suite["runs"]) {
    std::string color = run_color(report, r["run_id"]), pts;
    for (const auto& kv : r["pass_at_k"])
      pts += fmt::format("{:.1f},{:.1f} ", c.x(std::log2(kv[0].get<double>())), c.y(kv[1].get<double>()));
    c.add(fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>", color, pts));
    for (const auto& kv : r["pass_at_k"])
      c.add(fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"><title>{}: pass@{} = {}</title></circle>",
                        c.x(std::log2(kv[0].get<double>())), c.y(kv[1].get<double>()), color,
                        esc(run_label(report, r["run_id"])), kv[0].get<int64_t>(), pct(kv[1])));
    legend.emplace_back(run_label(report, r["run_id"]), color);
  }
  c.legend(legend);
  return c.svg();
}

std::string histogram_chart(const Json& report, const Json& suite, const std::string& id) {
  const Json& edges = suite["histogram_edges"];
  size_t bins = edges.size() - 1;
  int64_t top = 1;
  for (const auto& r : suite["runs"])
    for (const auto& v : r["histogram"]) top = std::max(top, v.get<int64_t>());
  auto yt = nice_ticks(0, static_cast<double>(top));
  Chart c(id, suite["suite"].get<std::string>() + ": response length",
          "Histogram of completion tokens per sample, shared bins; bars of each run side by side.", edges.front().get<double>(),
          edges.back().get<double>(), 0, std::max(yt.back(), static_cast<double>(top)));
  std::vector<std::pair<double, std::string>> xt;
  for (double t : nice_ticks(edges.front().get<double>(), edges.back().get<double>(), 6)) xt.emplace_back(t, tick_label(t));
  c.axes(xt, yt, "completion tokens", "samples", false);
  const size_t nruns = std::max<size_t>(1, suite["runs"].size());
  std::vector<std::pair<std::string, std::string>> legend;
  size_t ri = 0;
  for (const auto& r : suite["runs"]) {
    std::string color = run_color(report, r["run_id"]);
    for (size_t b = 0; b < bins; ++b) {
      double x0 = c.x(edges[b].get<double>()), x1 = c.x(edges[b + 1].get<double>());
      double w = (x1 - x0 - 1) / static_cast<double>(nruns);
      int64_t n = r["histogram"][b].get<int64_t>();
      if (n == 0) continue;
      c.add(fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{}: {} "
                        "samples with {}–{} tokens</title></rect>",
                        x0 + 0.5 + w * static_cast<double>(ri), c.y(static_cast<double>(n)), std::max(w, 0.5),
                        c.y(0) - c.y(static_cast<double>(n)), color, esc(run_label(report, r["run_id"])), n,
                        tick_label(edges[b].get<double>()), tick_label(edges[b + 1].get<double>())));
    }
    legend.emplace_back(run_label(report, r["run_id"]), color);
    ++ri;
  }
  c.legend(legend);
  return c.svg();
}

std::string scatter_chart(const Json& report, const Json& suite, const Json& cmp, const std::string& id) {
  std::string base = run_label(report, cmp["baseline_run"]), other = run_label(report, cmp["run"]);
  Chart c(id, suite["suite"].get<std::string>() + ": per-problem solve rate",
          fmt::format("Each problem's solve rate in {} (x) against {} (y); above the diagonal: better in {}. A circle's "
                      "area grows with the number of problems at that point.",
                      base, other, other),
          -0.05, 1.05, -0.05, 1.05);
  std::vector<std::pair<double, std::string>> xt;
  for (double t : nice_ticks(0, 1)) xt.emplace_back(t, fmt::format("{:.0f}%", t * 100));
  c.axes(xt, nice_ticks(0, 1), "solve rate, " + base, "solve rate, " + other, true);
  c.add(fmt::format("<line class=\"diag\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>", c.x(0), c.y(0),
                    c.x(1), c.y(1)));
  std::map<std::pair<double, double>, std::vector<std::string>> at;  // identical points drawn once, sized by count
  for (const auto& p : cmp["scatter"])
    at[{p["baseline"].get<double>(), p["run"].get<double>()}].push_back(p["problem"].get<std::string>());
  for (const auto& [xy, keys] : at) {
    const char* color = xy.second > xy.first ? "#009E73" : xy.second < xy.first ? "#D55E00" : "#666666";
    std::string names;
    for (size_t i = 0; i < keys.size() && i < 12; ++i) names += (i ? ", " : "") + keys[i];
    if (keys.size() > 12) names += fmt::format(", … {} more", keys.size() - 12);
    c.add(fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{:.1f}\" fill=\"{}\" fill-opacity=\"0.55\" stroke=\"{}\">"
                      "<title>{} problem(s) at ({}, {}): {}</title></circle>",
                      c.x(xy.first), c.y(xy.second), 3.5 + 2.5 * std::sqrt(static_cast<double>(keys.size())), color,
                      color, keys.size(), rate(xy.first), rate(xy.second), esc(names)));
    if (keys.size() > 1)
      c.add(fmt::format("<text class=\"count\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>", c.x(xy.first),
                        c.y(xy.second) + 4, keys.size()));
  }
  c.legend({{"higher in run", "#009E73"}, {"lower in run", "#D55E00"}, {"unchanged", "#666666"}});
  return c.svg();
}

std::string train_chart(const Json& run, const Json& curve, const std::string& id) {
  const Json& pts = curve["points"];
  double x0 = pts.front()[0].get<double>(), x1 = pts.back()[0].get<double>();
  double y0 = pts[0][1].get<double>(), y1 = y0;
  for (const auto& p : pts) {
    y0 = std::min(y0, p[1].get<double>());
    y1 = std::max(y1, p[1].get<double>());
  }
  auto yt = nice_ticks(y0, y1);
  // A GRPO run's per-step values are noisy (a step's accuracy is the mean of P·G samples): past 30 steps the raw
  // series is drawn faint and a centred rolling mean over ~1/20 of the steps (at least 5) on top of it.
  const size_t n = pts.size();
  const size_t window = n > 30 ? std::max<size_t>(5, n / 20) | 1 : 1;  // odd, so it centres on a step
  const std::string metric = curve["metric"].get<std::string>();
  Chart c(id, fmt::format("{}: {}", run["name"].get<std::string>(), metric),
          window > 1 ? fmt::format("{} by training step, from train_steps: each step (faint) and the centred mean of {} "
                                   "steps (bold; fewer at the ends).",
                                   metric, window)
                     : fmt::format("{} by training step, from train_steps.", metric),
          x0, x1, std::min(y0, yt.front()), std::max(y1, yt.back()));
  std::vector<std::pair<double, std::string>> xt;
  for (double t : nice_ticks(x0, x1, 6)) xt.emplace_back(t, tick_label(t));
  c.axes(xt, yt, "step", metric, false);
  std::string line;
  for (const auto& p : pts) line += fmt::format("{:.1f},{:.1f} ", c.x(p[0].get<double>()), c.y(p[1].get<double>()));
  if (window == 1) {
    c.add(fmt::format("<polyline fill=\"none\" stroke=\"#0072B2\" stroke-width=\"2\" points=\"{}\"/>", line));
    return c.svg();
  }
  c.add(fmt::format("<polyline fill=\"none\" stroke=\"#0072B2\" stroke-opacity=\"0.3\" stroke-width=\"1\" "
                    "points=\"{}\"/>",
                    line));
  std::vector<double> prefix(n + 1, 0.0);  // prefix sums: each window's mean in O(1)
  for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + pts[i][1].get<double>();
  std::string mean;
  for (size_t i = 0; i < n; ++i) {
    const size_t lo = i >= window / 2 ? i - window / 2 : 0, hi = std::min(n, i + window / 2 + 1);
    mean += fmt::format("{:.1f},{:.1f} ", c.x(pts[i][0].get<double>()),
                        c.y((prefix[hi] - prefix[lo]) / static_cast<double>(hi - lo)));
  }
  c.add(fmt::format("<polyline class=\"rolling\" fill=\"none\" stroke=\"#0072B2\" stroke-width=\"2.5\" "
                    "points=\"{}\"><title>centred mean of {} steps</title></polyline>",
                    mean, window));
  return c.svg();
}

// The biggest changes first (build_report sorts them); a suite of hundreds lists the first 60, the JSON has all.
std::string problem_list(const Json& items) {
  constexpr size_t kShown = 60;
  std::string out;
  for (size_t i = 0; i < items.size() && i < kShown; ++i)
    out += fmt::format("{}<code>{}</code> ({}→{})", i ? ", " : "", esc(items[i]["problem"].get<std::string>()),
                       rate(items[i]["baseline"]), rate(items[i]["run"]));
  if (items.size() > kShown) out += fmt::format(", … and {} more (in the JSON report)", items.size() - kShown);
  return out.empty() ? "none" : out;
}

constexpr const char* kStyle = R"CSS(
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;max-width:1180px;margin:24px auto;padding:0 16px}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0 1em;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d0d0d0;padding:4px 8px;text-align:right;vertical-align:top}td{white-space:nowrap}td.l{white-space:normal;min-width:7em}
th{background:#f2f2f2}td.l,th.l{text-align:left}caption{text-align:left;font-weight:600;padding:4px 0}
figure{display:inline-block;margin:6px 12px 6px 0;vertical-align:top}figcaption{font-size:12px;color:#555;max-width:560px}
svg text{font-family:system-ui,sans-serif}.tick{font-size:11px;fill:#333}.label{font-size:12px;fill:#111}
.ctitle{font-size:13px;font-weight:600;fill:#111}.count{font-size:10px;fill:#000}
.grid{stroke:#e6e6e6}.axis{stroke:#333}.diag{stroke:#999;stroke-dasharray:4 3}
details{margin:.4em 0 1em}summary{color:#555}.meta{color:#555}.good{color:#006b4e}.bad{color:#a33c00}dl dt{font-weight:600}dl dd{margin:0 0 .4em 1em}
)CSS";

}  // namespace

std::string render_html(const Json& report) {
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>crucible report</title><style>";
  out += kStyle;
  out += "</style></head><body><main>\n<h1>crucible report</h1>\n";
  out += fmt::format("<p class=\"meta\">Generated by crucible {} from <code>{}</code>. Baseline: {}.</p>\n",
                     esc(report["crucible_version"].get<std::string>()), esc(report["database"].get<std::string>()),
                     esc(run_label(report, report["baseline_run"])));

  out += "<h2>Runs</h2>\n<table><caption>Runs in this report</caption><thead><tr><th scope=\"col\">id</th>"
         "<th scope=\"col\" class=\"l\">name</th><th scope=\"col\" class=\"l\">model</th><th scope=\"col\" class=\"l\">protocol</th>"
         "<th scope=\"col\" class=\"l\">sampling</th><th scope=\"col\" class=\"l\">status</th><th scope=\"col\">samples</th>"
         "<th scope=\"col\">completion tokens</th><th scope=\"col\">wall time</th><th scope=\"col\">tok/s</th></tr></thead><tbody>\n";
  for (const auto& r : report["runs"]) {
    const Json& s = r["sampling"];
    // A training run stores no eval sampling: its kind stands in for the protocol and the sampling cell stays empty
    // rather than a row of dashes.
    const std::string sampling =
        s.is_null() ? std::string("–")
                    : fmt::format("T {} · top-p {} · k {} · ≤{} tokens", number(s["temperature"]), number(s["top_p"]),
                                  number(s["samples"]), number(s["max_new_tokens"]));
    out += fmt::format("<tr><td>{}</td><th scope=\"row\" class=\"l\" style=\"color:{}\">{}</th><td class=\"l\">{}</td>"
                       "<td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td>"
                       "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                       r["id"].get<int64_t>(), run_color(report, r["id"]), esc(r["name"].get<std::string>()),
                       esc(basename_of(r["model"])), esc(protocol_or_kind(r)), esc(sampling), esc(r["status"].get<std::string>()),
                       count_or_dash(r["samples"]), count_or_dash(r["completion_tokens"]), seconds(r["wall_s"]),
                       r["samples"].get<int64_t>() == 0 ? std::string("–") : number(r["tokens_per_s"], 1));
  }
  out += "</tbody></table>\n";

  int chart = 0;
  for (const auto& suite : report["suites"]) {
    const std::string name = suite["suite"].get<std::string>();
    out += fmt::format("<h2 id=\"suite-{0}\">{0}</h2>\n", esc(name));
    out += fmt::format("<table><caption>{}: scores per run</caption><thead><tr><th scope=\"col\" class=\"l\">run</th>"
                       "<th scope=\"col\">problems</th><th scope=\"col\">k</th><th scope=\"col\">pass@1</th>"
                       "<th scope=\"col\">95% CI</th><th scope=\"col\" class=\"l\">pass@k</th><th scope=\"col\">cons@k</th>"
                       "<th scope=\"col\">tokens mean</th><th scope=\"col\">reasoning / answer</th>"
                       "<th scope=\"col\">p90 / max</th><th scope=\"col\">length cut</th><th scope=\"col\">unparsed</th>"
                       "<th scope=\"col\">no &lt;/think&gt;</th></tr></thead><tbody>\n",
                       esc(name));
    for (const auto& r : suite["runs"]) {
      std::string pk;
      for (const auto& kv : r["pass_at_k"]) pk += fmt::format("{}k={}&nbsp;{}", pk.empty() ? "" : " · ", kv[0].get<int64_t>(), pct(kv[1]));
      std::string cons = r["cons"].is_null() ? "–" : fmt::format("{} (k={})", pct(r["cons"]["value"]), r["cons"]["k"].get<int64_t>());
      const Json& t = r["tokens"];
      out += fmt::format("<tr><th scope=\"row\" class=\"l\" style=\"color:{}\">{}</th><td>{}</td><td>{}</td><td><b>{}</b></td>"
                         "<td>[{}, {}]</td><td class=\"l\">{}</td><td>{}</td><td>{:.0f}</td><td title=\"{}\">{:.0f} / {:.0f}</td>"
                         "<td>{:.0f} / {:.0f}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                         run_color(report, r["run_id"]), esc(run_label(report, r["run_id"])), r["problems"].get<int64_t>(),
                         r["k"].get<int64_t>(), pct(r["pass1"]["value"]), pct(r["pass1"]["low"]), pct(r["pass1"]["high"]),
                         pk, cons, t["completion"]["mean"].get<double>(), esc(t["split"].get<std::string>()),
                         t["reasoning_mean"].get<double>(), t["answer_mean"].get<double>(), t["completion"]["p90"].get<double>(),
                         t["completion"]["max"].get<double>(), pct(r["rates"]["length"]), pct(r["rates"]["unparsed"]),
                         pct(r["rates"]["missing_think_close"]));
    }
    out += "</tbody></table>\n";
    int64_t kmax = 1;
    for (const auto& r : suite["runs"]) kmax = std::max(kmax, r["k"].get<int64_t>());
    if (kmax > 1) out += pass_at_k_chart(report, suite, fmt::format("c{}", chart++));  // one point is no curve
    out += histogram_chart(report, suite, fmt::format("c{}", chart++));

    if (!suite["comparisons"].empty()) {
      out += fmt::format("<table><caption>{}: each run against the baseline, paired on the problems both ran</caption>"
                         "<thead><tr><th scope=\"col\" class=\"l\">run</th><th scope=\"col\" class=\"l\">baseline</th>"
                         "<th scope=\"col\">paired problems</th><th scope=\"col\">Δ pass@1</th><th scope=\"col\">95% CI</th>"
                         "<th scope=\"col\" class=\"l\">test</th><th scope=\"col\">worse / better</th><th scope=\"col\">p</th>"
                         "</tr></thead><tbody>\n",
                         esc(name));
      for (const auto& c : suite["comparisons"]) {
        const Json& d = c["difference"];
        const char* cls = d["low"].get<double>() > 0 ? "good" : d["high"].get<double>() < 0 ? "bad" : "";
        out += fmt::format("<tr><th scope=\"row\" class=\"l\">{}</th><td class=\"l\">{}</td><td>{}</td><td class=\"{}\"><b>{}</b></td>"
                           "<td>[{}, {}]</td><td class=\"l\">{}</td><td>{} / {}</td><td>{}</td></tr>\n",
                           esc(run_label(report, c["run"])), esc(run_label(report, c["baseline_run"])),
                           c["paired"].get<int64_t>(), cls, signed_pp(d["value"]), signed_pp(d["low"]), signed_pp(d["high"]),
                           esc(c["test"]["name"].get<std::string>()), c["test"]["discordant_worse"].get<int64_t>(),
                           c["test"]["discordant_better"].get<int64_t>(), p_value(c["test"]["p_value"]));
      }
      out += "</tbody></table>\n";
      for (const auto& c : suite["comparisons"]) {
        out += scatter_chart(report, suite, c, fmt::format("c{}", chart++));
        out += fmt::format("<p><b>{} vs {}</b> (solve rate baseline→run). Gained ({}): {}.<br>Lost ({}): {}.<br>"
                           "Unchanged: {}.</p>\n",
                           esc(run_label(report, c["run"])), esc(run_label(report, c["baseline_run"])), c["gained"].size(),
                           problem_list(c["gained"]), c["lost"].size(), problem_list(c["lost"]),
                           c["unchanged"].get<int64_t>());
      }
    }
    for (const auto& u : suite["unpaired"])
      out += fmt::format("<p class=\"meta\">Not compared: {} vs {}: {}.</p>\n", esc(run_label(report, u["run"])),
                         esc(run_label(report, u["baseline_run"])), esc(u["reason"].get<std::string>()));
  }

  bool any_training = false;
  for (const auto& r : report["runs"]) any_training |= !r["train_curves"].empty();
  if (any_training) {
    out += "<h2>Training</h2>\n";
    for (const auto& r : report["runs"]) {
      // The curves a reader looks at first stay open (an SFT run's loss; a GRPO run's reward, accuracy, completion
      // length and how many sequences had zero advantage); a run's other metrics (lr, timings, clip fractions…) fold
      // into one <details> below them, so a report of many runs stays a page to read rather than a wall of charts.
      bool rl = false;
      for (const auto& c : r["train_curves"]) rl |= c["metric"] == "reward_mean";
      const std::vector<std::string> headline = rl ? std::vector<std::string>{"reward_mean", "accuracy",
                                                                              "response_len_mean", "sequences_skipped"}
                                                   : std::vector<std::string>{"loss"};
      std::string open, folded;
      int n_folded = 0;
      for (const auto& name : headline)
        for (const auto& c : r["train_curves"])
          if (c["metric"] == name) open += train_chart(r, c, fmt::format("c{}", chart++));
      for (const auto& c : r["train_curves"])
        if (std::find(headline.begin(), headline.end(), c["metric"].get<std::string>()) == headline.end()) {
          folded += train_chart(r, c, fmt::format("c{}", chart++));
          ++n_folded;
        }
      out += open;
      if (n_folded > 0)
        out += fmt::format("<details><summary>{} more curve{} of {}</summary>\n{}</details>\n", n_folded,
                           n_folded == 1 ? "" : "s", esc(run_label(report, r["id"])), folded);
    }
  }

  for (const auto& r : report["runs"]) {
    if (r["funnel"].is_null()) continue;  // distillation traces: what is left after each filter
    const Json& f = r["funnel"];
    out += fmt::format("<h2>Trace funnel: {}</h2>\n<table><tr><th>stage</th><th>passed alone</th><th>left</th></tr>\n"
                       "<tr><td>generated</td><td></td><td>{}</td></tr>\n",
                       esc(r["name"].get<std::string>()), f["generated"].get<int64_t>());
    for (const auto& s : f["stages"])
      out += fmt::format("<tr><td>{}{}</td><td>{}</td><td>{}</td></tr>\n", esc(s["filter"].get<std::string>()),
                         s["enabled"].get<bool>() ? "" : " (off)", s["passed"].get<int64_t>(),
                         s["remaining"].get<int64_t>());
    out += fmt::format("<tr><td><b>kept</b></td><td></td><td><b>{}</b></td></tr></table>\n", f["kept"].get<int64_t>());
  }

  out += "<h2>Definitions</h2>\n<dl>\n";
  for (const auto& [key, text] : report["notes"].items())
    out += fmt::format("<dt>{}</dt><dd>{}</dd>\n", esc(key), esc(text.get<std::string>()));
  out += "</dl>\n</main></body></html>\n";
  return out;
}

}  // namespace crucible::report
