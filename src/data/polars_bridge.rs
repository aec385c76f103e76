//! IPC streams, Parquet and CSV, read with polars.
//!
//! Polars reads only the columns evalkit needs; the resulting frame is handed
//! to the Arrow side as an in-memory IPC file (one copy), so that every
//! format goes through the same column validation in `convert.rs`.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use polars::io::mmap::MmapBytesReader;
use polars::prelude::*;

use super::{Format, Input, Source, Table};
use crate::error::{Error, Result};

/// Reads the `required` columns and those of `optional` the file has; when a
/// required one is missing, reads every column so that the caller's error can
/// list what is there. `rows` (Parquet only) reads `(first, count)` rows,
/// decoding only the row groups that hold them.
pub(crate) fn read(
    source: &Source,
    format: Format,
    required: &[String],
    optional: &[String],
    rows: Option<(usize, usize)>,
) -> Result<Table> {
    let path = source.name.as_path();
    let fail = |e: PolarsError| failed(path, format, e);
    let open = || open(source);

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
                .with_slice(rows)
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
            // A row with more fields than the header is named by its row.
            let fail = |e: PolarsError| match source.with_bytes(|b| Ok(long_row(path, b))) {
                Ok(Some(e)) | Err(e) => e,
                Ok(None) => fail(e),
            };
            let header = options()
                .with_n_rows(Some(1))
                .into_reader_with_file_handle(open()?)
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
                .into_reader_with_file_handle(open()?)
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

/// The row count of each row group of a Parquet file, in file order.
pub(crate) fn parquet_row_groups(source: &Source) -> Result<Vec<usize>> {
    let mut reader = ParquetReader::new(open(source)?);
    let metadata = reader
        .get_metadata()
        .map_err(|e| failed(&source.name, Format::Parquet, e))?;
    Ok(metadata.row_groups.iter().map(|g| g.num_rows()).collect())
}

/// The file, or the bytes read from a pipe.
fn open(source: &Source) -> Result<Box<dyn MmapBytesReader + '_>> {
    Ok(match &source.input {
        Input::File { path, .. } => {
            Box::new(std::fs::File::open(path).map_err(|e| Error::io(path, "cannot open", e))?)
        }
        Input::Memory(bytes) => Box::new(Cursor::new(bytes.as_slice())),
    })
}

/// A polars error as the one line evalkit gives.
fn failed(path: &Path, format: Format, e: PolarsError) -> Error {
    Error::bad_format(
        path,
        format!(
            "cannot be read as {}: {}",
            name(format),
            first_line(&e.to_string())
        ),
    )
}

/// The error for the first CSV row with more fields than the header, if
/// there is one. Rows are counted from 0 after the header, every line break
/// outside quotes ending one (as the value errors count them: an empty line
/// is a row of missing values). A field that starts with a double quote runs
/// to the next lone one (`""` inside it is a quote): commas and line breaks
/// in it are its own; a quote elsewhere is an ordinary character.
fn long_row(path: &Path, bytes: &[u8]) -> Option<Error> {
    let mut header: Option<usize> = None;
    let mut row = 0usize;
    let mut fields = 1usize;
    let mut field_start = true;
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if quoted {
            if b == b'"' {
                if bytes.get(i) == Some(&b'"') {
                    i += 1;
                } else {
                    quoted = false;
                }
            }
            continue;
        }
        match b {
            b'"' if field_start => quoted = true,
            b',' => {
                fields += 1;
                field_start = true;
                continue;
            }
            b'\n' => {
                match header {
                    None => header = Some(fields),
                    Some(h) if fields > h => return Some(too_many(path, row, fields, h)),
                    Some(_) => row += 1,
                }
                fields = 1;
                field_start = true;
                continue;
            }
            _ => {}
        }
        field_start = false;
    }
    // The last row, when no line break ends it.
    match header {
        Some(h) if fields > h => Some(too_many(path, row, fields, h)),
        _ => None,
    }
}

fn too_many(path: &Path, row: usize, fields: usize, header: usize) -> Error {
    Error::bad_format(
        path,
        format!(
            "row {row} has {fields} fields but the header has {header}; every row needs one field per header column (quote a field that holds a comma)"
        ),
    )
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
