//! Reading prediction files (docs/spec.md §2).
//!
//! A prediction file holds one row per example: a `label` column, a `score`
//! column and optionally a `weight` column, plus any passthrough columns.
//! [`read_predictions`] reads it into [`Predictions`], validating every value
//! once so that the metric code never sees a NaN, a label outside the classes
//! or a negative weight.
//!
//! Formats, recognised by their leading bytes rather than the file name:
//!
//! | format | how it is read |
//! |---|---|
//! | Arrow IPC file (`ARROW1`) | memory-mapped; columns are zero-copy views of the mapping |
//! | Arrow IPC stream | polars |
//! | Parquet (`PAR1`) | polars |
//! | CSV (text) | polars |
//!
//! A file cut short inside its magic bytes (`ARR`, `PA`, a short run of
//! `0xFF`) is reported as a truncated file of that format. Before polars
//! reads an Arrow IPC stream or a Parquet file, its framing is walked without
//! decoding data (stream messages; the Parquet footer and page headers), so
//! that a file cut short or with a corrupt length or count is reported as
//! such rather than handed to a reader that would trust it.
//!
//! The path `-` is standard input (named "standard input" in messages). A
//! path that is not a regular file — a FIFO, `/dev/stdin`, a shell's
//! `<(…)` — is read into memory once and then recognised and parsed from
//! the bytes like a file (an Arrow IPC file is then decoded from memory).
//!
//! The task is taken from `--task`, else from the file's `evalkit.task`
//! metadata, else inferred: float labels → regression, list scores (or several
//! score columns) → multiclass, otherwise binary. [`Predictions::task_reason`]
//! says which rule applied so the faces can state it.

mod convert;
mod floats;
mod ipc;
mod parquet;
mod polars_bridge;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};

pub use convert::{REGRESSION_LIMIT, WEIGHT_LIMIT, amounts, sigmoid, softmax_in_place};
pub use floats::{Float, Floats};
pub(crate) use polars_bridge::frame_to_arrow;

use crate::error::{Error, Result, contain};

/// What kind of prediction problem a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Two classes; the score is the probability of class 1.
    Binary,
    /// `k` classes; the score is a list of `k` probabilities.
    Multiclass,
    /// A real-valued target; the score is the prediction.
    Regression,
    /// Items ranked within queries: a relevance label (`≥ 0`) and a score
    /// per (query, item) row, the query in its own column.
    Ranking,
}

impl Task {
    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Binary => "binary",
            Task::Multiclass => "multiclass",
            Task::Regression => "regression",
            Task::Ranking => "ranking",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Task {
    type Err = Error;
    fn from_str(s: &str) -> Result<Task> {
        match s {
            "binary" => Ok(Task::Binary),
            "multiclass" => Ok(Task::Multiclass),
            "regression" => Ok(Task::Regression),
            "ranking" => Ok(Task::Ranking),
            other => Err(Error::usage(format!(
                "unknown task '{other}': expected binary, multiclass, regression or ranking"
            ))),
        }
    }
}

/// What the score column holds for a classification task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreKind {
    /// Probabilities in [0, 1] (multiclass: each row sums to 1).
    Probability,
    /// Logits: a sigmoid (binary) or softmax (multiclass) is applied on reading.
    Logit,
}

impl ScoreKind {
    /// The name used on the command line and in metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            ScoreKind::Probability => "probability",
            ScoreKind::Logit => "logit",
        }
    }
}

impl FromStr for ScoreKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<ScoreKind> {
        match s {
            "probability" => Ok(ScoreKind::Probability),
            "logit" => Ok(ScoreKind::Logit),
            other => Err(Error::usage(format!(
                "unknown score kind '{other}': expected probability or logit"
            ))),
        }
    }
}

/// Which columns to read and how to interpret them.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The label column (default `label`).
    pub label: String,
    /// The score column; several names make a multiclass score, one column
    /// per class in order (for formats without list columns, such as CSV).
    pub score: Vec<String>,
    /// The weight column. `None` uses a column named `weight` when there is
    /// one.
    pub weight: Option<String>,
    /// The task; `None` takes it from the metadata or infers it.
    pub task: Option<Task>,
    /// What the scores are; `None` takes it from the metadata, else
    /// probabilities.
    pub score_kind: Option<ScoreKind>,
    /// Passthrough columns to keep (row ids, slice keys), read as they are.
    pub extra: Vec<String>,
    /// The cluster column (`--cluster`): rows sharing a value are resampled
    /// together ([`crate::clusters`]).
    pub cluster: Option<String>,
    /// The query column of a ranking (`--query`); `None` uses a column
    /// named `query` when there is one (which makes the task ranking
    /// unless told otherwise).
    pub query: Option<String>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            label: "label".to_string(),
            score: vec!["score".to_string()],
            weight: None,
            task: None,
            score_kind: None,
            extra: Vec::new(),
            cluster: None,
            query: None,
        }
    }
}

/// The validated columns of a prediction file, by task.
#[derive(Debug, Clone)]
pub enum Columns {
    /// Binary classification.
    Binary {
        /// Class index per row, 0 or 1.
        labels: Vec<u8>,
        /// Probability of class 1 per row, in [0, 1].
        scores: Floats,
    },
    /// Multiclass classification.
    Multiclass {
        /// Class index per row, in `0..classes`.
        labels: Vec<u32>,
        /// Row-major `rows × classes` probabilities; every row sums to 1.
        scores: Floats,
        /// Number of classes.
        classes: usize,
    },
    /// Regression.
    Regression {
        /// Target per row (finite).
        labels: Floats,
        /// Prediction per row (finite).
        scores: Floats,
    },
    /// Ranking.
    Ranking {
        /// Relevance per row (finite, `≥ 0`; above 0 is relevant).
        labels: Floats,
        /// Score per row (finite; higher ranks first).
        scores: Floats,
        /// Each row's query.
        queries: crate::clusters::Clusters,
        /// The query column as read (to name queries).
        ids: ArrayRef,
    },
}

/// A prediction file, read and validated.
#[derive(Debug, Clone)]
pub struct Predictions {
    /// The file it came from.
    pub path: PathBuf,
    /// The task.
    pub task: Task,
    /// How the task was decided, in words ("given with --task", …).
    pub task_reason: String,
    /// The label, score and weight columns, validated.
    pub columns: Columns,
    /// Per-row weights (finite, ≥ 0, not all 0), when the file has them.
    pub weights: Option<Floats>,
    /// The name of the weight column in use.
    pub weight_column: Option<String>,
    /// What the score column held before reading (logits are turned into
    /// probabilities on reading).
    pub score_kind: ScoreKind,
    /// Class names: from `evalkit.classes` when present, else `"0"`, `"1"`, …
    /// (empty for regression).
    pub class_names: Vec<String>,
    /// Schema metadata of the file (all keys, `evalkit.*` included).
    pub metadata: BTreeMap<String, String>,
    /// The passthrough columns asked for in [`ReadOptions::extra`].
    pub extra: Vec<(String, ArrayRef)>,
    /// Each row's cluster, when [`ReadOptions::cluster`] names a column.
    pub clusters: Option<crate::clusters::Clusters>,
}

/// What describes a set of rows besides their values: where they came
/// from, the task, the row count, the classes and the weighting. The JSON
/// documents and tables print it; state files carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The file (or the first of several, or the state file) they came from.
    pub path: PathBuf,
    /// The task.
    pub task: Task,
    /// How the task was decided, in words.
    pub task_reason: String,
    /// Rows, those of weight 0 included.
    pub rows: u64,
    /// Inputs merged (1 for one prediction file or one state file).
    pub sources: u64,
    /// Whether rows carry weights.
    pub weighted: bool,
    /// The weight column in use.
    pub weight_column: Option<String>,
    /// Class names (empty for regression).
    pub class_names: Vec<String>,
    /// What the score column held before reading.
    pub score_kind: ScoreKind,
}

impl Predictions {
    /// The rows' description.
    pub fn header(&self) -> Header {
        Header {
            path: self.path.clone(),
            task: self.task,
            task_reason: self.task_reason.clone(),
            rows: self.rows() as u64,
            sources: 1,
            weighted: self.weights.is_some(),
            weight_column: self.weight_column.clone(),
            class_names: self.class_names.clone(),
            score_kind: self.score_kind,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        match &self.columns {
            Columns::Binary { labels, .. } => labels.len(),
            Columns::Multiclass { labels, .. } => labels.len(),
            Columns::Regression { labels, .. } => labels.len(),
            Columns::Ranking { labels, .. } => labels.len(),
        }
    }

    /// The rows `rows`, in that order (a copy): to align one file's rows
    /// with another's.
    pub fn gather(&self, rows: &[u32]) -> Predictions {
        let columns = match &self.columns {
            Columns::Binary { labels, scores } => Columns::Binary {
                labels: rows.iter().map(|&r| labels[r as usize]).collect(),
                scores: scores.gather(rows),
            },
            Columns::Multiclass {
                labels,
                scores,
                classes,
            } => {
                let k = *classes;
                let flat: Vec<f64> = rows
                    .iter()
                    .flat_map(|&r| (0..k).map(move |c| (r as usize, c)))
                    .map(|(r, c)| scores.get(r * k + c))
                    .collect();
                Columns::Multiclass {
                    labels: rows.iter().map(|&r| labels[r as usize]).collect(),
                    scores: Floats::from(flat),
                    classes: k,
                }
            }
            Columns::Regression { labels, scores } => Columns::Regression {
                labels: labels.gather(rows),
                scores: scores.gather(rows),
            },
            Columns::Ranking {
                labels,
                scores,
                queries,
                ids,
            } => {
                let queries = queries.gather(rows);
                // `take` of rows of the column cannot fail; were it to, the
                // queries would be named by their keys.
                let ids = arrow::compute::take(
                    ids.as_ref(),
                    &arrow::array::UInt32Array::from(rows.to_vec()),
                    None,
                )
                .unwrap_or_else(|_| {
                    std::sync::Arc::new(arrow::array::StringArray::from_iter_values(
                        queries.keys().iter().map(|k| format!("{k:016x}")),
                    ))
                });
                Columns::Ranking {
                    labels: labels.gather(rows),
                    scores: scores.gather(rows),
                    queries,
                    ids,
                }
            }
        };
        let indices = arrow::array::UInt32Array::from(rows.to_vec());
        Predictions {
            columns,
            weights: self.weights.as_ref().map(|w| w.gather(rows)),
            extra: self
                .extra
                .iter()
                .filter_map(|(n, a)| {
                    arrow::compute::take(a.as_ref(), &indices, None)
                        .ok()
                        .map(|a| (n.clone(), a))
                })
                .collect(),
            clusters: self.clusters.as_ref().map(|c| c.gather(rows)),
            ..self.clone_header()
        }
    }

    /// Everything but the columns (cheap: metadata and names).
    fn clone_header(&self) -> Predictions {
        Predictions {
            path: self.path.clone(),
            task: self.task,
            task_reason: self.task_reason.clone(),
            columns: Columns::Binary {
                labels: Vec::new(),
                scores: Floats::from(Vec::<f64>::new()),
            },
            weights: None,
            weight_column: self.weight_column.clone(),
            score_kind: self.score_kind,
            class_names: self.class_names.clone(),
            metadata: self.metadata.clone(),
            extra: Vec::new(),
            clusters: None,
        }
    }

    /// A passthrough column read through [`ReadOptions::extra`].
    pub fn extra(&self, name: &str) -> Option<&ArrayRef> {
        self.extra.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// Builds predictions from in-memory columns (used by tests, benches and
    /// the Python binding). Values are validated exactly as when reading a
    /// file; `name` stands in for the file name in error messages.
    pub fn from_arrays(
        name: &str,
        label: ArrayRef,
        score: Vec<ArrayRef>,
        weight: Option<ArrayRef>,
        task: Option<Task>,
        score_kind: Option<ScoreKind>,
    ) -> Result<Predictions> {
        Predictions::build(name, label, score, weight, None, task, score_kind)
    }

    /// A ranking from in-memory columns: relevance labels, one score per
    /// row and each row's query id ([`Predictions::from_arrays`]'s checks;
    /// the query column is named `query` in messages).
    pub fn ranking_from_arrays(
        name: &str,
        label: ArrayRef,
        score: ArrayRef,
        query: ArrayRef,
    ) -> Result<Predictions> {
        Predictions::build(
            name,
            label,
            vec![score],
            None,
            Some(query),
            Some(Task::Ranking),
            None,
        )
    }

    fn build(
        name: &str,
        label: ArrayRef,
        score: Vec<ArrayRef>,
        weight: Option<ArrayRef>,
        query: Option<ArrayRef>,
        task: Option<Task>,
        score_kind: Option<ScoreKind>,
    ) -> Result<Predictions> {
        let path = PathBuf::from(name);
        let mut fields = vec![arrow::datatypes::Field::new(
            "label",
            label.data_type().clone(),
            true,
        )];
        let mut arrays = vec![label];
        let mut score_names = Vec::new();
        for (i, s) in score.into_iter().enumerate() {
            let name = if i == 0 {
                "score".to_string()
            } else {
                format!("score_{i}")
            };
            fields.push(arrow::datatypes::Field::new(
                &name,
                s.data_type().clone(),
                true,
            ));
            arrays.push(s);
            score_names.push(name);
        }
        let has_weight = weight.is_some();
        if let Some(w) = weight {
            fields.push(arrow::datatypes::Field::new(
                "weight",
                w.data_type().clone(),
                true,
            ));
            arrays.push(w);
        }
        let has_query = query.is_some();
        if let Some(q) = query {
            fields.push(arrow::datatypes::Field::new(
                "query",
                q.data_type().clone(),
                true,
            ));
            arrays.push(q);
        }
        let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| Error::usage(format!("{name}: the arrays do not fit together: {e}")))?;
        let table = Table {
            path,
            schema,
            batches: vec![batch],
        };
        let options = ReadOptions {
            label: "label".into(),
            score: score_names,
            weight: has_weight.then(|| "weight".to_string()),
            task,
            score_kind,
            extra: Vec::new(),
            cluster: None,
            query: has_query.then(|| "query".to_string()),
        };
        convert::predictions_from_table(table, &options)
    }
}

/// The values of an integer column of any width and signedness, widened to
/// `i128` (nulls read as their buffer's value: check validity first); `None`
/// for other types. Ids, cluster keys and slice keys read integers alike.
pub fn int_values(array: &ArrayRef) -> Option<Vec<i128>> {
    use arrow::array::AsArray;
    use arrow::datatypes::{
        Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
    };
    macro_rules! ints {
        ($t:ty) => {
            array
                .as_primitive::<$t>()
                .values()
                .iter()
                .map(|&v| v as i128)
                .collect()
        };
    }
    Some(match array.data_type() {
        DataType::Int8 => ints!(Int8Type),
        DataType::Int16 => ints!(Int16Type),
        DataType::Int32 => ints!(Int32Type),
        DataType::Int64 => ints!(Int64Type),
        DataType::UInt8 => ints!(UInt8Type),
        DataType::UInt16 => ints!(UInt16Type),
        DataType::UInt32 => ints!(UInt32Type),
        DataType::UInt64 => ints!(UInt64Type),
        _ => return None,
    })
}

/// A file's schema and record batches, from whichever reader read it.
pub(crate) struct Table {
    pub path: PathBuf,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// The column as one array (batches concatenated when there are several;
    /// a single batch stays zero-copy).
    pub fn column(&self, name: &str) -> Result<Option<ArrayRef>> {
        let Ok(index) = self.schema.index_of(name) else {
            return Ok(None);
        };
        let chunks: Vec<&dyn arrow::array::Array> = self
            .batches
            .iter()
            .map(|b| b.column(index).as_ref())
            .collect();
        match chunks.len() {
            0 => Ok(Some(arrow::array::new_empty_array(
                self.schema.field(index).data_type(),
            ))),
            1 => Ok(Some(self.batches[0].column(index).clone())),
            _ => arrow::compute::concat(&chunks)
                .map(Some)
                .map_err(|e| Error::bad_column(&self.path, name, format!("cannot be read: {e}"))),
        }
    }

    /// "a, b, c (types)" for error messages.
    pub fn describe_columns(&self) -> String {
        let names: Vec<String> = self
            .schema
            .fields()
            .iter()
            .map(|f| format!("{} ({})", f.name(), short_type(f.data_type())))
            .collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    }
}

/// A short human name for an Arrow type.
pub(crate) fn short_type(t: &DataType) -> String {
    match t {
        DataType::FixedSizeList(f, k) => format!("list<{}, {k}>", short_type(f.data_type())),
        DataType::List(f) | DataType::LargeList(f) => {
            format!("list<{}>", short_type(f.data_type()))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".to_string(),
        other => other.to_string().to_lowercase(),
    }
}

/// The file formats evalkit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Arrow IPC file (memory-mapped, zero-copy).
    ArrowFile,
    /// Arrow IPC stream.
    ArrowStream,
    /// Parquet.
    Parquet,
    /// Comma-separated values with a header line.
    Csv,
}

/// Where a prediction file's bytes are.
pub(crate) enum Input {
    /// A regular file, read in place: memory-mapped (Arrow IPC file) or by
    /// polars from the file.
    File {
        /// The file.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
    },
    /// Standard input (`-`), a FIFO, `/dev/stdin` or a process substitution:
    /// read into memory once, as it can be read neither twice nor mapped.
    Memory(Vec<u8>),
}

/// A prediction file's bytes and the name errors give it.
pub(crate) struct Source {
    /// The path as the user gave it; `-` is named "standard input".
    pub name: PathBuf,
    /// Where the bytes are.
    pub input: Input,
}

/// The name `-` is given in messages.
const STANDARD_INPUT: &str = "standard input";

/// How many leading bytes decide the format.
const HEAD: usize = 8192;

impl Source {
    /// Opens `path`: `-` is standard input; a regular file stays on disk; any
    /// other readable path (FIFO, character device, `/dev/stdin`, `<(…)`) is
    /// read fully into memory, once.
    pub fn open(path: &Path) -> Result<Source> {
        use std::io::Read;
        if path.as_os_str() == "-" {
            let name = PathBuf::from(STANDARD_INPUT);
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(&name, "cannot read", e))?;
            return Ok(Source {
                name,
                input: Input::Memory(bytes),
            });
        }
        let input = match regular_file_len(path)? {
            Some(len) => Input::File {
                path: path.to_path_buf(),
                len,
            },
            None => {
                let mut bytes = Vec::new();
                std::fs::File::open(path)
                    .map_err(|e| Error::io(path, "cannot open", e))?
                    .read_to_end(&mut bytes)
                    .map_err(|e| Error::io(path, "cannot read", e))?;
                Input::Memory(bytes)
            }
        };
        Ok(Source {
            name: path.to_path_buf(),
            input,
        })
    }

    /// Length in bytes.
    fn len(&self) -> u64 {
        match &self.input {
            Input::File { len, .. } => *len,
            Input::Memory(bytes) => bytes.len() as u64,
        }
    }

    /// The first `n` bytes (fewer when the input is shorter).
    fn head(&self, n: usize) -> Result<Vec<u8>> {
        use std::io::Read;
        match &self.input {
            Input::File { path, .. } => {
                let mut head = Vec::with_capacity(n);
                std::fs::File::open(path)
                    .and_then(|f| f.take(n as u64).read_to_end(&mut head))
                    .map_err(|e| Error::io(path, "cannot read", e))?;
                Ok(head)
            }
            Input::Memory(bytes) => Ok(bytes[..n.min(bytes.len())].to_vec()),
        }
    }

    /// Runs `f` on all the bytes (a regular file is memory-mapped for it).
    pub fn with_bytes<T>(&self, f: impl FnOnce(&[u8]) -> Result<T>) -> Result<T> {
        match &self.input {
            Input::File { path, .. } => {
                let file =
                    std::fs::File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
                // SAFETY: read-only; see `ipc::read_mmap` on files changed
                // while mapped.
                let map = unsafe { memmap2::Mmap::map(&file) }
                    .map_err(|e| Error::io(path, "cannot map", e))?;
                f(&map)
            }
            Input::Memory(bytes) => f(bytes),
        }
    }
}

/// `Some(length)` for a regular file, `None` for another readable path (a
/// FIFO or a device); an error for a directory or a path that does not exist.
fn regular_file_len(path: &Path) -> Result<Option<u64>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "cannot open", e))?;
    if meta.is_dir() {
        return Err(Error::bad_format(
            path,
            "is a directory, not a prediction file",
        ));
    }
    Ok(meta.is_file().then_some(meta.len()))
}

/// Decides the format of a regular file from its leading bytes.
///
/// A pipe, FIFO or device is refused with a message saying so: the callers
/// of this function read the file again by its path. (Prediction files are
/// read through [`read_predictions`], which also takes those.)
pub fn sniff_format(path: &Path) -> Result<Format> {
    let Some(len) = regular_file_len(path)? else {
        return Err(Error::bad_format(
            path,
            "is not a regular file (a pipe, FIFO or device); save the data to a file and pass its path",
        ));
    };
    let source = Source {
        name: path.to_path_buf(),
        input: Input::File {
            path: path.to_path_buf(),
            len,
        },
    };
    sniff(&source)
}

/// The magic bytes each format starts with.
const MAGICS: [(&[u8], &str); 3] = [
    (b"ARROW1", "Arrow IPC file"),
    (b"PAR1", "Parquet file"),
    (&[0xFF, 0xFF, 0xFF, 0xFF], "Arrow IPC stream"),
];

/// Decides the format from the leading bytes.
fn sniff(source: &Source) -> Result<Format> {
    let name = source.name.as_path();
    let len = source.len();
    if len == 0 {
        return Err(Error::bad_format(
            name,
            "is empty (0 bytes): it holds no predictions",
        ));
    }
    let head = source.head(HEAD)?;
    if head.starts_with(MAGICS[0].0) {
        return Ok(Format::ArrowFile);
    }
    if head.starts_with(MAGICS[1].0) {
        return Ok(Format::Parquet);
    }
    if head.starts_with(MAGICS[2].0) {
        return Ok(Format::ArrowStream);
    }
    // A whole input shorter than a magic that it begins: a file cut short
    // (it would otherwise pass for a header-only CSV file).
    if let Some((_, what)) = MAGICS
        .iter()
        .find(|(magic, _)| head.len() < magic.len() && magic.starts_with(&head))
    {
        return Err(Error::bad_format(
            name,
            format!(
                "is a truncated {what}: its {len} {} only the start of the {what}'s magic number; write it again",
                if len == 1 { "byte is" } else { "bytes are" }
            ),
        ));
    }
    if looks_like_text(&head) {
        return Ok(Format::Csv);
    }
    Err(Error::bad_format(
        name,
        "is not an Arrow IPC, Parquet or CSV file (its first bytes match none of them)",
    ))
}

/// Text without NUL or other control bytes, valid UTF-8 (a multi-byte
/// character cut at the end of the sample is allowed).
fn looks_like_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    };
    valid
        && head
            .iter()
            .all(|&b| b >= 0x20 || b == b'\n' || b == b'\r' || b == b'\t')
}

/// Reads and validates a prediction file.
///
/// `-` reads standard input; a FIFO, `/dev/stdin` or a process substitution
/// is read into memory once. Errors name the file as given (`-` as
/// "standard input"), and the column and first row where a value is the
/// problem; every error is one line. Arrow and polars are called inside a
/// panic boundary: corrupt bytes that make them panic come back as
/// [`Error::Format`].
pub fn read_predictions(path: &Path, options: &ReadOptions) -> Result<Predictions> {
    read_table(path, options)
        .and_then(|table| convert::predictions_from_table(table, options))
        .map_err(one_line)
}

/// Whether `path` holds a ranking under `options`, as far as its schema
/// tells without reading rows: `--task` decides when given; else the
/// file's `evalkit.task` metadata; else a query column (`--query`, or one
/// named `query`). Only a regular Arrow IPC file is looked into (its schema
/// is memory-mapped); for anything else the answer is the options' alone,
/// and reading the rows finds out.
pub fn is_ranking(path: &Path, options: &ReadOptions) -> bool {
    if let Some(t) = options.task {
        return t == Task::Ranking;
    }
    let is_file = std::fs::metadata(path).is_ok_and(|m| m.is_file());
    let arrow_file = is_file && matches!(sniff_format(path), Ok(Format::ArrowFile));
    let table = arrow_file
        .then(|| contain(path, "Arrow IPC", || ipc::read_mmap(path)).ok())
        .flatten();
    match table {
        Some(t) => match t.schema.metadata().get("evalkit.task") {
            Some(task) => task == Task::Ranking.as_str(),
            None => {
                let name = options.query.as_deref().unwrap_or("query");
                t.schema.index_of(name).is_ok()
            }
        },
        None => options.query.is_some(),
    }
}

/// Reads the columns `options` needs (all columns for formats that cannot
/// project cheaply) into a [`Table`].
pub(crate) fn read_table(path: &Path, options: &ReadOptions) -> Result<Table> {
    let source = Source::open(path)?;
    let format = sniff(&source)?;
    let name = source.name.clone();
    let table = read_whole(source, format, options)?;
    if table.rows() == 0 {
        return Err(Error::bad_format(&name, "has no rows"));
    }
    Ok(table)
}

/// The columns a read needs: those it must find, and those it reads when
/// they are there (the default `weight` column).
fn wanted(options: &ReadOptions) -> (Vec<String>, Vec<String>) {
    let mut required: Vec<String> = vec![options.label.clone()];
    required.extend(options.score.iter().cloned());
    required.extend(options.extra.iter().cloned());
    // An explicit weight column is required (its absence is an error that
    // lists every column); the default `weight` is read when present.
    let optional: Vec<String> = match &options.weight {
        Some(w) => {
            required.push(w.clone());
            Vec::new()
        }
        None => vec!["weight".to_string()],
    };
    let mut optional = optional;
    match &options.query {
        Some(q) => required.push(q.clone()),
        None => optional.push("query".to_string()),
    }
    (required, optional)
}

/// Every row of `source` (in `format`) as a [`Table`] of the columns
/// `options` needs.
fn read_whole(source: Source, format: Format, options: &ReadOptions) -> Result<Table> {
    let name = source.name.clone();
    let name = name.as_path();
    if format == Format::ArrowFile {
        return contain(name, "Arrow IPC", || match source.input {
            Input::File { path, .. } => ipc::read_mmap(&path),
            Input::Memory(bytes) => ipc::read_bytes(name, bytes),
        });
    }
    match format {
        Format::ArrowStream => source.with_bytes(|bytes| {
            contain(name, "Arrow IPC stream", || ipc::check_stream(name, bytes))
        })?,
        Format::Parquet => check_parquet(&source)?,
        Format::ArrowFile | Format::Csv => {}
    }
    let (required, optional) = wanted(options);
    contain(name, format_name(format), || {
        polars_bridge::read(&source, format, &required, &optional, None)
    })
}

/// Walks a Parquet file's footer before polars trusts it.
fn check_parquet(source: &Source) -> Result<()> {
    let name = source.name.as_path();
    source.with_bytes(|bytes| contain(name, "Parquet", || parquet::check(name, bytes)))
}

/// Rows per chunk when a prediction file is folded chunk by chunk
/// ([`for_each_chunk`]) and `EVALKIT_CHUNK_ROWS` does not say otherwise: a
/// file of at most this many rows is one chunk.
pub const CHUNK_ROWS: usize = 1 << 24;

/// Rows per chunk: `EVALKIT_CHUNK_ROWS` when it is a positive whole number
/// (more rows per chunk: more memory, fewer merges), else [`CHUNK_ROWS`].
/// The results do not depend on it.
pub fn chunk_rows() -> usize {
    std::env::var("EVALKIT_CHUNK_ROWS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(CHUNK_ROWS)
}

/// Reads and validates a prediction file chunk by chunk, in row order, and
/// calls `f` with each chunk's rows (at most about `chunk_rows`; never
/// none). Memory holds one chunk's validated columns at a time: an Arrow IPC
/// file is memory-mapped and its batches sliced, a Parquet file is read a
/// run of row groups at a time (a row group larger than `chunk_rows` is one
/// chunk); an Arrow IPC stream or a CSV file is read whole, then validated
/// chunk by chunk. Errors are those of [`read_predictions`], their rows
/// counted from the start of the file, and a file has no row limit here.
/// Returns the file's row count.
pub fn for_each_chunk(
    path: &Path,
    options: &ReadOptions,
    chunk_rows: usize,
    f: &mut dyn FnMut(Predictions) -> Result<()>,
) -> Result<u64> {
    chunked(path, options, chunk_rows.max(1), f).map_err(one_line)
}

fn chunked(
    path: &Path,
    options: &ReadOptions,
    chunk_rows: usize,
    f: &mut dyn FnMut(Predictions) -> Result<()>,
) -> Result<u64> {
    let source = Source::open(path)?;
    let format = sniff(&source)?;
    let name = source.name.clone();
    let name = name.as_path();
    let mut rows = 0u64;
    let mut classes: Option<usize> = None;
    let mut fold = |table: Table| -> Result<()> {
        let first_row = rows;
        let chunk_len = table.rows() as u64;
        let preds = convert::predictions_from_chunk(table, options, classes)
            .map_err(|e| e.rows_from(first_row as usize))?;
        classes = Some(preds.class_names.len());
        rows += chunk_len;
        f(preds)
    };
    if format == Format::Parquet {
        check_parquet(&source)?;
        let groups = contain(name, format_name(format), || {
            polars_bridge::parquet_row_groups(&source)
        })?;
        let (required, optional) = wanted(options);
        let mut start = 0usize;
        for len in runs(&groups, chunk_rows) {
            let table = contain(name, format_name(format), || {
                polars_bridge::read(&source, format, &required, &optional, Some((start, len)))
            })?;
            start += len;
            if table.rows() > 0 {
                fold(table)?;
            }
        }
    } else {
        for table in split(read_whole(source, format, options)?, chunk_rows) {
            fold(table)?;
        }
    }
    if rows == 0 {
        return Err(Error::bad_format(name, "has no rows"));
    }
    Ok(rows)
}

/// Consecutive row groups (their row counts) joined into runs of about
/// `chunk_rows` rows: each run's row count.
fn runs(groups: &[usize], chunk_rows: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut run = 0usize;
    for &g in groups {
        if run > 0 && run + g > chunk_rows {
            out.push(run);
            run = 0;
        }
        run += g;
    }
    if run > 0 {
        out.push(run);
    }
    out
}

/// A table cut into tables of at most `chunk_rows` rows, in row order
/// (batches are sliced and joined without copying; empty ones are dropped).
fn split(table: Table, chunk_rows: usize) -> Vec<Table> {
    let mut out = Vec::new();
    let mut current: Vec<RecordBatch> = Vec::new();
    let mut filled = 0usize;
    for batch in table.batches {
        let mut at = 0usize;
        while at < batch.num_rows() {
            let take = (batch.num_rows() - at).min(chunk_rows - filled);
            current.push(batch.slice(at, take));
            at += take;
            filled += take;
            if filled == chunk_rows {
                out.push(std::mem::take(&mut current));
                filled = 0;
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.into_iter()
        .map(|batches| Table {
            path: table.path.clone(),
            schema: table.schema.clone(),
            batches,
        })
        .collect()
}

/// The error with control characters (line breaks from a column name, a
/// metadata value or a reader's message) escaped: every error is one line.
fn one_line(e: Error) -> Error {
    fn clean(s: String) -> String {
        if s.chars().any(char::is_control) {
            s.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        } else {
            s
        }
    }
    fn clean_path(p: PathBuf) -> PathBuf {
        match p.to_str() {
            Some(s) if s.chars().any(char::is_control) => PathBuf::from(clean(s.to_string())),
            _ => p,
        }
    }
    match e {
        Error::Io {
            path,
            action,
            source,
        } => Error::Io {
            path: clean_path(path),
            action,
            source,
        },
        Error::Format { path, message } => Error::Format {
            path: clean_path(path),
            message: clean(message),
        },
        Error::Column {
            path,
            column,
            message,
        } => Error::Column {
            path: clean_path(path),
            column: clean(column),
            message: clean(message),
        },
        Error::Value {
            path,
            column,
            row,
            message,
        } => Error::Value {
            path: clean_path(path),
            column: clean(column),
            row,
            message: clean(message),
        },
        Error::Usage(message) => Error::Usage(clean(message)),
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::ArrowFile => "Arrow IPC",
        Format::ArrowStream => "Arrow IPC stream",
        Format::Parquet => "Parquet",
        Format::Csv => "CSV",
    }
}
