//! The serving profile (docs/spec.md §10, `evalkit profile`): how a model
//! behaves as production serves it — latency per request at small batch
//! sizes, throughput under concurrent requests, and its footprint — measured
//! on real rows of a dataset, with the environment it ran on.
//!
//! The procedure, per model:
//!
//! 1. **Footprint.** Every model's first session is loaded before anything
//!    runs: its initialisation time (building the session) and its session
//!    memory (the growth of the process's resident set across the load).
//!    A throwaway session of the first model is built before them, so
//!    ONNX Runtime's one-time set-up is nobody's footprint.
//! 2. **Latency per batch size.** One session, one request at a time (a
//!    closed loop of one client): after `warmup` requests, requests of
//!    `batch_size` consecutive dataset rows run until `duration` has passed
//!    or `max_requests` have completed, whichever comes first. A request's
//!    latency is what a caller of the model sees: the input tensor built
//!    over the rows, ONNX Runtime's `run`, the score output copied out. The
//!    time inside `run` alone is recorded too; the rest is evalkit's
//!    overhead.
//! 3. **Throughput under concurrency.** `c` clients, each with its own
//!    session of `threads` intra-op threads (ONNX Runtime's `run` takes its
//!    session exclusively in `ort`, so `c` clients are `c` model instances,
//!    as a server's instance group is), each sending the next request as
//!    soon as the last one returned (closed loop), bounded by the same
//!    `duration` and `max_requests` over all clients. Requests per second
//!    with a batch-means interval ([`stats::throughput`]) and the latency
//!    percentiles under that load.
//! 4. **Peak memory**: the process's peak resident set during the model's
//!    runs (reset before them where Linux allows: `/proc/self/clear_refs`).
//!
//! Percentiles are nearest-rank over the recorded requests, each with the
//! number of requests behind it and a distribution-free interval from
//! order statistics ([`stats::quantile_ranks`]): a p99 from 200 requests
//! has no upper bound at 95%, and a gate on it is inconclusive rather than
//! passed.

pub mod quality;
pub mod stats;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::infer::dataset::{Dataset, DatasetSpec};
use crate::infer::runtime::{self, Device, FeatureRows, Features, Model, Precision};
use stats::Latency;

/// Rows of the dataset held as requests' inputs (the first rows, after the
/// filter); requests cycle through them.
pub const POOL_ROWS: usize = 65_536;

/// Options of a serving profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileOptions {
    /// The models, profiled one after the other (the first is the
    /// reference of a side-by-side profile).
    pub models: Vec<PathBuf>,
    /// The dataset whose rows make the requests.
    pub data: PathBuf,
    /// Feature columns and filter, as `evalkit infer` takes them.
    pub dataset: DatasetSpec,
    /// Batch sizes of the latency runs.
    pub batch_sizes: Vec<usize>,
    /// Concurrency levels (clients) of the throughput runs.
    pub concurrency: Vec<usize>,
    /// Rows per request in the throughput runs.
    pub concurrency_batch: usize,
    /// Seconds each run lasts at most.
    pub duration: f64,
    /// Requests each run makes at most.
    pub max_requests: usize,
    /// Requests per session before measuring.
    pub warmup: usize,
    /// Where the model runs.
    pub device: Device,
    /// Intra-op threads per session (0: one per core).
    pub threads: usize,
    /// The model output read as the score.
    pub output_name: Option<String>,
    /// Confidence level of the intervals.
    pub level: f64,
    /// Keep every request's latency in the result (and its JSON).
    pub keep_latencies: bool,
}

/// The concurrency levels profiled by default: 1, 2, 4, … up to the cores
/// (the cores themselves included).
pub fn default_concurrency() -> Vec<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out: Vec<usize> = std::iter::successors(Some(1usize), |c| Some(c * 2))
        .take_while(|&c| c <= cores)
        .collect();
    if out.last() != Some(&cores) {
        out.push(cores);
    }
    out
}

impl ProfileOptions {
    /// The defaults of the command line for `models` on `data`.
    pub fn new(models: Vec<PathBuf>, data: &Path) -> ProfileOptions {
        ProfileOptions {
            models,
            data: data.to_path_buf(),
            dataset: DatasetSpec::default(),
            batch_sizes: vec![1, 8, 64],
            concurrency: default_concurrency(),
            concurrency_batch: 1,
            duration: 1.0,
            max_requests: 100_000,
            warmup: 10,
            device: Device::Cpu,
            threads: 1,
            output_name: None,
            level: 0.95,
            keep_latencies: false,
        }
    }

    /// Checks the options (every problem exit 2, named as the flag).
    pub fn check(&self) -> Result<()> {
        if self.models.is_empty() {
            return Err(Error::usage("give at least one model to profile"));
        }
        if self.batch_sizes.is_empty() && self.concurrency.is_empty() {
            return Err(Error::usage(
                "nothing to profile: give --batch-sizes or --concurrency",
            ));
        }
        if self.batch_sizes.contains(&0) {
            return Err(Error::usage(
                "--batch-sizes: a batch size must be at least 1",
            ));
        }
        if self.concurrency.contains(&0) {
            return Err(Error::usage(
                "--concurrency: a concurrency level must be at least 1",
            ));
        }
        if self.concurrency_batch == 0 {
            return Err(Error::usage("--concurrency-batch must be at least 1"));
        }
        if self
            .batch_sizes
            .iter()
            .chain([&self.concurrency_batch])
            .any(|&b| b > POOL_ROWS)
        {
            return Err(Error::usage(format!(
                "a batch size above {POOL_ROWS} rows is an offline batch, not a request: use evalkit infer, which reports its throughput"
            )));
        }
        if !(self.duration.is_finite() && self.duration > 0.0 && self.duration <= 3600.0) {
            return Err(Error::usage(format!(
                "--duration {} must be a number of seconds in (0, 3600]",
                self.duration
            )));
        }
        if self.max_requests == 0 {
            return Err(Error::usage("--max-requests must be at least 1"));
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(Error::usage(format!(
                "--ci {} is not a level in (0, 1)",
                self.level
            )));
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if let Some(&c) = self.concurrency.iter().find(|&&c| c > 16 * cores) {
            return Err(Error::usage(format!(
                "--concurrency {c}: more than 16 clients per core ({cores} cores) measures the scheduler, not the model"
            )));
        }
        Ok(())
    }

    fn intra_threads(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.threads
        }
    }
}

/// Where the numbers were measured: they mean nothing without it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Environment {
    /// The execution provider.
    pub provider: String,
    /// `cpu` or `cuda:ID`.
    pub device: String,
    /// Intra-op threads per session.
    pub intra_op_threads: usize,
    /// The CPU, as the OS names it.
    pub cpu: String,
    /// Logical cores available to the process.
    pub cores: usize,
    /// Operating system and architecture.
    pub os: String,
    /// ONNX Runtime's version.
    pub onnxruntime_version: String,
    /// The ONNX Runtime library used.
    pub onnxruntime_library: String,
    /// evalkit's version.
    pub evalkit_version: String,
}

/// The settings the profile ran with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Batch sizes of the latency runs.
    pub batch_sizes: Vec<usize>,
    /// Concurrency levels.
    pub concurrency: Vec<usize>,
    /// Rows per request under concurrency.
    pub concurrency_batch: usize,
    /// Seconds per run, at most.
    pub duration_s: f64,
    /// Requests per run, at most.
    pub max_requests: usize,
    /// Warm-up requests per session.
    pub warmup: usize,
    /// Confidence level of the intervals.
    pub level: f64,
}

/// The dataset behind the requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataInfo {
    /// The file.
    pub path: String,
    /// Rows after the filter.
    pub rows: usize,
    /// Rows used as request inputs (the first ones, up to [`POOL_ROWS`]).
    pub request_rows: usize,
    /// Features per row.
    pub features: usize,
}

/// A model's footprint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Footprint {
    /// The model file's size.
    pub model_bytes: u64,
    /// Building the first session (ms).
    pub init_ms: f64,
    /// The resident set's growth across the first session's load.
    pub session_memory_bytes: Option<u64>,
    /// The process's peak resident set during this model's runs.
    pub peak_rss_bytes: Option<u64>,
    /// Whether the peak was reset before this model's runs (else it is the
    /// process's peak since it started).
    pub peak_since_reset: bool,
}

/// Latency at one batch size, one request at a time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyRun {
    /// Rows per request.
    pub batch_size: usize,
    /// Wall time of the measured requests (s).
    pub seconds: f64,
    /// Percentiles per request (ms), with the request count.
    pub latency_ms: Latency,
    /// Mean time inside ONNX Runtime's `run` (ms).
    pub model_ms_mean: f64,
    /// Mean time of a request outside `run` (ms): building the input
    /// tensor, copying the output.
    pub overhead_ms_mean: f64,
    /// The overhead as a share of the time inside `run` (%).
    pub overhead_pct: f64,
    /// Rows per second at this batch size.
    pub rows_per_s: f64,
    /// Every request's latency (ms), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latencies_ms: Option<Vec<f64>>,
}

/// Throughput at one concurrency level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThroughputRun {
    /// Clients, each with its own session.
    pub concurrency: usize,
    /// Rows per request.
    pub batch_size: usize,
    /// Wall time from the start to the last completion (s).
    pub seconds: f64,
    /// Completed requests per second.
    pub qps: f64,
    /// Its batch-means interval.
    pub qps_ci: Option<[f64; 2]>,
    /// Rows per second.
    pub rows_per_s: f64,
    /// Latency percentiles under this load (ms).
    pub latency_ms: Latency,
    /// Every request's latency (ms), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latencies_ms: Option<Vec<f64>>,
}

/// One model's profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelProfile {
    /// Display name (the file's stem).
    pub name: String,
    /// The model file.
    pub path: String,
    /// Its input as declared (e.g. `input 'input' of shape [N, 30]`).
    pub input: String,
    /// Footprint.
    pub footprint: Footprint,
    /// Latency per batch size.
    pub latency: Vec<LatencyRun>,
    /// Throughput per concurrency level.
    pub throughput: Vec<ThroughputRun>,
}

/// A serving profile of one or more models.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// Where it ran.
    pub environment: Environment,
    /// With what settings.
    pub settings: Settings,
    /// On what rows.
    pub data: DataInfo,
    /// The models, in the order given.
    pub models: Vec<ModelProfile>,
    /// Side by side with labels: every later model's quality against the
    /// first's ([`quality::quality`]).
    pub quality: Option<quality::Quality>,
}

/// A statistic of a profile that a gate can bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServingMetric {
    /// A latency percentile (`p50`, `p95`, `p99`, `max`, `mean`) at a batch
    /// size (one request at a time) or under a concurrency level.
    Latency(&'static str, At),
    /// Requests per second at a concurrency level.
    Qps(usize),
    /// Session memory (MiB).
    SessionMemory,
    /// Peak resident memory under load (MiB).
    PeakRss,
    /// Session initialisation (ms).
    Init,
    /// The model file (MiB).
    ModelSize,
    /// evalkit's overhead per request at a batch size (% of the model's
    /// time).
    Overhead(usize),
}

/// Where a latency is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// One request at a time of this many rows.
    Batch(usize),
    /// Under this many concurrent clients.
    Concurrency(usize),
}

/// A statistic's value, interval (either end may be missing: too few
/// requests), unit and the requests behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// The measured value.
    pub value: f64,
    /// Interval ends, when the statistic has an interval.
    pub interval: Option<[Option<f64>; 2]>,
    /// `ms`, `req/s`, `MiB` or `%`.
    pub unit: &'static str,
    /// Requests behind it (none for footprint).
    pub requests: Option<usize>,
}

/// The statistic names a gate can use, as patterns.
pub const METRIC_NAMES: &str = "latency_{p50,p95,p99,max,mean}_ms_at_batch_B, latency_{p50,p95,p99,max,mean}_ms_at_concurrency_C, qps_at_concurrency_C, overhead_pct_at_batch_B, session_memory_mb, peak_rss_mb, init_ms, model_size_mb";

impl ServingMetric {
    /// Parses `latency_p99_ms_at_batch_1`, `qps_at_concurrency_4`,
    /// `session_memory_mb`, … (`None`: not a serving statistic).
    pub fn parse(name: &str) -> Option<ServingMetric> {
        match name {
            "session_memory_mb" => return Some(ServingMetric::SessionMemory),
            "peak_rss_mb" => return Some(ServingMetric::PeakRss),
            "init_ms" => return Some(ServingMetric::Init),
            "model_size_mb" => return Some(ServingMetric::ModelSize),
            _ => {}
        }
        let count = |s: &str| s.parse::<usize>().ok().filter(|&n| n > 0);
        if let Some(c) = name.strip_prefix("qps_at_concurrency_") {
            return count(c).map(ServingMetric::Qps);
        }
        if let Some(b) = name.strip_prefix("overhead_pct_at_batch_") {
            return count(b).map(ServingMetric::Overhead);
        }
        let rest = name.strip_prefix("latency_")?;
        let (stat, rest) = rest.split_once("_ms_at_")?;
        let stat = ["p50", "p95", "p99", "max", "mean"]
            .into_iter()
            .find(|s| *s == stat)?;
        let at = if let Some(b) = rest.strip_prefix("batch_") {
            At::Batch(count(b)?)
        } else {
            At::Concurrency(count(rest.strip_prefix("concurrency_")?)?)
        };
        Some(ServingMetric::Latency(stat, at))
    }

    /// Whether a gate bounds it from above (latency, memory, time) or from
    /// below (throughput).
    pub fn at_most(self) -> bool {
        !matches!(self, ServingMetric::Qps(_))
    }

    /// The batch size a latency or overhead statistic needs profiled.
    pub fn batch_size(self) -> Option<usize> {
        match self {
            ServingMetric::Latency(_, At::Batch(b)) | ServingMetric::Overhead(b) => Some(b),
            _ => None,
        }
    }

    /// The concurrency level it needs profiled.
    pub fn concurrency(self) -> Option<usize> {
        match self {
            ServingMetric::Latency(_, At::Concurrency(c)) | ServingMetric::Qps(c) => Some(c),
            _ => None,
        }
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn latency_stat(l: &Latency, stat: &str) -> Stat {
    let (value, interval) = match l.get(stat) {
        Some(p) => (p.value, Some([p.lower, p.upper])),
        None if stat == "max" => (l.max, None),
        None => (l.mean, None),
    };
    Stat {
        value,
        interval,
        unit: "ms",
        requests: Some(l.requests),
    }
}

impl ModelProfile {
    /// The statistic `m` of this profile (`None` when the batch size or
    /// concurrency level was not profiled, or the OS gave no memory).
    pub fn stat(&self, m: ServingMetric) -> Option<Stat> {
        let plain = |value: f64, unit: &'static str| Stat {
            value,
            interval: None,
            unit,
            requests: None,
        };
        let at_batch = |b: usize| self.latency.iter().find(|r| r.batch_size == b);
        let at_conc = |c: usize| self.throughput.iter().find(|r| r.concurrency == c);
        Some(match m {
            ServingMetric::Latency(s, At::Batch(b)) => latency_stat(&at_batch(b)?.latency_ms, s),
            ServingMetric::Latency(s, At::Concurrency(c)) => {
                latency_stat(&at_conc(c)?.latency_ms, s)
            }
            ServingMetric::Qps(c) => {
                let r = at_conc(c)?;
                Stat {
                    value: r.qps,
                    interval: r.qps_ci.map(|[lo, hi]| [Some(lo), Some(hi)]),
                    unit: "req/s",
                    requests: Some(r.latency_ms.requests),
                }
            }
            ServingMetric::Overhead(b) => {
                let r = at_batch(b)?;
                Stat {
                    requests: Some(r.latency_ms.requests),
                    ..plain(r.overhead_pct, "%")
                }
            }
            ServingMetric::SessionMemory => plain(mib(self.footprint.session_memory_bytes?), "MiB"),
            ServingMetric::PeakRss => plain(mib(self.footprint.peak_rss_bytes?), "MiB"),
            ServingMetric::Init => plain(self.footprint.init_ms, "ms"),
            ServingMetric::ModelSize => plain(mib(self.footprint.model_bytes), "MiB"),
        })
    }
}

/// A line of `/proc/self/status` in bytes (Linux; `None` elsewhere).
fn status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The process's resident set now.
fn rss_bytes() -> Option<u64> {
    status_bytes("VmRSS:")
}

/// The process's peak resident set.
pub fn peak_rss_bytes() -> Option<u64> {
    status_bytes("VmHWM:")
}

/// Resets the peak resident set to the current one (Linux ≥ 4.0).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// ONNX Runtime's version from its library's file name, else from its
/// build information.
fn ort_version(lib: &Path) -> String {
    if let Some(v) = runtime::library_version(lib) {
        return v;
    }
    let info = ort::info();
    info.split(|c: char| c == ',' || c.is_whitespace())
        .find_map(|p| p.strip_prefix("git-branch=rel-"))
        .map_or_else(|| info.to_string(), str::to_string)
}

/// The request inputs: the dataset's first rows (at most [`POOL_ROWS`]) as
/// a row-major matrix in a model's input type, repeated until it holds the
/// largest batch, so that every request is a contiguous slice (no copy per
/// request).
struct Pool {
    values: Features,
    rows: usize,
    features: usize,
}

impl Pool {
    fn read(data: &Dataset, largest: usize, precision: Precision) -> Result<Pool> {
        let f = data.features.len();
        let n = data.rows().min(POOL_ROWS);
        if n == 0 {
            return Err(Error::bad_format(
                &data.path,
                "has no rows (after --where) to make requests from",
            ));
        }
        let mut values = Features::new(precision);
        data.batch(0, n, &mut values)?;
        let mut rows = n;
        while rows < largest {
            values.repeat_prefix(n * f);
            rows += n;
        }
        Ok(Pool {
            values,
            rows,
            features: f,
        })
    }

    /// The input of request `i` of `b` rows: consecutive rows, cycling.
    fn request(&self, i: usize, b: usize) -> FeatureRows<'_> {
        let start = (i.wrapping_mul(b)) % (self.rows - b + 1);
        self.values
            .slice(start * self.features..(start + b) * self.features)
    }
}

/// What one closed-loop run recorded.
struct Recorded {
    /// Per request: latency (ms), time inside `run` (ms), completion (s from
    /// the start).
    latency_ms: Vec<f64>,
    inside_ms: Vec<f64>,
    completed_s: Vec<f64>,
    seconds: f64,
}

/// `sessions.len()` clients, each sending requests of `b` rows one after
/// the other until `duration` or `max_requests` (over all clients); each
/// session is warmed up first.
fn closed_loop(
    sessions: &mut [&mut Model],
    pool: &Pool,
    b: usize,
    options: &ProfileOptions,
) -> Result<Recorded> {
    let clients = sessions.len();
    let f = pool.features;
    let barrier = Barrier::new(clients);
    let start: OnceLock<Instant> = OnceLock::new();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let duration = Duration::from_secs_f64(options.duration);
    let results: Vec<Result<Vec<(f64, f64, f64)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = sessions
            .iter_mut()
            .enumerate()
            .map(|(client, model)| {
                let (barrier, start, next, stop) = (&barrier, &start, &next, &stop);
                s.spawn(move || -> Result<Vec<(f64, f64, f64)>> {
                    let mut out = Vec::with_capacity(b * 16);
                    let mut warm = Ok(());
                    for w in 0..options.warmup {
                        out.clear();
                        if let Err(e) =
                            model.run(pool.request(client * 7919 + w, b), b, f, &mut out)
                        {
                            warm = Err(e);
                            stop.store(true, Ordering::Relaxed);
                            break;
                        }
                    }
                    // Every client waits for the others, failed or not.
                    barrier.wait();
                    warm?;
                    let t0 = *start.get_or_init(Instant::now);
                    let mut records = Vec::new();
                    loop {
                        if stop.load(Ordering::Relaxed) || t0.elapsed() >= duration {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= options.max_requests {
                            break;
                        }
                        let input = pool.request(i, b);
                        out.clear();
                        let began = Instant::now();
                        let ran = model.run_timed(input, b, f, &mut out);
                        let took = began.elapsed();
                        let inside = match ran {
                            Ok((_, inside)) => inside,
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        };
                        records.push((
                            took.as_secs_f64() * 1000.0,
                            inside.as_secs_f64() * 1000.0,
                            t0.elapsed().as_secs_f64(),
                        ));
                    }
                    Ok(records)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::usage("a profiling client stopped unexpectedly"))
                })
            })
            .collect()
    });
    let mut rec = Recorded {
        latency_ms: Vec::new(),
        inside_ms: Vec::new(),
        completed_s: Vec::new(),
        seconds: 0.0,
    };
    for r in results {
        for (lat, inside, done) in r? {
            rec.latency_ms.push(lat);
            rec.inside_ms.push(inside);
            rec.completed_s.push(done);
        }
    }
    rec.seconds = rec.completed_s.iter().copied().fold(0.0, f64::max);
    Ok(rec)
}

fn loaded(options: &ProfileOptions, path: &Path) -> Result<Model> {
    Model::load(
        path,
        options.device,
        options.intra_threads(),
        options.output_name.as_deref(),
    )
}

/// The model fits the dataset's features and every batch size asked for.
fn check_model(model: &Model, path: &Path, data: &Dataset, options: &ProfileOptions) -> Result<()> {
    let f = data.features.len();
    if let Some(expected) = model.features
        && expected != f
    {
        return Err(Error::usage(format!(
            "{} ({}) expects {expected} features but {} gives {f}; name them in the model's order with --features",
            path.display(),
            model.describe_input(),
            data.path.display()
        )));
    }
    if let Some(fixed) = model.batch {
        let sizes = options
            .batch_sizes
            .iter()
            .chain((!options.concurrency.is_empty()).then_some(&options.concurrency_batch));
        if let Some(b) = sizes.copied().find(|&b| b != fixed) {
            return Err(Error::usage(format!(
                "{} takes {}: a fixed batch of {fixed} rows, so it cannot serve requests of {b} rows; profile it with --batch-sizes {fixed} --concurrency-batch {fixed}, or export it with a dynamic batch dimension",
                path.display(),
                model.describe_input()
            )));
        }
    }
    Ok(())
}

fn failed_at(path: &Path, model: &Model, b: usize, e: Error) -> Error {
    Error::usage(format!(
        "{} failed on a request of {b} rows ({}): {e}",
        path.display(),
        model.describe_input()
    ))
}

/// Profiles every model of `options` (see the module's documentation);
/// `progress` hears what runs next.
pub fn profile(options: &ProfileOptions, progress: &dyn Fn(&str)) -> Result<Profile> {
    options.check()?;
    for m in &options.models {
        if !m.is_file() {
            return Err(Error::io(
                m,
                "cannot open the model",
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
    }
    let (_, lib) = runtime::environment()?;
    let data = Dataset::read(&options.data, &options.dataset)?;
    let largest = options
        .batch_sizes
        .iter()
        .copied()
        .chain([options.concurrency_batch])
        .max()
        .unwrap_or(1);
    // One pool per input type the models take, made when a model needs it.
    let mut pools: Vec<Pool> = Vec::new();

    // ONNX Runtime's one-time set-up (thread pools, allocators) goes to a
    // throwaway session, not to the first model's footprint.
    // It stays loaded while the footprints are measured: memory it freed
    // would be reused by the next load and hide that load's growth.
    progress("starting ONNX Runtime");
    let throwaway = loaded(options, &options.models[0])?;

    // 1. Every model's first session, before anything runs.
    let mut firsts = Vec::with_capacity(options.models.len());
    for path in &options.models {
        progress(&format!("loading {}", path.display()));
        let before = rss_bytes();
        let t = Instant::now();
        let model = loaded(options, path)?;
        let init_ms = t.elapsed().as_secs_f64() * 1000.0;
        let after = rss_bytes();
        check_model(&model, path, &data, options)?;
        let model_bytes = std::fs::metadata(path)
            .map_err(|e| Error::io(path, "cannot read", e))?
            .len();
        firsts.push((
            model,
            Footprint {
                model_bytes,
                init_ms,
                session_memory_bytes: before.zip(after).map(|(b, a)| a.saturating_sub(b)),
                peak_rss_bytes: None,
                peak_since_reset: false,
            },
        ));
    }

    drop(throwaway);
    let mut models = Vec::with_capacity(firsts.len());
    for (path, (mut first, mut footprint)) in options.models.iter().zip(firsts) {
        let precision = first.input_type;
        let at = match pools.iter().position(|p| p.values.precision() == precision) {
            Some(at) => at,
            None => {
                pools.push(Pool::read(&data, largest, precision)?);
                pools.len() - 1
            }
        };
        let pool = &pools[at];
        footprint.peak_since_reset = reset_peak();
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().to_string(),
        );
        let keep = |v: &[f64]| options.keep_latencies.then(|| v.to_vec());
        // 2. Latency per batch size.
        let mut latency = Vec::new();
        for &b in &options.batch_sizes {
            progress(&format!("{name}: latency at batch size {b}"));
            let rec = closed_loop(&mut [&mut first], pool, b, options)
                .map_err(|e| failed_at(path, &first, b, e))?;
            let Some(lat) = Latency::of(&rec.latency_ms, options.level) else {
                continue;
            };
            let n = rec.latency_ms.len() as f64;
            let model_ms = rec.inside_ms.iter().sum::<f64>() / n;
            let overhead = lat.mean - model_ms;
            latency.push(LatencyRun {
                batch_size: b,
                seconds: rec.seconds,
                model_ms_mean: model_ms,
                overhead_ms_mean: overhead,
                overhead_pct: if model_ms > 0.0 {
                    100.0 * overhead / model_ms
                } else {
                    0.0
                },
                rows_per_s: n * b as f64 / rec.seconds.max(1e-12),
                latencies_ms: keep(&rec.latency_ms),
                latency_ms: lat,
            });
        }
        // 3. Throughput per concurrency level: more sessions as needed.
        let mut extra: Vec<Model> = Vec::new();
        let mut throughput = Vec::new();
        let b = options.concurrency_batch;
        for &c in &options.concurrency {
            while extra.len() + 1 < c {
                progress(&format!("{name}: session {} of {c}", extra.len() + 2));
                extra.push(loaded(options, path)?);
            }
            progress(&format!("{name}: throughput with {c} concurrent clients"));
            let mut sessions: Vec<&mut Model> = std::iter::once(&mut first)
                .chain(extra.iter_mut().take(c - 1))
                .collect();
            let rec = closed_loop(&mut sessions, pool, b, options)
                .map_err(|e| failed_at(path, &first, b, e))?;
            let Some(lat) = Latency::of(&rec.latency_ms, options.level) else {
                continue;
            };
            let (qps, qps_ci) = stats::throughput(&rec.completed_s, rec.seconds, options.level);
            throughput.push(ThroughputRun {
                concurrency: c,
                batch_size: b,
                seconds: rec.seconds,
                qps,
                qps_ci,
                rows_per_s: qps * b as f64,
                latencies_ms: keep(&rec.latency_ms),
                latency_ms: lat,
            });
        }
        footprint.peak_rss_bytes = peak_rss_bytes();
        models.push(ModelProfile {
            name,
            path: path.display().to_string(),
            input: first.describe_input(),
            footprint,
            latency,
            throughput,
        });
        // This model's sessions go before the next model runs.
        drop(extra);
        drop(first);
    }

    Ok(Profile {
        environment: Environment {
            provider: options.device.provider().to_string(),
            device: options.device.name(),
            intra_op_threads: options.intra_threads(),
            cpu: cpu_name(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            onnxruntime_version: ort_version(lib),
            onnxruntime_library: lib.display().to_string(),
            evalkit_version: crate::VERSION.to_string(),
        },
        settings: Settings {
            batch_sizes: options.batch_sizes.clone(),
            concurrency: options.concurrency.clone(),
            concurrency_batch: options.concurrency_batch,
            duration_s: options.duration,
            max_requests: options.max_requests,
            warmup: options.warmup,
            level: options.level,
        },
        data: DataInfo {
            path: options.data.display().to_string(),
            rows: data.rows(),
            request_rows: data.rows().min(POOL_ROWS),
            features: data.features.len(),
        },
        models,
        quality: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_parse() {
        use ServingMetric as M;
        assert_eq!(
            M::parse("latency_p99_ms_at_batch_1"),
            Some(M::Latency("p99", At::Batch(1)))
        );
        assert_eq!(
            M::parse("latency_max_ms_at_concurrency_4"),
            Some(M::Latency("max", At::Concurrency(4)))
        );
        assert_eq!(M::parse("qps_at_concurrency_2"), Some(M::Qps(2)));
        assert_eq!(M::parse("overhead_pct_at_batch_8"), Some(M::Overhead(8)));
        assert_eq!(M::parse("session_memory_mb"), Some(M::SessionMemory));
        assert_eq!(M::parse("init_ms"), Some(M::Init));
        for bad in [
            "latency_p98_ms_at_batch_1",
            "latency_p99_ms_at_batch_0",
            "latency_p99_ms_at_batch_",
            "qps_at_concurrency_x",
            "roc_auc",
            "latency_p99_ms",
        ] {
            assert_eq!(M::parse(bad), None, "{bad}");
        }
        assert!(M::parse("latency_p99_ms_at_batch_1").unwrap().at_most());
        assert!(!M::Qps(1).at_most());
    }

    #[test]
    fn options_are_checked() {
        let base = ProfileOptions::new(vec![PathBuf::from("m.onnx")], Path::new("d.parquet"));
        base.check().unwrap();
        let bad = |f: &dyn Fn(&mut ProfileOptions), says: &str| {
            let mut o = base.clone();
            f(&mut o);
            let e = o.check().unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        };
        bad(&|o| o.batch_sizes = vec![1, 0], "--batch-sizes");
        bad(&|o| o.concurrency = vec![0], "--concurrency");
        bad(&|o| o.duration = 0.0, "--duration");
        bad(&|o| o.duration = f64::NAN, "--duration");
        bad(&|o| o.max_requests = 0, "--max-requests");
        bad(&|o| o.concurrency_batch = 0, "--concurrency-batch");
        bad(&|o| o.models.clear(), "at least one model");
        bad(&|o| o.batch_sizes = vec![POOL_ROWS + 1], "offline batch");
    }

    #[test]
    fn default_concurrency_doubles_up_to_the_cores() {
        let c = default_concurrency();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(c[0], 1);
        assert_eq!(*c.last().unwrap(), cores);
        assert!(c.windows(2).all(|w| w[0] < w[1]));
    }
}
