//! A structural check of a Parquet file before polars reads it.
//!
//! Polars trusts the counts and lengths in the footer and the page headers:
//! a corrupt list length in the footer, or a negative value count in a page
//! header, makes it ask for terabytes of memory, and a failed allocation
//! aborts the process (no panic boundary catches it). So the footer and every
//! page header are walked first, without decoding any data: every Thrift
//! length must fit in the bytes left, every column chunk and page must lie
//! inside the file, value counts must not be negative and must add up.

use std::path::Path;

use crate::error::{Error, Result};

/// Checks the Parquet file `bytes` (named `name` in messages).
pub(crate) fn check(name: &Path, bytes: &[u8]) -> Result<()> {
    check_bytes(bytes).map_err(|what| {
        Error::bad_format(
            name,
            format!("is a truncated or corrupt Parquet file ({what}); write it again"),
        )
    })
}

type Check<T = ()> = std::result::Result<T, String>;

/// Footer: the magic, its length, the closing magic.
const MIN_LEN: usize = 12;

fn check_bytes(bytes: &[u8]) -> Check {
    let len = bytes.len();
    if len < MIN_LEN {
        return Err("too short for a Parquet file".into());
    }
    if &bytes[len - 4..] != b"PAR1" {
        return Err("no PAR1 footer at the end".into());
    }
    let footer_len = u32::from_le_bytes([
        bytes[len - 8],
        bytes[len - 7],
        bytes[len - 6],
        bytes[len - 5],
    ]) as usize;
    if footer_len + MIN_LEN > len {
        return Err("footer longer than the file".into());
    }
    let data_end = len - 8 - footer_len;
    let meta =
        file_metadata(&bytes[data_end..len - 8]).map_err(|e| format!("unreadable footer: {e}"))?;

    let mut total_rows: i64 = 0;
    for (g, group) in meta.groups.iter().enumerate() {
        if group.num_rows < 0 {
            return Err(format!("row group {g} has {} rows", group.num_rows));
        }
        total_rows = total_rows
            .checked_add(group.num_rows)
            .ok_or("the row groups' row counts overflow")?;
        for (c, chunk) in group.chunks.iter().enumerate() {
            let values = column_chunk(bytes, data_end, chunk)
                .map_err(|e| format!("row group {g}, column {c}: {e}"))?;
            // Every row has at least one entry in every leaf column.
            if group.num_rows > values {
                return Err(format!(
                    "row group {g} has {} rows but column {c} only {values} values",
                    group.num_rows
                ));
            }
        }
    }
    match meta.num_rows {
        Some(n) if n == total_rows => Ok(()),
        Some(n) => Err(format!(
            "the footer says {n} rows but its row groups hold {total_rows}"
        )),
        None => Err("no row count in the footer".into()),
    }
}

/// The pages of one column chunk: they must fill its byte range, and their
/// value counts must add up to the chunk's. Returns the chunk's value count.
fn column_chunk(bytes: &[u8], data_end: usize, chunk: &Chunk) -> Check<i64> {
    if chunk.external {
        return Err("its data is in another file".into());
    }
    let (Some(num_values), Some(data_offset), Some(size)) = (
        chunk.num_values,
        chunk.data_page_offset,
        chunk.compressed_size,
    ) else {
        return Err("no column metadata".into());
    };
    if num_values < 0 {
        return Err(format!("{num_values} values"));
    }
    let start = match chunk.dictionary_page_offset {
        Some(d) if d > 0 && d < data_offset => d,
        _ => data_offset,
    };
    let start = usize::try_from(start).map_err(|_| format!("offset {start}"))?;
    let size = usize::try_from(size).map_err(|_| format!("size {size}"))?;
    let end = start
        .checked_add(size)
        .filter(|&end| start >= 4 && end <= data_end)
        .ok_or("its bytes lie outside the file's data")?;

    let mut at = start;
    let mut values: i64 = 0;
    while at < end {
        let mut reader = Reader::new(&bytes[at..end]);
        let page = page_header(&mut reader)?;
        let body = usize::try_from(page.compressed_size)
            .map_err(|_| format!("a page of {} bytes", page.compressed_size))?;
        if page.uncompressed_size < 0 {
            return Err(format!(
                "a page of {} bytes uncompressed",
                page.uncompressed_size
            ));
        }
        if body > reader.remaining() {
            return Err("a page runs past the end of its column chunk".into());
        }
        if page.num_values < 0 {
            return Err(format!("a page of {} values", page.num_values));
        }
        if page.is_data {
            values = values
                .checked_add(i64::from(page.num_values))
                .ok_or("its pages' value counts overflow")?;
        }
        at += reader.at + body;
    }
    if values != num_values {
        return Err(format!(
            "its pages hold {values} values, its metadata says {num_values}"
        ));
    }
    Ok(num_values)
}

/// What the check needs from the footer (`FileMetaData`).
#[derive(Default)]
struct FileMeta {
    num_rows: Option<i64>,
    groups: Vec<Group>,
}

#[derive(Default)]
struct Group {
    num_rows: i64,
    chunks: Vec<Chunk>,
}

#[derive(Default)]
struct Chunk {
    external: bool,
    num_values: Option<i64>,
    compressed_size: Option<i64>,
    data_page_offset: Option<i64>,
    dictionary_page_offset: Option<i64>,
}

#[derive(Default)]
struct Page {
    is_data: bool,
    uncompressed_size: i32,
    compressed_size: i32,
    num_values: i32,
}

// Thrift compact-protocol type codes.
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;

/// Field ids of the Parquet Thrift definitions (parquet.thrift).
fn file_metadata(footer: &[u8]) -> Check<FileMeta> {
    let mut r = Reader::new(footer);
    let mut meta = FileMeta::default();
    r.fields(&mut |r, id, ty| match id {
        3 => r.int(ty).map(|n| meta.num_rows = Some(n)).map(|_| true),
        4 => r
            .structs(ty, &mut |r| {
                let mut group = Group::default();
                r.fields(&mut |r, id, ty| match id {
                    1 => r
                        .structs(ty, &mut |r| {
                            let mut chunk = Chunk::default();
                            column_chunk_fields(r, &mut chunk)?;
                            group.chunks.push(chunk);
                            Ok(())
                        })
                        .map(|_| true),
                    3 => r.int(ty).map(|n| group.num_rows = n).map(|_| true),
                    _ => Ok(false),
                })?;
                meta.groups.push(group);
                Ok(())
            })
            .map(|_| true),
        _ => Ok(false),
    })?;
    Ok(meta)
}

/// `ColumnChunk`, with its `ColumnMetaData` (field 3).
fn column_chunk_fields(r: &mut Reader, chunk: &mut Chunk) -> Check {
    r.fields(&mut |r, id, ty| match id {
        1 => {
            chunk.external = true;
            Ok(false)
        }
        3 => {
            r.expect(ty, STRUCT)?;
            r.fields(&mut |r, id, ty| {
                let slot = match id {
                    5 => &mut chunk.num_values,
                    7 => &mut chunk.compressed_size,
                    9 => &mut chunk.data_page_offset,
                    11 => &mut chunk.dictionary_page_offset,
                    _ => return Ok(false),
                };
                *slot = Some(r.int(ty)?);
                Ok(true)
            })?;
            Ok(true)
        }
        _ => Ok(false),
    })
}

/// `PageHeader`: sizes, and the value count of a data or dictionary page.
fn page_header(r: &mut Reader) -> Check<Page> {
    fn int32(r: &mut Reader, ty: u8) -> Check<i32> {
        let v = r.int(ty)?;
        i32::try_from(v).map_err(|_| format!("a page header value {v} out of range"))
    }
    let mut page = Page::default();
    r.fields(&mut |r, id, ty| {
        match id {
            2 => page.uncompressed_size = int32(r, ty)?,
            3 => page.compressed_size = int32(r, ty)?,
            // Data page (v1 and v2) and dictionary page headers: field 1 is
            // the value count.
            5 | 7 | 8 => {
                r.expect(ty, STRUCT)?;
                page.is_data |= id != 7;
                r.fields(&mut |r, field, ty| {
                    if field != 1 {
                        return Ok(false);
                    }
                    page.num_values = int32(r, ty)?;
                    Ok(true)
                })?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(page)
}

/// A Thrift compact-protocol reader that checks every length against the
/// bytes left and skips what it is not asked for.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
    depth: usize,
}

/// Deeper nesting than any Parquet structure has.
const MAX_DEPTH: usize = 32;

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            at: 0,
            depth: 0,
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.at
    }

    fn byte(&mut self) -> Check<u8> {
        let b = *self
            .buf
            .get(self.at)
            .ok_or("it ends inside a Thrift value")?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Check<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            v |= u64::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a Thrift integer longer than 10 bytes".into())
    }

    fn zigzag(&mut self) -> Check<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn skip_bytes(&mut self, n: u64) -> Check {
        if n > self.remaining() as u64 {
            return Err(format!(
                "a Thrift length of {n} bytes, {} left",
                self.remaining()
            ));
        }
        self.at += n as usize;
        Ok(())
    }

    fn expect(&self, ty: u8, want: u8) -> Check {
        if ty == want {
            Ok(())
        } else {
            Err(format!("a Thrift field of type {ty} where {want} belongs"))
        }
    }

    fn int(&mut self, ty: u8) -> Check<i64> {
        match ty {
            BYTE => self.byte().map(|b| i64::from(b as i8)),
            I16 | I32 | I64 => self.zigzag(),
            other => Err(format!(
                "a Thrift field of type {other} where an integer belongs"
            )),
        }
    }

    /// A list or set header: element count (at most the bytes left, as
    /// every element takes one byte or more) and element type.
    fn list_header(&mut self) -> Check<(u64, u8)> {
        let h = self.byte()?;
        let mut n = u64::from(h >> 4);
        if n == 15 {
            n = self.varint()?;
        }
        if n > self.remaining() as u64 {
            return Err(format!(
                "a Thrift list of {n} elements, {} bytes left",
                self.remaining()
            ));
        }
        Ok((n, h & 0x0F))
    }

    /// A list of structs, each read by `f`.
    fn structs(&mut self, ty: u8, f: &mut dyn FnMut(&mut Self) -> Check) -> Check {
        self.expect(ty, LIST)?;
        let (n, element) = self.list_header()?;
        self.expect(element, STRUCT)?;
        for _ in 0..n {
            self.enter()?;
            f(self)?;
            self.depth -= 1;
        }
        Ok(())
    }

    /// The fields of a struct: `f` reads those it wants (returning true);
    /// the others are skipped.
    fn fields(&mut self, f: &mut dyn FnMut(&mut Self, i16, u8) -> Check<bool>) -> Check {
        self.enter()?;
        let mut last: i16 = 0;
        loop {
            let h = self.byte()?;
            if h == 0 {
                break;
            }
            let (delta, ty) = (h >> 4, h & 0x0F);
            let id = if delta == 0 {
                let id = self.zigzag()?;
                i16::try_from(id).map_err(|_| format!("a Thrift field id {id}"))?
            } else {
                last.checked_add(i16::from(delta))
                    .ok_or("a Thrift field id out of range")?
            };
            last = id;
            if matches!(ty, BOOL_TRUE | BOOL_FALSE) {
                // The value is in the type.
                continue;
            }
            if !f(self, id, ty)? {
                self.skip(ty)?;
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn enter(&mut self) -> Check {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("Thrift values nested too deep".into());
        }
        Ok(())
    }

    /// Skips a value of type `ty` (inside a list or map, a boolean is a byte).
    fn skip(&mut self, ty: u8) -> Check {
        match ty {
            BOOL_TRUE | BOOL_FALSE | BYTE => self.byte().map(drop),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.skip_bytes(8),
            BINARY => {
                let n = self.varint()?;
                self.skip_bytes(n)
            }
            LIST | SET => {
                let (n, element) = self.list_header()?;
                self.enter()?;
                for _ in 0..n {
                    self.skip(element)?;
                }
                self.depth -= 1;
                Ok(())
            }
            MAP => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                if n > self.remaining() as u64 {
                    return Err(format!("a Thrift map of {n} entries"));
                }
                let types = self.byte()?;
                self.enter()?;
                for _ in 0..n {
                    self.skip(types >> 4)?;
                    self.skip(types & 0x0F)?;
                }
                self.depth -= 1;
                Ok(())
            }
            STRUCT => self.fields(&mut |_, _, _| Ok(false)),
            other => Err(format!("an unknown Thrift type {other}")),
        }
    }
}
