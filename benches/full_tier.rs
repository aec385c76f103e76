//! Criterion benches of the binary full tier (no intervals) at 10⁶ and 10⁷
//! rows, and of `evalkit fast` as a whole process on a 10⁷-row prediction
//! file. Run with `make bench`; `make bench-peer` times scikit-learn on the
//! same work and prints the ratios that go in the README.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use evalkit::data::Floats;
use evalkit::full::binary::{BinaryOptions, full};
use evalkit::metrics::curves::BinaryCurve;
use evalkit::rng::{unit, word};
use evalkit::uncertainty::delong::delong;
use evalkit::uncertainty::{IntervalOptions, Resample};

/// Labels ~ Bernoulli(0.3); scores = sigmoid(1.5·(2y − 1) + N(0, 1.5²)),
/// unrounded.
fn raw(n: usize, seed: u64) -> (Vec<u8>, Vec<f64>) {
    let labels: Vec<u8> = (0..n)
        .map(|i| (unit(word(seed, 0, i as u64)) < 0.3) as u8)
        .collect();
    let scores = (0..n)
        .map(|i| {
            let (u1, u2) = (
                unit(word(seed, 1, i as u64)).max(1e-300),
                unit(word(seed, 2, i as u64)),
            );
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let x = 1.5 * (2.0 * labels[i] as f64 - 1.0) + 1.5 * z;
            1.0 / (1.0 + (-x).exp())
        })
        .collect();
    (labels, scores)
}

/// The rows of [`raw`] with scores rounded to 1e-6 (a realistic number of
/// distinct scores for a quantised model).
fn data(n: usize, seed: u64) -> (Vec<u8>, Vec<f64>) {
    let (labels, scores) = raw(n, seed);
    let scores = scores.iter().map(|p| (p * 1e6).round() / 1e6).collect();
    (labels, scores)
}

/// The rows of [`raw`] with unrounded float32 scores (about one distinct
/// score per row, what models write).
fn data_unrounded(n: usize, seed: u64) -> (Vec<u8>, Vec<f32>) {
    let (labels, scores) = raw(n, seed);
    (labels, scores.iter().map(|&p| p as f32).collect())
}

fn full_tier(c: &mut Criterion) {
    let mut g = c.benchmark_group("binary_full_tier");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for n in [1_000_000usize, 10_000_000] {
        let (labels, scores) = data(n, 42);
        let scores = Floats::from(scores);
        let point_only = BinaryOptions {
            intervals: IntervalOptions {
                replicates: 0,
                ..IntervalOptions::default()
            },
            ..BinaryOptions::default()
        };
        g.bench_function(format!("n={n}"), |b| {
            b.iter(|| full(&labels, &scores, None, &point_only, &|_, _| {}))
        });
        if n == 1_000_000 {
            // Unrounded float32 scores (about one distinct score per row,
            // what models write) and the same rows weighted.
            let (_, raw) = data_unrounded(n, 42);
            let raw = Floats::from(raw);
            g.bench_function(format!("n={n} unrounded f32"), |b| {
                b.iter(|| full(&labels, &raw, None, &point_only, &|_, _| {}))
            });
            let w = Floats::from(
                (0..n)
                    .map(|i| 0.5 + unit(word(7, 3, i as u64)))
                    .collect::<Vec<f64>>(),
            );
            g.bench_function(format!("n={n} unrounded f32 weighted"), |b| {
                b.iter(|| full(&labels, &raw, Some(&w), &point_only, &|_, _| {}))
            });
        }
    }
    g.finish();
}

/// A 10⁷-row prediction file (int64 labels, f64 scores), written once.
fn prediction_file() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("binary_1e7.arrow");
    if !path.exists() {
        let (labels, scores) = data(10_000_000, 7);
        let schema = Arc::new(Schema::new(vec![
            Field::new("label", DataType::Int64, false),
            Field::new("score", DataType::Float64, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(
                labels.iter().map(|&v| v as i64).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(scores)),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let tmp = path.with_extension("tmp");
        let mut w =
            arrow::ipc::writer::FileWriter::try_new(std::fs::File::create(&tmp).unwrap(), &schema)
                .unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        std::fs::rename(tmp, &path).unwrap();
    }
    path
}

fn fast_process(c: &mut Criterion) {
    let path = prediction_file();
    let mut g = c.benchmark_group("evalkit_fast_process");
    g.sample_size(30);
    g.bench_function("n=10000000", |b| {
        b.iter(|| {
            let out = Command::new(env!("CARGO_BIN_EXE_evalkit"))
                .args(["fast", path.to_str().unwrap(), "--json"])
                .output()
                .unwrap();
            assert!(out.status.success());
        })
    });
    g.finish();
}

/// The binary full tier with B = 1000 bootstrap intervals (every metric and
/// the bands) at 10⁶ rows, and DeLong's interval at 10⁷ rows (one sort of
/// the rows, then a pass over the distinct scores).
fn intervals(c: &mut Criterion) {
    let mut g = c.benchmark_group("intervals");
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    let (labels, scores) = data(1_000_000, 42);
    let scores = Floats::from(scores);
    let options = BinaryOptions::default();
    g.bench_function("bootstrap_b1000_n=1000000", |b| {
        b.iter(|| full(&labels, &scores, None, &options, &|_, _| {}))
    });
    // Rows against clusters (10⁴ clusters of 100 rows on average, keyed
    // by a random user id), unrounded float32 scores, Poisson and
    // multinomial: the cost of `--cluster`.
    let (labels, scores) = data_unrounded(1_000_000, 44);
    let scores = Floats::from(scores);
    let ids: ArrayRef = Arc::new(Int64Array::from(
        (0..labels.len() as u64)
            .map(|i| (word(44, 3, i) % 10_000) as i64)
            .collect::<Vec<i64>>(),
    ));
    let clusters =
        evalkit::clusters::Clusters::from_array(std::path::Path::new("bench"), "user", &ids)
            .unwrap();
    for resample in [Resample::Poisson, Resample::Multinomial] {
        for clustered in [false, true] {
            let options = BinaryOptions {
                intervals: IntervalOptions {
                    resample,
                    ..IntervalOptions::default()
                },
                clusters: clustered.then_some(&clusters),
                ..BinaryOptions::default()
            };
            let name = format!(
                "bootstrap_b1000_n=1000000 unrounded f32 {} {}",
                resample.as_str(),
                if clustered { "10000 clusters" } else { "rows" }
            );
            g.bench_function(name, |b| {
                b.iter(|| full(&labels, &scores, None, &options, &|_, _| {}))
            });
        }
    }
    let (labels, scores) = data(10_000_000, 43);
    let scores = Floats::from(scores);
    g.bench_function("delong_n=10000000", |b| {
        b.iter(|| {
            let curve = BinaryCurve::build(&labels, &scores, None);
            delong(&curve).unwrap()
        })
    });
    g.finish();
}

/// The full tier's one sort (radix, then small sorts) on its keys:
/// unrounded float32 scores widened to f64, with the label bit.
fn sort(c: &mut Criterion) {
    let mut g = c.benchmark_group("sort_descending");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for n in [1_000_000usize, 10_000_000] {
        let (labels, scores) = data_unrounded(n, 42);
        let keys: Vec<u64> = labels
            .iter()
            .zip(&scores)
            .map(|(&y, &p)| ((p as f64).to_bits() << 1) | y as u64)
            .collect();
        g.bench_function(format!("n={n} unrounded f32"), |b| {
            b.iter_batched(
                || keys.clone(),
                evalkit::metrics::sort::sort_descending,
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, full_tier, fast_process, intervals, sort);
criterion_main!(benches);
