//! The dataset side of inference: a lazy polars scan of Parquet, CSV or Arrow
//! IPC that reads only the needed columns, with `--where` pushed down into
//! the scan; then feature batches as contiguous row-major matrices in the
//! model's input type (`f32` or float16).

use std::path::{Path, PathBuf};

use arrow::array::ArrayRef;
use polars::prelude::*;

use half::f16;

use super::runtime::Features;
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
    fill: f64,
    /// What row numbers count (" (rows counted after --where)" or "").
    row_note: &'static str,
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
            fill: spec.fill_null.unwrap_or(0.0),
            row_note: after_where(spec),
        })
    }

    /// Number of rows (after the filter).
    pub fn rows(&self) -> usize {
        self.frame.height()
    }

    /// Rows `start..start+len` of the features as a row-major `len × F`
    /// matrix in `out`'s element type (the model's input type), written
    /// into `out` (resized to fit).
    ///
    /// Each column's values for the batch are borrowed from the frame when
    /// they lie in one chunk without nulls (Float64 or Float32), else copied
    /// out; then the matrix is written in blocks of rows small enough for
    /// the L1 cache (column by column over the whole batch, every write went
    /// to a different cache line of a megabyte-sized buffer). Every value is
    /// rounded once, from the type it is stored in, to the model's type (as
    /// numpy's `astype` does), so float16 models see what Python would feed
    /// them; a value beyond float16's range is an error naming its column
    /// and row.
    pub fn batch(&self, start: usize, len: usize, out: &mut Features) -> Result<()> {
        match out {
            Features::F32(v) => self.batch_of(start, len, v),
            Features::F16(v) => {
                self.batch_of(start, len, v)?;
                match v.iter().position(|x| !x.is_finite()) {
                    None => Ok(()),
                    Some(i) => {
                        Err(self
                            .beyond_f16(start + i / self.features.len(), i % self.features.len()))
                    }
                }
            }
        }
    }

    fn batch_of<T: Element>(&self, start: usize, len: usize, out: &mut Vec<T>) -> Result<()> {
        const BLOCK: usize = 32;
        let f = self.features.len();
        out.clear();
        out.resize(len * f, T::default());
        let sources = (0..f)
            .map(|j| self.source::<T>(j, start, len))
            .collect::<Result<Vec<_>>>()?;
        for r0 in (0..len).step_by(BLOCK) {
            let rows = r0..(r0 + BLOCK).min(len);
            let block = &mut out[r0 * f..rows.end * f];
            for (j, src) in sources.iter().enumerate() {
                let cells = block[j..].iter_mut().step_by(f);
                match src {
                    Source::F64(v) => {
                        for (o, &v) in cells.zip(&v[rows.clone()]) {
                            *o = T::of_f64(v);
                        }
                    }
                    Source::F32(v) => {
                        for (o, &v) in cells.zip(&v[rows.clone()]) {
                            *o = T::of_f32(v);
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
    fn source<T: Element>(&self, j: usize, start: usize, len: usize) -> Result<Source<'_, T>> {
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
        // Other types (and chunked or filled columns) through polars' cast:
        // to Float32 for a float32 model, as before; to Float64 (exact for
        // every integer a float16 holds) for a float16 one.
        let sliced = series.slice(start as i64, len);
        let fill = T::of_f64(self.fill);
        let mut v = Vec::with_capacity(len);
        if T::WIDE {
            let cast = sliced.cast(&DataType::Float64).map_err(fail)?;
            for chunk in cast.f64().map_err(fail)?.downcast_iter() {
                v.extend(chunk.iter().map(|x| x.map_or(fill, |&x| T::of_f64(x))));
            }
        } else {
            let cast = sliced.cast(&DataType::Float32).map_err(fail)?;
            for chunk in cast.f32().map_err(fail)?.downcast_iter() {
                v.extend(chunk.iter().map(|x| x.map_or(fill, |&x| T::of_f32(x))));
            }
        }
        Ok(Source::Owned(v))
    }

    /// The error for feature `j`'s value at `row`, which float16 cannot
    /// hold.
    fn beyond_f16(&self, row: usize, j: usize) -> Error {
        let column = &self.frame.columns()[j];
        let what = match column.get(row) {
            Ok(AnyValue::Null) | Err(_) => format!("is null, filled with {}", self.fill),
            Ok(v) => format!("is {v}"),
        };
        Error::bad_value(
            &self.path,
            &self.features[j],
            row,
            format!(
                "{what}, beyond the range of the float16 values the model takes (it rounds past the largest, 65504){}",
                self.row_note
            ),
        )
    }
}

/// A model input element: `f32` or float16, converted from the stored
/// value with one rounding.
trait Element: Copy + Default + Send + Sync {
    /// Whether values of other types go through Float64 (float16: one
    /// rounding from the integer) rather than Float32 (what float32 models
    /// have always had).
    const WIDE: bool;
    fn of_f64(v: f64) -> Self;
    fn of_f32(v: f32) -> Self;
}

impl Element for f32 {
    const WIDE: bool = false;
    fn of_f64(v: f64) -> f32 {
        v as f32
    }
    fn of_f32(v: f32) -> f32 {
        v
    }
}

impl Element for f16 {
    const WIDE: bool = true;
    fn of_f64(v: f64) -> f16 {
        f16_of_f64(v)
    }
    fn of_f32(v: f32) -> f16 {
        f16::from_f32(v)
    }
}

/// `v` rounded once to the nearest float16 (ties to even), as numpy's
/// `astype(np.float16)` rounds a float64. (`half`'s `f16::from_f64` goes
/// through `f32` with the F16C instruction, or drops the low 32 bits in
/// software: both can land one float16 step off.) Rounding to *odd* into
/// `f32` first keeps the result exact: `f32` carries 13 more bits than
/// float16, and an inexact `f32` with its last bit set cannot sit on a
/// float16 midpoint, so the final rounding sees which side `v` is on.
pub(crate) fn f16_of_f64(v: f64) -> f16 {
    let f = v as f32;
    let mut bits = f.to_bits();
    if f as f64 != v && bits & 1 == 0 {
        // Inexact with an even last bit: the neighbour on `v`'s other side
        // is odd (one step in magnitude, the sign bit unchanged).
        if (f as f64).abs() < v.abs() {
            bits += 1;
        } else {
            bits -= 1;
        }
    }
    f16::from_f32(f32::from_bits(bits))
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
enum Source<'a, T> {
    F64(&'a [f64]),
    F32(&'a [f32]),
    Owned(Vec<T>),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float32Array, Float64Array, Int64Array};
    use arrow::datatypes::{Field, Schema};
    use arrow::record_batch::RecordBatch;

    use super::*;
    use crate::infer::runtime::Precision;

    /// An Arrow IPC stream of three feature columns.
    fn stream(a: Vec<f64>, b: Vec<f32>, c: Vec<Option<i64>>) -> Vec<u8> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", arrow::datatypes::DataType::Float64, false),
            Field::new("b", arrow::datatypes::DataType::Float32, false),
            Field::new("c", arrow::datatypes::DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Float64Array::from(a)),
                Arc::new(Float32Array::from(b)),
                Arc::new(Int64Array::from(c)),
            ],
        )
        .unwrap();
        let mut out = Vec::new();
        let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut out, &schema).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        drop(w);
        out
    }

    /// Each value is rounded once, from its stored type, to the model's:
    /// `1 + 2⁻¹¹ + 2⁻⁴⁰` is just above a float16 midpoint, so it rounds up
    /// to `1 + 2⁻¹⁰`, where going through f32 first (which rounds it to the
    /// midpoint itself) would round it down to 1 (ties to even).
    #[test]
    fn float16_features_are_rounded_once_from_the_stored_value() {
        let tricky = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        assert_eq!(
            f16::from_f32(tricky as f32),
            f16::ONE,
            "the double rounding"
        );
        // What numpy gives: np.float64(1 + 2**-11 + 2**-40).astype(np.float16).
        assert_eq!(f16_of_f64(tricky).to_bits(), 0x3C01);
        let bytes = stream(
            vec![tricky, -0.1, 3.0],
            vec![0.1f32, 65504.0, -2.5],
            vec![Some(2049), None, Some(-7)],
        );
        let spec = DatasetSpec {
            fill_null: Some(0.3),
            ..Default::default()
        };
        let data = Dataset::from_ipc_stream("block", &bytes, &spec).unwrap();
        let mut half = Features::new(Precision::F16);
        data.batch(0, 3, &mut half).unwrap();
        let want: Vec<f16> = [
            tricky,
            0.1f32 as f64,
            2049.0,
            -0.1,
            65504.0,
            0.3,
            3.0,
            -2.5,
            -7.0,
        ]
        .iter()
        .map(|&v| nearest_f16(v))
        .collect();
        assert_eq!(half, Features::F16(want));
        // The float32 batch is what it always was: `as f32` of each value.
        let mut single = Features::new(Precision::F32);
        data.batch(1, 2, &mut single).unwrap();
        assert_eq!(
            single,
            Features::F32(vec![
                -0.1f64 as f32,
                65504.0,
                0.3f64 as f32,
                3.0,
                -2.5,
                -7.0
            ])
        );
    }

    /// The float16 nearest to a finite `v` within float16's range, ties to
    /// the even one, found by bisection over the positive float16 values
    /// (which order as their bits): the naive reference.
    fn nearest_f16(v: f64) -> f16 {
        let a = v.abs();
        let (mut lo, mut hi) = (0u16, 0x7BFFu16); // 0 .. 65504
        if a >= 65520.0 {
            return f16::from_bits(0x7C00 | ((v < 0.0) as u16) << 15);
        }
        if a >= f16::from_bits(hi).to_f64() {
            lo = hi;
        } else {
            // f16(lo) <= a < f16(hi)
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if f16::from_bits(mid).to_f64() <= a {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
        }
        let (x, y) = (f16::from_bits(lo).to_f64(), f16::from_bits(hi).to_f64());
        // Exact differences: x, y and a are within a factor of two of each
        // other, or x is 0.
        let bits = if lo == hi || a - x < y - a || (a - x == y - a && lo % 2 == 0) {
            lo
        } else {
            hi
        };
        f16::from_bits(bits | ((v.is_sign_negative() && bits != 0) as u16) << 15)
    }

    /// [`f16_of_f64`] against the naive nearest float16: random values
    /// across float16's range, every midpoint between neighbours and values
    /// a hair either side of it (where going through `f32` goes wrong).
    #[test]
    fn float16_rounding_equals_the_nearest_value() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut checked = 0;
        let mut check = |v: f64| {
            assert_eq!(f16_of_f64(v), nearest_f16(v), "{v:e}");
            assert_eq!(f16_of_f64(-v), nearest_f16(-v), "{:e}", -v);
            checked += 1;
        };
        for bits in (0u16..0x7BFF).step_by(7) {
            let (x, y) = (
                f16::from_bits(bits).to_f64(),
                f16::from_bits(bits + 1).to_f64(),
            );
            let mid = x + (y - x) / 2.0;
            for v in [x, mid, mid.next_up(), mid.next_down(), mid * (1.0 + 1e-12)] {
                check(v);
            }
        }
        for _ in 0..200_000 {
            let r = next();
            // Exponents across float16's normal and subnormal range.
            let e = (r % 40) as i32 - 25;
            let m = 1.0 + (next() >> 11) as f64 / (1u64 << 53) as f64;
            check(m * 2f64.powi(e));
        }
        assert!(checked > 200_000);
    }

    /// A value beyond float16 is an error naming the column and the row
    /// (counted from the start of the data, not of the batch).
    #[test]
    fn beyond_float16_names_column_and_row() {
        let bytes = stream(
            vec![1.0, 2.0, 3.0],
            vec![1.0, 2.0, 1e5],
            vec![Some(1), Some(2), Some(3)],
        );
        let data = Dataset::from_ipc_stream("block", &bytes, &DatasetSpec::default()).unwrap();
        let mut half = Features::new(Precision::F16);
        data.batch(0, 2, &mut half).unwrap();
        let e = data.batch(1, 2, &mut half).unwrap_err().to_string();
        assert!(
            e.contains("column 'b', row 2") && e.contains("100000") && e.contains("float16"),
            "{e}"
        );
        let mut single = Features::new(Precision::F32);
        data.batch(0, 3, &mut single).unwrap();
    }
}
