//! IPC streams, Parquet and CSV, read with polars.
//!
//! Polars reads only the columns evalkit needs; the resulting frame is handed
//! to the Arrow side as an in-memory IPC file (one copy), so that every
//! format goes through the same column validation in `convert.rs`.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use polars::prelude::*;

use super::{Format, Table};
use crate::error::{Error, Result};

/// Reads the `required` columns and those of `optional` the file has; when a
/// required one is missing, reads every column so that the caller's error can
/// list what is there.
pub(crate) fn read(
    path: &Path,
    format: Format,
    required: &[String],
    optional: &[String],
) -> Result<Table> {
    let fail = |e: PolarsError| {
        Error::bad_format(
            path,
            format!(
                "cannot be read as {}: {}",
                name(format),
                first_line(&e.to_string())
            ),
        )
    };
    let open = || std::fs::File::open(path).map_err(|e| Error::io(path, "cannot open", e));

    let (mut frame, metadata) = match format {
        Format::ArrowStream => {
            let mut reader = IpcStreamReader::new(open()?);
            let names: Vec<String> = reader
                .arrow_schema()
                .map_err(fail)?
                .iter_names()
                .map(|n| n.to_string())
                .collect();
            let metadata: BTreeMap<String, String> = reader
                .custom_metadata()
                .map_err(fail)?
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let frame = reader
                .with_columns(project(&names, required, optional))
                .finish()
                .map_err(fail)?;
            (frame, metadata)
        }
        Format::Parquet => {
            let mut reader = ParquetReader::new(open()?);
            let names: Vec<String> = reader
                .schema()
                .map_err(fail)?
                .iter_names()
                .map(|n| n.to_string())
                .collect();
            let metadata: BTreeMap<String, String> = reader
                .get_metadata()
                .map_err(fail)?
                .key_value_metadata()
                .iter()
                .flatten()
                .filter(|kv| kv.key != "ARROW:schema")
                .filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?)))
                .collect();
            let frame = reader
                .with_columns(project(&names, required, optional))
                .finish()
                .map_err(fail)?;
            (frame, metadata)
        }
        Format::Csv => {
            let options = || {
                CsvReadOptions::default()
                    .with_has_header(true)
                    .with_infer_schema_length(Some(10_000))
            };
            let header = options()
                .with_n_rows(Some(1))
                .try_into_reader_with_file_path(Some(path.to_path_buf()))
                .map_err(fail)?
                .finish()
                .map_err(fail)?;
            let names: Vec<String> = header
                .get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect();
            let columns = project(&names, required, optional)
                .map(|cols| cols.into_iter().map(PlSmallStr::from).collect::<Arc<[_]>>());
            let frame = options()
                .with_columns(columns)
                .try_into_reader_with_file_path(Some(path.to_path_buf()))
                .map_err(fail)?
                .finish()
                .map_err(fail)?;
            (frame, BTreeMap::new())
        }
        Format::ArrowFile => unreachable_format(path)?,
    };

    let (schema, batches) = to_arrow(path, &mut frame)?;
    let schema = Arc::new(
        schema.as_ref().clone().with_metadata(
            metadata
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        ),
    );
    Ok(Table {
        path: path.to_path_buf(),
        schema,
        batches,
    })
}

/// A polars frame as Arrow schema and batches, through an in-memory IPC
/// file (one copy).
fn to_arrow(
    path: &Path,
    frame: &mut DataFrame,
) -> Result<(arrow::datatypes::SchemaRef, Vec<arrow::array::RecordBatch>)> {
    let mut bytes = Vec::new();
    IpcWriter::new(&mut bytes)
        .with_compat_level(CompatLevel::oldest())
        .finish(frame)
        .map_err(|e| Error::bad_format(path, format!("cannot be converted: {e}")))?;
    let reader = arrow::ipc::reader::FileReader::try_new(Cursor::new(bytes), None)
        .map_err(|e| Error::bad_format(path, format!("cannot be converted: {e}")))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::bad_format(path, format!("cannot be converted: {e}")))?;
    Ok((schema, batches))
}

/// The columns of a polars frame as Arrow arrays (batches concatenated).
pub(crate) fn frame_to_arrow(
    path: &Path,
    mut frame: DataFrame,
) -> Result<Vec<(String, arrow::array::ArrayRef)>> {
    let (schema, batches) = to_arrow(path, &mut frame)?;
    let table = Table {
        path: path.to_path_buf(),
        schema: schema.clone(),
        batches,
    };
    schema
        .fields()
        .iter()
        .map(|f| {
            let a = table
                .column(f.name())?
                .unwrap_or_else(|| arrow::array::new_empty_array(f.data_type()));
            Ok((f.name().clone(), a))
        })
        .collect()
}

/// The wanted columns, in file order; `None` (read everything) when a
/// required one is missing.
fn project(names: &[String], required: &[String], optional: &[String]) -> Option<Vec<String>> {
    if required.iter().any(|r| !names.contains(r)) {
        return None;
    }
    Some(
        names
            .iter()
            .filter(|n| required.contains(n) || optional.contains(n))
            .cloned()
            .collect(),
    )
}

fn name(format: Format) -> &'static str {
    match format {
        Format::ArrowFile => "an Arrow IPC file",
        Format::ArrowStream => "an Arrow IPC stream",
        Format::Parquet => "Parquet",
        Format::Csv => "CSV",
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn unreachable_format<T>(path: &Path) -> Result<T> {
    Err(Error::bad_format(
        path,
        "is an Arrow IPC file, which is read memory-mapped, not with polars",
    ))
}
