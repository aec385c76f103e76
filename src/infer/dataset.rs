//! The dataset side of inference: a lazy polars scan of Parquet, CSV or Arrow
//! IPC that reads only the needed columns, with `--where` pushed down into
//! the scan; then feature batches as contiguous row-major `f32` matrices.

use std::path::{Path, PathBuf};

use arrow::array::ArrayRef;
use polars::prelude::*;

use crate::data::{Format, sniff_format};
use crate::error::{Error, Result, contain};

/// Which columns of the dataset to use.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatasetSpec {
    /// The label column, if any.
    pub label: Option<String>,
    /// Feature columns in the model's order; `None`: every numeric column
    /// but the label and the kept ones, in file order.
    pub features: Option<Vec<String>>,
    /// Columns passed through to the prediction file.
    pub keep: Vec<String>,
    /// A filter, as an SQL boolean expression (`age > 30 AND sex = 'F'`).
    pub filter: Option<String>,
    /// Replaces missing feature values; without it a null is an error.
    pub fill_null: Option<f64>,
}

/// The dataset, read and checked: features, label and kept columns.
pub struct Dataset {
    /// The file.
    pub path: PathBuf,
    /// The frame holding the feature columns, as read.
    frame: DataFrame,
    /// Feature names, in model order.
    pub features: Vec<String>,
    /// The label column as an Arrow array.
    pub label: Option<(String, ArrayRef)>,
    /// Kept columns as Arrow arrays.
    pub keep: Vec<(String, ArrayRef)>,
    /// The value of missing features.
    fill: f32,
}

fn polars_err<'a>(path: &'a Path, what: &str) -> impl Fn(PolarsError) -> Error + 'a {
    let what = what.to_string();
    move |e| {
        let msg = e.to_string();
        Error::bad_format(
            path,
            format!("{what}: {}", msg.lines().next().unwrap_or(&msg)),
        )
    }
}

fn scan(path: &Path) -> Result<LazyFrame> {
    let format = sniff_format(path)?;
    let p = PlRefPath::from(path.to_string_lossy().as_ref());
    let fail = polars_err(path, "cannot be read");
    match format {
        Format::Parquet => LazyFrame::scan_parquet(p, ScanArgsParquet::default()).map_err(fail),
        Format::Csv => LazyCsvReader::new(p)
            .with_has_header(true)
            .finish()
            .map_err(fail),
        Format::ArrowFile => {
            LazyFrame::scan_ipc(p, Default::default(), Default::default()).map_err(fail)
        }
        Format::ArrowStream => {
            let file = std::fs::File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
            IpcStreamReader::new(file)
                .finish()
                .map(|df| df.lazy())
                .map_err(fail)
        }
    }
}

fn describe(schema: &Schema) -> String {
    schema
        .iter()
        .map(|(n, t)| format!("{n} ({t})"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Dataset {
    /// Scans `path`, selects the columns of `spec`, applies its filter, and
    /// checks the features (numeric, no nulls unless `fill_null`).
    pub fn read(path: &Path, spec: &DatasetSpec) -> Result<Dataset> {
        contain(path, "dataset", || Self::read_inner(path, spec))
    }

    /// The rows of an Arrow IPC stream held in memory (an engine's block of
    /// rows), checked as [`Dataset::read`] checks a file; errors name the
    /// block as `name`.
    pub fn from_ipc_stream(name: &str, bytes: &[u8], spec: &DatasetSpec) -> Result<Dataset> {
        let path = Path::new(name);
        contain(path, "dataset", || {
            let frame = IpcStreamReader::new(std::io::Cursor::new(bytes))
                .finish()
                .map_err(polars_err(path, "cannot be read as an Arrow IPC stream"))?;
            Self::from_lazy(path, frame.lazy(), spec)
        })
    }

    fn read_inner(path: &Path, spec: &DatasetSpec) -> Result<Dataset> {
        Self::from_lazy(path, scan(path)?, spec)
    }

    fn from_lazy(path: &Path, mut lf: LazyFrame, spec: &DatasetSpec) -> Result<Dataset> {
        let schema = lf
            .collect_schema()
            .map_err(polars_err(path, "cannot be read"))?;
        let missing = |col: &str, role: &str, flag: &str| {
            Error::bad_column(
                path,
                col,
                format!(
                    "no such {role} column; the file has: {}. Pass {flag} to name others",
                    describe(&schema)
                ),
            )
        };
        if let Some(l) = &spec.label
            && schema.get(l.as_str()).is_none()
        {
            return Err(missing(l, "label", "--label COL"));
        }
        for k in &spec.keep {
            if schema.get(k.as_str()).is_none() {
                return Err(missing(k, "kept", "--keep COLS"));
            }
        }
        let features: Vec<String> = match &spec.features {
            Some(f) => {
                for c in f {
                    match schema.get(c.as_str()) {
                        None => return Err(missing(c, "feature", "--features COLS")),
                        Some(t) if !t.is_primitive_numeric() && !t.is_bool() => {
                            return Err(Error::bad_column(
                                path,
                                c,
                                format!("has type {t}; features must be numbers"),
                            ));
                        }
                        Some(_) => {}
                    }
                }
                f.clone()
            }
            None => schema
                .iter()
                .filter(|(n, t)| {
                    (t.is_primitive_numeric() || t.is_bool())
                        && Some(n.as_str()) != spec.label.as_deref()
                        && !spec.keep.iter().any(|k| k == n.as_str())
                })
                .map(|(n, _)| n.to_string())
                .collect(),
        };
        if features.is_empty() {
            return Err(Error::bad_format(
                path,
                format!(
                    "has no numeric feature columns besides the label and kept columns; it has: {}",
                    describe(&schema)
                ),
            ));
        }
        // Only the columns needed, filtered in the scan.
        let mut needed: Vec<String> = features.clone();
        for extra in spec.label.iter().chain(&spec.keep) {
            if !needed.contains(extra) {
                needed.push(extra.clone());
            }
        }
        if let Some(expr) = &spec.filter {
            let predicate = polars::sql::sql_expr(expr).map_err(|e| {
                Error::usage(format!(
                    "--where '{expr}' is not a valid SQL condition: {}",
                    e.to_string().lines().next().unwrap_or("")
                ))
            })?;
            lf = lf.filter(predicate);
        }
        let exprs: Vec<Expr> = needed.iter().map(|c| col(c.as_str())).collect();
        let frame = lf.select(exprs).collect().map_err(|e| match &spec.filter {
            Some(w) => Error::usage(format!(
                "--where '{w}' cannot be applied to {}: {}",
                path.display(),
                e.to_string().lines().next().unwrap_or("")
            )),
            None => polars_err(path, "cannot be read")(e),
        })?;
        if frame.height() == 0 {
            return Err(Error::bad_format(
                path,
                if spec.filter.is_some() {
                    "has no rows left after --where"
                } else {
                    "has no rows"
                },
            ));
        }
        // Feature columns as read (numbers or booleans: `batch` converts
        // each batch to f32 on the converter thread, so no second copy of the
        // whole dataset is made), nulls checked (or filled).
        let mut columns = Vec::with_capacity(features.len());
        for name in &features {
            let c = frame
                .column(name)
                .map_err(polars_err(path, "cannot be read"))?
                .clone();
            if c.null_count() > 0 && spec.fill_null.is_none() {
                let row = c
                    .is_null()
                    .iter()
                    .position(|v| v == Some(true))
                    .unwrap_or(0);
                return Err(Error::bad_value(
                    path,
                    name,
                    row,
                    format!(
                        "is missing (null); fill missing features with --fill-null VALUE{}",
                        after_where(spec)
                    ),
                ));
            }
            // NaN and infinite values (or finite f64 values beyond f32) would
            // reach the model and come out as a NaN score: refused here,
            // naming the value's column and row.
            if let Some((row, why)) = first_non_finite(c.as_materialized_series()) {
                return Err(Error::bad_value(
                    path,
                    name,
                    row,
                    format!(
                        "{why}; features must be finite numbers{}",
                        after_where(spec)
                    ),
                ));
            }
            columns.push(c);
        }
        let extra_frame = frame
            .select(
                spec.label
                    .iter()
                    .chain(&spec.keep)
                    .map(|s| PlSmallStr::from(s.as_str())),
            )
            .map_err(polars_err(path, "cannot be read"))?;
        let mut arrays = crate::data::frame_to_arrow(path, extra_frame)?;
        let label = spec.label.as_ref().map(|l| {
            let i = arrays.iter().position(|(n, _)| n == l).unwrap_or(0);
            arrays.remove(i)
        });
        let keep = spec
            .keep
            .iter()
            .filter_map(|k| arrays.iter().find(|(n, _)| n == k).cloned())
            .collect();
        let frame =
            DataFrame::new_infer_height(columns).map_err(polars_err(path, "cannot be read"))?;
        Ok(Dataset {
            path: path.to_path_buf(),
            frame,
            features,
            label,
            keep,
            fill: spec.fill_null.unwrap_or(0.0) as f32,
        })
    }

    /// Number of rows (after the filter).
    pub fn rows(&self) -> usize {
        self.frame.height()
    }

    /// Rows `start..start+len` of the features as a row-major `len × F`
    /// matrix, written into `out` (resized to fit).
    ///
    /// Each column's values for the batch are borrowed from the frame when
    /// they lie in one chunk without nulls (Float64 or Float32), else copied
    /// out as f32; then the matrix is written in blocks of rows small enough
    /// for the L1 cache (column by column over the whole batch, every write
    /// went to a different cache line of a megabyte-sized buffer).
    pub fn batch(&self, start: usize, len: usize, out: &mut Vec<f32>) -> Result<()> {
        const BLOCK: usize = 32;
        let f = self.features.len();
        out.clear();
        out.resize(len * f, 0.0);
        let sources = (0..f)
            .map(|j| self.source(j, start, len))
            .collect::<Result<Vec<_>>>()?;
        for r0 in (0..len).step_by(BLOCK) {
            let rows = r0..(r0 + BLOCK).min(len);
            let block = &mut out[r0 * f..rows.end * f];
            for (j, src) in sources.iter().enumerate() {
                let cells = block[j..].iter_mut().step_by(f);
                match src {
                    Source::F64(v) => {
                        for (o, &v) in cells.zip(&v[rows.clone()]) {
                            *o = v as f32;
                        }
                    }
                    Source::F32(v) => {
                        for (o, &v) in cells.zip(&v[rows.clone()]) {
                            *o = v;
                        }
                    }
                    Source::Owned(v) => {
                        for (o, &v) in cells.zip(&v[rows.clone()]) {
                            *o = v;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Column `j`'s values for rows `start..start+len`.
    fn source(&self, j: usize, start: usize, len: usize) -> Result<Source<'_>> {
        let fail = |e: PolarsError| Error::bad_column(&self.path, &self.features[j], e.to_string());
        let series = self.frame.columns()[j].as_materialized_series();
        match series.dtype() {
            DataType::Float64 => {
                if let Some(v) = one_chunk(series.f64().map_err(fail)?, start, len) {
                    return Ok(Source::F64(v));
                }
            }
            DataType::Float32 => {
                if let Some(v) = one_chunk(series.f32().map_err(fail)?, start, len) {
                    return Ok(Source::F32(v));
                }
            }
            _ => {}
        }
        let sliced = series.slice(start as i64, len);
        let cast = sliced.cast(&DataType::Float32).map_err(fail)?;
        let mut v = Vec::with_capacity(len);
        for chunk in cast.f32().map_err(fail)?.downcast_iter() {
            v.extend(chunk.iter().map(|x| x.copied().unwrap_or(self.fill)));
        }
        Ok(Source::Owned(v))
    }
}

/// The note on row numbers when a filter applies (they count the rows left).
fn after_where(spec: &DatasetSpec) -> &'static str {
    if spec.filter.is_some() {
        " (rows counted after --where)"
    } else {
        ""
    }
}

/// The first non-null value of a float column that is not a finite `f32`
/// (NaN, ±inf, or an `f64` beyond `f32`'s range), with its row and what it
/// is. Other types convert to finite `f32` values.
fn first_non_finite(series: &Series) -> Option<(usize, String)> {
    match series.dtype() {
        DataType::Float64 => {
            first_bad(series.f64().ok()?, |v| !(v as f32).is_finite()).map(|(row, v)| {
                let why = if v.is_nan() {
                    "is NaN (a missing value? store it as null and pass --fill-null VALUE)"
                        .to_string()
                } else if v.is_infinite() {
                    format!("is {v}")
                } else {
                    format!("is {v:e}, beyond the range of the f32 values the model takes")
                };
                (row, why)
            })
        }
        DataType::Float32 => first_bad(series.f32().ok()?, |v| !v.is_finite()).map(|(row, v)| {
            let why = if v.is_nan() {
                "is NaN (a missing value? store it as null and pass --fill-null VALUE)".to_string()
            } else {
                format!("is {v}")
            };
            (row, why)
        }),
        _ => None,
    }
}

/// The first valid (non-null) value of `ca` for which `bad` holds, with its
/// row.
fn first_bad<T: PolarsNumericType>(
    ca: &ChunkedArray<T>,
    bad: impl Fn(T::Native) -> bool,
) -> Option<(usize, T::Native)> {
    let mut offset = 0;
    for chunk in ca.downcast_iter() {
        let values = chunk.values().as_slice();
        let found = match chunk.validity() {
            Some(valid) if valid.unset_bits() > 0 => values
                .iter()
                .zip(valid.iter())
                .position(|(&v, ok)| ok && bad(v)),
            _ => values.iter().position(|&v| bad(v)),
        };
        if let Some(i) = found {
            return Some((offset + i, values[i]));
        }
        offset += values.len();
    }
    None
}

/// One feature column's values for a batch.
enum Source<'a> {
    F64(&'a [f64]),
    F32(&'a [f32]),
    Owned(Vec<f32>),
}

/// Rows `start..start+len` of `ca` as a slice, when they lie in one chunk
/// without nulls.
fn one_chunk<T: PolarsNumericType>(
    ca: &ChunkedArray<T>,
    start: usize,
    len: usize,
) -> Option<&[T::Native]> {
    let mut offset = 0;
    for chunk in ca.downcast_iter() {
        let n = chunk.len();
        if start < offset + n {
            let inside = start + len <= offset + n;
            let no_nulls = polars::polars_utils::index::NullCount::null_count(chunk) == 0;
            return (inside && no_nulls)
                .then(|| &chunk.values().as_slice()[start - offset..start - offset + len]);
        }
        offset += n;
    }
    None
}
