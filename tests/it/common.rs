//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};

/// A file under `fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The golden values of a fixture (`fixtures/expected/NAME.json`).
pub fn expected(name: &str) -> serde_json::Value {
    let path = fixture(&format!("expected/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The `evalkit` command under test: the binary cargo built for these tests,
/// or `EVALKIT_BIN` when set — `make test` sets it to the console script of
/// the wheel it installed into a fresh virtualenv, so every CLI test also runs
/// against that install.
pub fn exe() -> PathBuf {
    match std::env::var_os("EVALKIT_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_evalkit")),
    }
}

/// Runs the `evalkit` command (see [`exe`]).
pub fn evalkit<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(exe())
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Relative 1e-9 with an absolute floor of 1e-12 (for values near 0).
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-12
}

#[track_caller]
pub fn assert_close(what: &str, got: Option<f64>, want: &serde_json::Value) {
    match (got, want.as_f64()) {
        (None, None) => {}
        (Some(g), Some(w)) => assert!(close(g, w), "{what}: got {g}, want {w} (diff {})", g - w),
        (g, _) => panic!("{what}: got {g:?}, want {want}"),
    }
}

/// Writes an Arrow IPC file with the given columns and schema metadata.
pub fn write_ipc(path: &Path, columns: Vec<(&str, ArrayRef)>, metadata: &[(&str, &str)]) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let schema = Schema::new(fields).with_metadata(
        metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<std::collections::HashMap<_, _>>(),
    );
    let schema = Arc::new(schema);
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = arrow::ipc::writer::FileWriter::try_new(file, &schema).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
}

/// A seeded xorshift generator for property tests: the same seed, the
/// same cases, on every machine.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Roughly normal (a sum of 12 uniforms), mean 0, sd 1.
    pub fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }
}

/// The `--json` document of `evalkit ARGS` (which must succeed), without
/// the keys that name the inputs (`file`, `sources`): to compare runs over
/// a file and over its shards.
pub fn json_without_inputs(args: &[&str]) -> serde_json::Value {
    let out = evalkit(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let mut doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let o = doc.as_object_mut().unwrap();
    o.remove("file");
    o.remove("sources");
    doc
}

/// The 95% percentile interval of every binary metric from the definition
/// of the bootstrap: replicate `r`'s resampling counts per row
/// (`counts(r)`), times the file weights, the point code on the weighted
/// rows, then percentiles of each metric's defined values.
pub fn binary_reference_intervals(
    labels: &[u8],
    scores: &[f64],
    file_w: Option<&[f64]>,
    b: usize,
    counts: impl Fn(usize) -> Vec<f64>,
) -> Vec<[f64; 2]> {
    use evalkit::data::Floats;
    use evalkit::full::binary::{BinaryOptions, full};
    use evalkit::uncertainty::IntervalOptions;
    use evalkit::uncertainty::bootstrap::METRICS;
    let point = BinaryOptions {
        intervals: IntervalOptions {
            replicates: 0,
            ..IntervalOptions::default()
        },
        ..BinaryOptions::default()
    };
    let mut per_metric = vec![Vec::new(); METRICS.len()];
    for r in 0..b {
        let w: Vec<f64> = counts(r)
            .iter()
            .enumerate()
            .map(|(i, c)| c * file_w.map_or(1.0, |f| f[i]))
            .collect();
        let got = full(
            labels,
            &Floats::from(scores.to_vec()),
            Some(&Floats::from(w)),
            &point,
            &|_, _| {},
        );
        for (k, name) in METRICS.iter().enumerate() {
            if let Some(v) = got.metrics.value(name) {
                per_metric[k].push(v);
            }
        }
    }
    per_metric
        .into_iter()
        .map(|mut v| {
            v.sort_by(f64::total_cmp);
            evalkit::uncertainty::intervals::percentile(&v, 0.95)
        })
        .collect()
}
