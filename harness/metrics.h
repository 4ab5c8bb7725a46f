// Metrics over k samples per problem, all computed from the same stored samples: pass@1 with a bootstrap CI and the
// clustered standard error, unbiased pass@k, cons@k with the verifier's equivalence, length and audit rates.
// The statistics themselves are pure and live in reports/statistics.h, where `crucible report` uses them too; the
// harness names them here so the eval loop and its tests read as before.
#pragma once
#include "reports/statistics.h"

namespace crucible::harness {

using stats::answer_classes;
using stats::cons_at_k;
using stats::Equivalent;
using stats::Interval;
using stats::length_stats;
using stats::LengthStats;
using stats::majority_sample;
using stats::mean_pass_at_k;
using stats::pass_at_1;
using stats::pass_at_k;
using stats::ProblemSamples;
using stats::report_ks;

}  // namespace crucible::harness
