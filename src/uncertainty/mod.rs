//! Uncertainty: bootstrap intervals for every metric, DeLong's interval and
//! paired test for ROC-AUC.

pub mod binomial;
pub mod bootstrap;
pub mod delong;
pub mod from_state;
pub mod intervals;
pub(crate) mod kernel;
pub mod lanes;
#[cfg(test)]
mod replicate_is_point;
pub mod tasks;

use crate::metrics::{Metric, MetricSet};
pub use bootstrap::Resample;
pub use intervals::CiMethod;

/// Options of the bootstrap intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalOptions {
    /// Replicates (0 turns the bootstrap off).
    pub replicates: usize,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
    /// Percentile or BCa.
    pub method: CiMethod,
    /// Poisson or multinomial resampling.
    pub resample: Resample,
    /// Seed of the resampling.
    pub seed: u64,
}

impl Default for IntervalOptions {
    fn default() -> Self {
        IntervalOptions {
            replicates: 1000,
            level: 0.95,
            method: CiMethod::Percentile,
            resample: Resample::Poisson,
            seed: 0,
        }
    }
}

impl IntervalOptions {
    /// The resampling options of these intervals for the unsorted passes
    /// (multiclass, regression): no threshold grid.
    pub fn bootstrap_options(&self) -> bootstrap::BootstrapOptions<'static> {
        bootstrap::BootstrapOptions {
            replicates: self.replicates,
            resample: self.resample,
            seed: self.seed,
            threshold: 0.5,
            grid: 2,
            jackknife: self.method == CiMethod::Bca,
            need: bootstrap::Need::ALL,
            clusters: None,
            strata: None,
        }
    }

    /// [`Self::bootstrap_options`] resampling whole clusters with
    /// `clusters`.
    pub fn bootstrap_options_for<'a>(
        &self,
        clusters: Option<&'a crate::clusters::Clusters>,
    ) -> bootstrap::BootstrapOptions<'a> {
        bootstrap::BootstrapOptions {
            clusters: clusters.map(|c| c.keys()),
            ..self.bootstrap_options()
        }
    }
}

/// Why clustered rows get no bootstrap intervals: fewer than
/// [`MIN_CLUSTERS`](crate::clusters::MIN_CLUSTERS) clusters.
pub fn too_few_clusters(c: &crate::clusters::Clusters) -> Option<String> {
    (c.count() < crate::clusters::MIN_CLUSTERS).then(|| {
        format!(
            "no bootstrap intervals: every row is in one cluster of {}, so resampling clusters cannot vary the data",
            c.column
        )
    })
}

/// The note of a clustered bootstrap (what was resampled).
pub fn cluster_note(c: &crate::clusters::Clusters) -> String {
    format!(
        "bootstrap over clusters: each replicate resamples whole clusters of {}",
        c.describe()
    )
}

/// Share of replicates that may leave a metric undefined before its
/// interval is withheld.
pub const MAX_UNDEFINED_SHARE: f64 = 0.1;

/// Replicates beyond each tail of a two-sided interval at `level` from
/// `replicates` replicates: `B · (1 − level) / 2`.
pub fn tail_replicates(replicates: usize, level: f64) -> f64 {
    replicates as f64 * (1.0 - level) / 2.0
}

/// Fewest replicates beyond each tail for an interval's bounds to be read
/// off replicates at all; below it intervals are withheld.
pub const MIN_TAIL_REPLICATES: f64 = 1.0;

/// Replicates beyond each tail below which a warning says the bounds are
/// noisy.
pub const FEW_TAIL_REPLICATES: f64 = 5.0;

/// The replicates needed for `tail` replicates beyond each tail at `level`.
fn replicates_for(tail: f64, level: f64) -> usize {
    (2.0 * tail / (1.0 - level)).ceil() as usize
}

/// Why `replicates` are too few for an interval at `level` (fewer than
/// [`MIN_TAIL_REPLICATES`] beyond each tail, so the bounds would be the
/// extreme replicates or a zero-width interval), or `None`.
pub fn too_few_replicates(replicates: usize, level: f64) -> Option<String> {
    (replicates > 0 && tail_replicates(replicates, level) < MIN_TAIL_REPLICATES).then(|| {
        format!(
            "no bootstrap intervals: {replicates} replicate{} leave fewer than one beyond each tail of a {level} interval; use --bootstrap {} or more",
            if replicates == 1 { "" } else { "s" },
            replicates_for(FEW_TAIL_REPLICATES, level)
        )
    })
}

/// A warning when `replicates` leave fewer than [`FEW_TAIL_REPLICATES`]
/// beyond each tail at `level` (but enough for an interval).
pub fn few_replicates(replicates: usize, level: f64) -> Option<String> {
    let tail = tail_replicates(replicates, level);
    (replicates > 0 && (MIN_TAIL_REPLICATES..FEW_TAIL_REPLICATES).contains(&tail)).then(|| {
        format!(
            "bootstrap intervals rest on {tail:.1} replicates beyond each tail of a {level} interval, so their bounds are noisy; use --bootstrap {} or more",
            replicates_for(FEW_TAIL_REPLICATES, level)
        )
    })
}

/// What a run's intervals say about their number of replicates: why they
/// are withheld ([`too_few_replicates`]) or that their bounds are noisy
/// ([`few_replicates`]). Each tier adds these once, beside [`attach`]'s
/// per-metric notes.
pub fn replicate_notes(options: &IntervalOptions) -> Vec<String> {
    too_few_replicates(options.replicates, options.level)
        .or_else(|| few_replicates(options.replicates, options.level))
        .into_iter()
        .collect()
}

/// Sorted finite values.
fn finite_sorted(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// Sets the interval of every metric of `metrics` that has replicates in
/// `reps`, looked up by name (a metric without replicates keeps no
/// interval). Grouped jackknife values and `acceleration_of(name)` (exact
/// influence values' acceleration, when known) serve BCa. Returns warnings.
pub fn attach(
    metrics: &mut MetricSet,
    reps: &bootstrap::Replicates,
    acceleration_of: &dyn Fn(&str) -> Option<f64>,
    options: &IntervalOptions,
) -> Vec<String> {
    // Too few replicates for the level: no intervals ([`replicate_notes`]
    // says why, once per run).
    if too_few_replicates(options.replicates, options.level).is_some() {
        return Vec::new();
    }
    let mut warnings = Vec::new();
    let names: Vec<String> = metrics.iter().map(|(n, _)| n.to_string()).collect();
    for name in &names {
        let Some((values, jackknife)) = reps.of(name) else {
            continue;
        };
        let Some(point) = metrics.get(name).cloned() else {
            continue;
        };
        let Some(theta) = point.value else {
            continue;
        };
        let sorted = finite_sorted(values);
        let undefined = values.len() - sorted.len();
        if (undefined as f64) > MAX_UNDEFINED_SHARE * values.len() as f64 || sorted.is_empty() {
            warnings.push(format!(
                "{name}: no interval: undefined in {undefined} of {} bootstrap replicates",
                values.len()
            ));
            continue;
        }
        let (ci, method) = match options.method {
            // Wilson's or Clopper–Pearson's intervals replace the
            // proportions' afterwards (`attach_proportions`); every other
            // metric's is the percentile one.
            CiMethod::Percentile | CiMethod::Wilson | CiMethod::ClopperPearson => (
                intervals::percentile(&sorted, options.level),
                "bootstrap-percentile",
            ),
            CiMethod::Bca => {
                let a = acceleration_of(name).unwrap_or_else(|| {
                    let jk: Vec<f64> = jackknife
                        .iter()
                        .copied()
                        .filter(|x| x.is_finite())
                        .collect();
                    if jk.len() > 1 {
                        intervals::jackknife_acceleration(&jk)
                    } else {
                        0.0
                    }
                });
                match intervals::bca(&sorted, theta, a, options.level) {
                    Some(ci) => (ci, "bootstrap-bca"),
                    None => {
                        warnings.push(format!(
                            "{name}: every replicate falls on one side of the point value; percentile interval instead of BCa"
                        ));
                        (
                            intervals::percentile(&sorted, options.level),
                            "bootstrap-percentile",
                        )
                    }
                }
            }
        };
        metrics.insert(
            name,
            Metric {
                ci: Some(ci),
                method: method.to_string(),
                ..point
            },
        );
    }
    warnings
}

/// With `--method wilson` or `clopper-pearson`: that interval on each
/// proportion `(name, successes, trials)` that has a value, in place of the
/// bootstrap's (method `wilson` or `clopper-pearson`). Both are intervals
/// for counts of rows: with sample weights the proportions keep the
/// bootstrap's and the note returned says so.
pub fn attach_proportions(
    metrics: &mut MetricSet,
    counts: &[(&str, f64, f64)],
    weighted: bool,
    options: &IntervalOptions,
) -> Vec<String> {
    let method = options.method;
    if !method.from_counts() {
        return Vec::new();
    }
    if weighted {
        return vec![format!(
            "--method {}: the interval is for counts of rows; with sample weights the proportions keep the bootstrap's",
            method.as_str()
        )];
    }
    for &(name, k, n) in counts {
        if let Some(m) = metrics.get(name).cloned()
            && m.value.is_some()
            && let Some(ci) = method.proportion(k, n, options.level)
        {
            metrics.insert(
                name,
                Metric {
                    ci: Some(ci),
                    method: method.as_str().to_string(),
                    ..m
                },
            );
        }
    }
    Vec::new()
}

/// Pointwise percentile band over replicate curves `curves[r][i]`.
pub fn band(curves: &[Vec<f64>], level: f64) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
    let points = curves.first().map_or(0, Vec::len);
    if too_few_replicates(curves.len(), level).is_some() {
        return (vec![None; points], vec![None; points]);
    }
    (0..points)
        .map(|i| {
            let column: Vec<f64> = curves.iter().map(|c| c[i]).collect();
            percentile_interval(&column, level).map_or((None, None), |[l, h]| (Some(l), Some(h)))
        })
        .unzip()
}

/// The percentile interval at `level` of one quantity's replicate values,
/// by the rules of [`attach`]: `None` with too few replicates for the
/// level, or when the quantity is undefined in more than
/// [`MAX_UNDEFINED_SHARE`] of them.
pub fn percentile_interval(values: &[f64], level: f64) -> Option<[f64; 2]> {
    if too_few_replicates(values.len(), level).is_some() {
        return None;
    }
    let sorted = finite_sorted(values);
    (!sorted.is_empty() && sorted.len() as f64 >= (1.0 - MAX_UNDEFINED_SHARE) * values.len() as f64)
        .then(|| intervals::percentile(&sorted, level))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metric;

    /// Intervals follow the names of the replicates, whatever the order of
    /// the metric set or of the replicate rows.
    #[test]
    fn intervals_are_attached_by_name_not_position() {
        let mut metrics = MetricSet::new();
        metrics.insert("a", Metric::point(1.0));
        metrics.insert("b", Metric::point(100.0));
        metrics.insert("c", Metric::point(5.0));
        let around = |x: f64| (0..200).map(|i| x + (i as f64 - 99.5) / 100.0).collect();
        // Rows in another order than the set, "c" missing, an extra "z".
        let reps = bootstrap::Replicates::metrics(
            vec!["z", "b", "a"],
            vec![around(-50.0), around(100.0), around(1.0)],
            Vec::new(),
        );
        let options = IntervalOptions {
            replicates: 200,
            ..IntervalOptions::default()
        };
        assert!(attach(&mut metrics, &reps, &|_| None, &options).is_empty());
        let ci = |n: &str| metrics.get(n).unwrap().ci;
        assert!(ci("a").is_some_and(|[lo, hi]| lo < 1.0 && hi > 1.0 && hi < 2.0));
        assert!(ci("b").is_some_and(|[lo, hi]| lo > 99.0 && hi < 101.0));
        assert_eq!(ci("c"), None);
        assert!(metrics.get("z").is_none());

        // Paired differences pair by name too.
        let other = bootstrap::Replicates::metrics(
            vec!["a", "b"],
            vec![around(0.5), around(40.0)],
            Vec::new(),
        );
        let d = reps.difference(&other);
        assert_eq!(d.names, ["b", "a"]);
        assert!(
            d.of("b")
                .unwrap()
                .0
                .iter()
                .all(|&v| (v - 60.0).abs() < 1e-9)
        );
        assert!(d.of("a").unwrap().0.iter().all(|&v| (v - 0.5).abs() < 1e-9));
    }
}
