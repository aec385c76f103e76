//! The inference pass (docs/spec.md §6): a model and a dataset in, a cached
//! prediction file out; the model never runs twice on the same data.
//!
//! 1. The cache key hashes the model's bytes, the data's bytes, the
//!    inference options and evalkit's major version ([`cache`]). A hit copies
//!    the cached file to `-o` (a copy, never a hard link) and runs nothing.
//! 2. On a miss the dataset is scanned with polars, only the needed columns,
//!    `--where` pushed into the scan ([`dataset`]).
//! 3. A producer thread turns the rows into contiguous batches in the
//!    model's input type (`f32` or float16, each value rounded once) while
//!    the main thread runs the previous batch through ONNX Runtime
//!    ([`runtime`]); per-batch latencies and rows/s are measured in the same
//!    pass, peak memory read from the OS.
//! 4. The scores become the `score` column (probability of class 1, a list
//!    of class probabilities, or the prediction), with the label and kept
//!    columns and the metadata of docs/spec.md §2, written atomically.

pub mod cache;
pub mod dataset;
pub mod runtime;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, FixedSizeListArray, Float32Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use serde_json::{Value, json};

use crate::data::{ScoreKind, Task};
use crate::error::{Error, Result};
use crate::output_file;
use cache::{Cache, Lookup};
use dataset::{Dataset, DatasetSpec};
use runtime::{Device, Features, Model};

/// Options of `evalkit infer`.
#[derive(Debug, Clone, PartialEq)]
pub struct InferOptions {
    /// The ONNX model.
    pub model: PathBuf,
    /// The dataset (Parquet, CSV or Arrow IPC).
    pub data: PathBuf,
    /// Where the prediction file goes.
    pub output: PathBuf,
    /// Columns and filter.
    pub dataset: DatasetSpec,
    /// Rows per batch.
    pub batch_size: usize,
    /// Where the model runs.
    pub device: Device,
    /// Intra-op threads (0: one per core).
    pub threads: usize,
    /// The model output to use as the score.
    pub output_name: Option<String>,
    /// What the model outputs: probabilities, or logits to squash.
    pub score_kind: ScoreKind,
    /// The task, when the output's shape does not settle it.
    pub task: Option<Task>,
    /// Class names, for classification.
    pub classes: Option<Vec<String>>,
    /// The cache folder (`None`: `$EVALKIT_CACHE`, else `.evalkit/cache`).
    pub cache_dir: Option<PathBuf>,
    /// Skip the cache.
    pub no_cache: bool,
}

impl InferOptions {
    /// Options with the defaults of the command line.
    pub fn new(model: &Path, data: &Path, output: &Path) -> InferOptions {
        InferOptions {
            model: model.to_path_buf(),
            data: data.to_path_buf(),
            output: output.to_path_buf(),
            dataset: DatasetSpec::default(),
            batch_size: 4096,
            device: Device::Cpu,
            threads: 0,
            output_name: None,
            score_kind: ScoreKind::Probability,
            task: None,
            classes: None,
            cache_dir: None,
            no_cache: false,
        }
    }

    /// The options that decide the output, as canonical JSON (part of the
    /// cache key).
    pub fn config(&self) -> Value {
        json!({
            "label": self.dataset.label,
            "features": self.dataset.features,
            "keep": self.dataset.keep,
            "where": self.dataset.filter,
            "fill_null": self.dataset.fill_null,
            "batch_size": self.batch_size,
            "device": self.device.name(),
            "output": self.output_name,
            "score_kind": self.score_kind.as_str(),
            "task": self.task.map(|t| t.as_str()),
            "classes": self.classes,
        })
    }
}

/// Whether the cache served the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Served from the cache: no inference ran.
    Hit,
    /// Computed and stored.
    Miss,
    /// `--no-cache`.
    Disabled,
}

impl CacheStatus {
    /// "hit", "miss" or "disabled".
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Disabled => "disabled",
        }
    }
}

/// What `infer` did.
#[derive(Debug, Clone, PartialEq)]
pub struct InferReport {
    /// The prediction file written.
    pub output: PathBuf,
    /// Cache hit, miss, or disabled.
    pub cache: CacheStatus,
    /// The cache key.
    pub key: String,
    /// The cache entry, when the cache is on.
    pub entry: Option<PathBuf>,
    /// Notes (a corrupt cache entry that was recomputed, …).
    pub notes: Vec<String>,
    /// The prediction file's metadata (on a hit: the run that made it).
    pub metadata: BTreeMap<String, String>,
}

impl InferReport {
    /// A metadata value parsed as JSON.
    pub fn metadata_json(&self, key: &str) -> Option<Value> {
        self.metadata
            .get(key)
            .and_then(|v| serde_json::from_str(v).ok())
    }
}

/// Runs the inference pass. `progress(rows done, rows)` is called as batches
/// finish.
pub fn infer(
    options: &InferOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<InferReport> {
    if options.batch_size == 0 {
        return Err(Error::usage("--batch-size must be at least 1"));
    }
    if let Some(v) = options.dataset.fill_null
        && !(v as f32).is_finite()
    {
        return Err(Error::usage(format!(
            "--fill-null {v} is not a finite number (as the f32 the model takes); give a finite value such as 0"
        )));
    }
    // The output is checked before any work: a path that must not be
    // replaced (a FIFO, a device, a read-only file, …) fails now.
    cache::create_parent(&options.output)?;
    let output = output_file::check(&options.output)?;
    for (input, what) in [(&options.model, "model"), (&options.data, "data")] {
        if same_file(input, output.target()) {
            return Err(Error::usage(format!(
                "-o {} is the {what} file: choose another path for the predictions",
                options.output.display()
            )));
        }
    }
    let model_hash = cache::hash_file(&options.model)?;
    let data_hash = cache::hash_file(&options.data)?;
    let config = options.config();
    let key = cache::key(&model_hash, &data_hash, &config);
    through_cache(options, &output, key, &|tmp: &Path| {
        run(options, &model_hash, &data_hash, &config, tmp, progress)
    })
}

/// Serves `key` from the cache into `output` (a copy), or computes it with
/// `compute(tmp)` (which writes the prediction file to `tmp` and returns its
/// metadata), stores it and copies it out; `--no-cache` computes straight
/// into `output`. Shared by `infer` and [`BlockScorer`].
fn through_cache(
    options: &InferOptions,
    output: &output_file::Output,
    key: String,
    compute: &dyn Fn(&Path) -> Result<BTreeMap<String, String>>,
) -> Result<InferReport> {
    let mut notes = Vec::new();
    let target = output.path().to_path_buf();
    let uncached = |notes: Vec<String>| -> Result<InferReport> {
        let tmp = output.temp();
        let metadata = compute(&tmp).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
        output.commit(&tmp)?;
        Ok(InferReport {
            output: target.clone(),
            cache: CacheStatus::Disabled,
            key: key.clone(),
            entry: None,
            notes,
            metadata,
        })
    };
    if options.no_cache {
        return uncached(notes);
    }

    let dir = options.cache_dir.clone().unwrap_or_else(Cache::default_dir);
    let store = Cache::new(&dir);
    let hit = |entry: PathBuf, notes: Vec<String>| -> Result<InferReport> {
        output.copy_from(&entry)?;
        let metadata = read_metadata(&entry)?;
        Ok(InferReport {
            output: target.clone(),
            cache: CacheStatus::Hit,
            key: key.clone(),
            entry: Some(entry),
            notes,
            metadata,
        })
    };
    let _lock = match store.lock(&key) {
        Ok(lock) => lock,
        Err(e) => {
            // A cache we cannot lock (read-only, or not a folder): a verified
            // entry is still served; otherwise the run goes on without it.
            return match store.peek(&key) {
                Lookup::Hit(entry) => {
                    notes.push(format!(
                        "{e}; the cache entry was read without the lock (pass --no-cache to skip the cache)"
                    ));
                    hit(entry, notes)
                }
                _ => {
                    notes.push(format!(
                        "{e}; running without the cache (pass --no-cache to skip it)"
                    ));
                    uncached(notes)
                }
            };
        }
    };
    match store.lookup(&key)? {
        Lookup::Hit(entry) => return hit(entry, notes),
        Lookup::Corrupt(why) => notes.push(format!("{why}; recomputing")),
        Lookup::Miss => {}
    }
    let tmp = store.temp_path(&key)?;
    let metadata = compute(&tmp).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    let entry = store.store(&key, &tmp)?;
    output.copy_from(&entry)?;
    Ok(InferReport {
        output: target,
        cache: CacheStatus::Miss,
        key,
        entry: Some(entry),
        notes,
        metadata,
    })
}

/// The inference pass over blocks of rows held in memory, one model loaded
/// once for them all: what an engine's worker runs (`evalkit.ray.infer`
/// keeps one per actor). Each block, given as the bytes of an Arrow IPC
/// stream, becomes one prediction file, exactly as `evalkit infer` would
/// write it for a file of those rows (same columns, same scores bit for
/// bit, same metadata but `evalkit.data`, which names the block), cached by
/// content: the key hashes the model's bytes, the block's IPC bytes, the
/// options and evalkit's major version (docs/spec.md §6).
pub struct BlockScorer {
    options: InferOptions,
    /// Loaded at the first block the cache does not serve.
    model: Option<Model>,
    model_hash: blake3::Hash,
    threads: usize,
    config: Value,
}

impl BlockScorer {
    /// A scorer of `options.model` (its `data`, `output` and
    /// `dataset.filter` are not used: blocks come to
    /// [`BlockScorer::score`]). The model file is hashed now and loaded
    /// into ONNX Runtime at the first block the cache does not serve, so a
    /// run served wholly by the cache never starts a session.
    pub fn new(options: InferOptions) -> Result<BlockScorer> {
        if options.batch_size == 0 {
            return Err(Error::usage("batch_size must be at least 1"));
        }
        if options.dataset.filter.is_some() {
            return Err(Error::usage(
                "a filter does not apply to blocks: filter the dataset before inference",
            ));
        }
        if let Some(v) = options.dataset.fill_null
            && !(v as f32).is_finite()
        {
            return Err(Error::usage(format!(
                "fill_null {v} is not a finite number (as the f32 the model takes); give a finite value such as 0"
            )));
        }
        let threads = threads_of(options.threads);
        let model_hash = cache::hash_file(&options.model)?;
        let config = options.config();
        Ok(BlockScorer {
            options,
            model: None,
            model_hash,
            threads,
            config,
        })
    }

    /// Runs the model over one block (`name` names it in errors and in the
    /// metadata) and writes its prediction file to `output`, atomically;
    /// through the cache unless the options say `no_cache`.
    pub fn score(&mut self, name: &str, block: &[u8], output: &Path) -> Result<InferReport> {
        cache::create_parent(output)?;
        let out = output_file::check(output)?;
        let data_hash = blake3::hash(block);
        let key = cache::key(&self.model_hash, &data_hash, &self.config);
        let BlockScorer {
            options,
            model,
            model_hash,
            threads,
            config,
        } = self;
        // The model is used by one block at a time; `compute` is a `Fn`.
        let model = std::sync::Mutex::new(model);
        through_cache(options, &out, key, &|tmp: &Path| {
            let data = Dataset::from_ipc_stream(name, block, &options.dataset)?;
            let source = source_of(name, Some(block.len() as u64), &data, &data_hash);
            let run = Run {
                options,
                model_hash,
                threads: *threads,
                config,
            };
            let mut slot = model
                .lock()
                .map_err(|_| Error::usage("the model failed on an earlier block"))?;
            let model = match &mut **slot {
                Some(m) => m,
                empty => empty.insert(Model::load(
                    &options.model,
                    options.device,
                    *threads,
                    options.output_name.as_deref(),
                )?),
            };
            run.predict(model, &data, source, tmp, &|_, _| {})
        })
    }
}

/// Whether `a` and `b` are the same file (same device and inode).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
    }
}

fn read_metadata(path: &Path) -> Result<BTreeMap<String, String>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
    let reader = arrow::ipc::reader::FileReader::try_new(file, None)
        .map_err(|e| Error::bad_format(path, format!("cannot be read: {e}")))?;
    Ok(reader
        .schema()
        .metadata()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

/// Reads, runs and writes the prediction file to `tmp`; returns its metadata.
fn run(
    options: &InferOptions,
    model_hash: &blake3::Hash,
    data_hash: &blake3::Hash,
    config: &Value,
    tmp: &Path,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<BTreeMap<String, String>> {
    let data = Dataset::read(&options.data, &options.dataset)?;
    let threads = threads_of(options.threads);
    let mut model = Model::load(
        &options.model,
        options.device,
        threads,
        options.output_name.as_deref(),
    )?;
    let bytes = std::fs::metadata(&options.data).map(|m| m.len()).ok();
    let source = source_of(&options.data.display().to_string(), bytes, &data, data_hash);
    let run = Run {
        options,
        model_hash,
        threads,
        config,
    };
    run.predict(&mut model, &data, source, tmp, progress)
}

/// The `evalkit.data` metadata: where the rows came from (a path, or a
/// block's name), its bytes, rows, features and content hash.
fn source_of(path: &str, bytes: Option<u64>, data: &Dataset, hash: &blake3::Hash) -> Value {
    json!({
        "path": path,
        "bytes": bytes,
        "rows": data.rows(),
        "features": data.features,
        "blake3": hash.to_hex().to_string(),
    })
}

/// Intra-op threads: `threads`, or one per core for 0.
fn threads_of(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    }
}

/// What a pass over one dataset needs besides the model and the rows.
struct Run<'a> {
    options: &'a InferOptions,
    model_hash: &'a blake3::Hash,
    threads: usize,
    config: &'a Value,
}

impl Run<'_> {
    /// Runs the model over `data` and writes the prediction file to `tmp`
    /// (`source`: the `evalkit.data` metadata); returns its metadata.
    fn predict(
        &self,
        model: &mut Model,
        data: &Dataset,
        source: Value,
        tmp: &Path,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<BTreeMap<String, String>> {
        let options = self.options;
        let threads = self.threads;
        let f = data.features.len();
        if let Some(expected) = model.features
            && expected != f
        {
            return Err(Error::usage(format!(
                "{} expects {expected} features but {} gives {f} ({}); name them in the model's order with --features",
                options.model.display(),
                data.path.display(),
                preview(&data.features)
            )));
        }
        // Producer: batches converted while the previous one runs.
        let rows = data.rows();
        let batch = options.batch_size;
        let mut scores: Vec<f32> = Vec::with_capacity(rows * 2);
        let mut latencies = Vec::with_capacity(rows.div_ceil(batch));
        let mut width = 0usize;
        let start = Instant::now();
        std::thread::scope(|s| -> Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(usize, Features)>>(2);
            let data = &data;
            let precision = model.input_type;
            s.spawn(move || {
                let mut at = 0;
                while at < rows {
                    let len = batch.min(rows - at);
                    let mut buf = Features::new(precision);
                    let item = data.batch(at, len, &mut buf).map(|_| (len, buf));
                    let failed = item.is_err();
                    if tx.send(item).is_err() || failed {
                        break;
                    }
                    at += len;
                }
            });
            let mut done = 0;
            for item in rx {
                let (len, buf) = item?;
                let t = Instant::now();
                let w = model.run(buf.all(), len, f, &mut scores)?;
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                if width != 0 && w != width {
                    return Err(Error::usage(format!(
                        "output '{}' changed width between batches ({width} then {w})",
                        model.output.name
                    )));
                }
                width = w;
                done += len;
                progress(done, rows);
            }
            Ok(())
        })?;
        let seconds = start.elapsed().as_secs_f64();
        // Rows/s over the whole pass (reading, converting, the model), and over
        // the time inside ONNX Runtime's run alone: the batch latencies' sum.
        let model_seconds: f64 = latencies.iter().sum::<f64>() / 1000.0;
        let mut sorted = latencies.clone();
        sorted.sort_by(f64::total_cmp);
        let stats = json!({
            "provider": model.provider,
            "device": options.device.name(),
            "batch_size": batch,
            "threads": threads,
            "batches": latencies.len(),
            "rows": rows,
            "seconds": seconds,
            "rows_per_s": rows as f64 / seconds.max(1e-9),
            "model_seconds": model_seconds,
            "model_rows_per_s": rows as f64 / model_seconds.max(1e-9),
            "latency_ms": {
                "p50": crate::profile::stats::percentile(&sorted, 50.0),
                "p95": crate::profile::stats::percentile(&sorted, 95.0),
                "p99": crate::profile::stats::percentile(&sorted, 99.0),
            },
            "peak_rss_bytes": crate::profile::peak_rss_bytes(),
        });

        let (task, score, how) = assemble(
            options,
            model,
            scores,
            width,
            rows,
            data.label.as_ref().map(|l| &l.1),
        )?;
        let k = match score.data_type() {
            DataType::FixedSizeList(_, k) => *k as usize,
            _ => 2,
        };
        let classes: Option<Vec<String>> = match task {
            Task::Regression | Task::Ranking => None,
            _ => Some(match &options.classes {
                Some(c) if c.len() == k => c.clone(),
                Some(c) => {
                    return Err(Error::usage(format!(
                        "--classes names {} classes but the model gives {k}",
                        c.len()
                    )));
                }
                None => (0..k).map(|c| c.to_string()).collect(),
            }),
        };

        let mut metadata = BTreeMap::new();
        metadata.insert("evalkit.format_version".to_string(), "1".to_string());
        metadata.insert("evalkit.task".to_string(), task.as_str().to_string());
        if let Some(c) = &classes {
            metadata.insert("evalkit.classes".to_string(), json!(c).to_string());
        }
        metadata.insert("evalkit.score_kind".to_string(), "probability".to_string());
        let bytes = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
        metadata.insert(
            "evalkit.model".to_string(),
            json!({
                "path": options.model.display().to_string(),
                "bytes": bytes(&options.model),
                "blake3": self.model_hash.to_hex().to_string(),
                "output": model.output.name,
                "output_shape": model.output.shape,
                "input_type": model.input_type.name(),
                "output_type": model.output_type.name(),
                "score": how,
            })
            .to_string(),
        );
        metadata.insert("evalkit.data".to_string(), source.to_string());
        metadata.insert("evalkit.config".to_string(), self.config.to_string());
        metadata.insert(
            "evalkit.created_by".to_string(),
            format!("evalkit {}", crate::VERSION),
        );
        metadata.insert("evalkit.inference".to_string(), stats.to_string());
        if data.label.is_none() {
            metadata.insert("evalkit.labels".to_string(), "none".to_string());
        }

        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        if let Some((name, a)) = &data.label {
            fields.push(Field::new(
                "label",
                a.data_type().clone(),
                a.null_count() > 0,
            ));
            columns.push(a.clone());
            if name != "label" {
                metadata.insert("evalkit.label_column".to_string(), name.clone());
            }
        }
        fields.push(Field::new("score", score.data_type().clone(), false));
        columns.push(score);
        for (name, a) in &data.keep {
            if name == "label" || name == "score" {
                return Err(Error::usage(format!(
                    "--keep {name}: the prediction file already has a '{name}' column"
                )));
            }
            fields.push(Field::new(name, a.data_type().clone(), true));
            columns.push(a.clone());
        }
        let schema = Arc::new(
            Schema::new(fields).with_metadata(
                metadata
                    .clone()
                    .into_iter()
                    .collect::<std::collections::HashMap<_, _>>(),
            ),
        );
        let record = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| Error::usage(format!("cannot assemble the prediction file: {e}")))?;
        let write = || -> std::result::Result<(), Box<dyn std::error::Error>> {
            let file = output_file::create_new(tmp)?;
            let mut w =
                arrow::ipc::writer::FileWriter::try_new(std::io::BufWriter::new(file), &schema)?;
            w.write(&record)?;
            w.finish()?;
            let file = w.into_inner()?.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            Ok(())
        };
        write().map_err(|e| {
            Error::io(
                tmp,
                "cannot write the prediction file",
                std::io::Error::other(e.to_string()),
            )
        })?;
        Ok(metadata)
    }
}

fn preview(names: &[String]) -> String {
    if names.len() <= 6 {
        names.join(", ")
    } else {
        format!("{}, … {}", names[..4].join(", "), names[names.len() - 1])
    }
}

/// The score column from the model's output: decides the task, applies
/// sigmoid/softmax for logits, and checks probabilities.
fn assemble(
    options: &InferOptions,
    model: &Model,
    scores: Vec<f32>,
    width: usize,
    rows: usize,
    label: Option<&ArrayRef>,
) -> Result<(Task, ArrayRef, String)> {
    let out = &model.output.name;
    let label_is_float = label.is_some_and(|l| {
        matches!(
            l.data_type(),
            DataType::Float16 | DataType::Float32 | DataType::Float64
        )
    });
    let task = match (options.task, width) {
        (Some(t), _) => t,
        (None, 0) => return Err(Error::usage(format!("output '{out}' is empty"))),
        (None, 1) if label.is_some() && !label_is_float => Task::Binary,
        (None, 1) => Task::Regression,
        (None, 2) => Task::Binary,
        (None, _) => Task::Multiclass,
    };
    let logit = options.score_kind == ScoreKind::Logit;
    let bad = |row: usize, v: f32, what: &str| {
        Error::usage(format!(
            "output '{out}' gives {v} at row {row}: {what}{}",
            if logit {
                ""
            } else {
                "; if the model outputs logits, pass --score-kind logit"
            }
        ))
    };
    if let Some(i) = scores.iter().position(|v| !v.is_finite()) {
        return Err(Error::usage(format!(
            "output '{out}' gives {} at row {}: not a finite number",
            scores[i],
            i / width.max(1)
        )));
    }
    let softmax = |row: &[f32]| -> Vec<f32> {
        let mut v: Vec<f64> = row.iter().map(|&x| x as f64).collect();
        crate::data::softmax_in_place(&mut v);
        v.into_iter().map(|x| x as f32).collect()
    };
    let how;
    let column: ArrayRef = match (task, width) {
        (Task::Regression, 1) => {
            if logit {
                return Err(Error::usage(
                    "--score-kind logit does not apply to a regression output",
                ));
            }
            how = format!("'{out}' as the prediction");
            Arc::new(Float32Array::from(scores))
        }
        (Task::Ranking, 1) => {
            if logit {
                return Err(Error::usage(
                    "--score-kind logit does not apply to a ranking score",
                ));
            }
            how = format!("'{out}' as the ranking score");
            Arc::new(Float32Array::from(scores))
        }
        (Task::Binary, 1) => {
            let p: Vec<f32> = if logit {
                scores
                    .iter()
                    .map(|&x| crate::data::sigmoid(x as f64) as f32)
                    .collect()
            } else {
                scores
            };
            if let Some(i) = p.iter().position(|v| !(0.0..=1.0).contains(v)) {
                return Err(bad(i, p[i], "not a probability in [0, 1]"));
            }
            how = format!(
                "'{out}'{} as the probability of class 1",
                if logit { " through a sigmoid" } else { "" }
            );
            Arc::new(Float32Array::from(p))
        }
        (Task::Binary, 2) => {
            let p: Vec<f32> = scores
                .chunks_exact(2)
                .map(|r| if logit { softmax(r)[1] } else { r[1] })
                .collect();
            if let Some(i) = p.iter().position(|v| !(0.0..=1.0).contains(v)) {
                return Err(bad(i, p[i], "not a probability in [0, 1]"));
            }
            how = format!(
                "column 1 of '{out}'{} as the probability of class 1",
                if logit { " after a softmax" } else { "" }
            );
            Arc::new(Float32Array::from(p))
        }
        (Task::Multiclass, k) if k >= 2 => {
            let flat: Vec<f32> = if logit {
                scores.chunks_exact(k).flat_map(softmax).collect()
            } else {
                scores
            };
            if let Some(i) = flat.iter().position(|v| !(0.0..=1.0).contains(v)) {
                return Err(bad(i / k, flat[i], "not a probability in [0, 1]"));
            }
            how = format!(
                "'{out}'{} as the class probabilities",
                if logit { " after a softmax" } else { "" }
            );
            let field = Arc::new(Field::new("item", DataType::Float32, false));
            Arc::new(
                FixedSizeListArray::try_new(
                    field,
                    k as i32,
                    Arc::new(Float32Array::from(flat)),
                    None,
                )
                .map_err(|e| Error::usage(format!("cannot assemble the scores: {e}")))?,
            )
        }
        (t, k) => {
            return Err(Error::usage(format!(
                "output '{out}' gives {k} value(s) per row, which does not fit a {t} task"
            )));
        }
    };
    debug_assert_eq!(column.len(), rows);
    Ok((task, column, how))
}
