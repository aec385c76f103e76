//! Arrow IPC files, memory-mapped: the columns are views of the mapping, so
//! reading a 10⁷-row prediction file costs page faults, not copies.

use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;

use arrow::buffer::Buffer;
use arrow::ipc::convert::try_fb_to_schema;
use arrow::ipc::reader::{FileDecoder, read_footer_length};
use arrow::ipc::{root_as_footer, root_as_message};

use super::Table;
use crate::error::{Error, Result};

/// Maps the file and decodes every record batch without copying buffers
/// (misaligned buffers written by other tools are copied, not rejected).
pub(crate) fn read_mmap(path: &Path) -> Result<Table> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
    // SAFETY: the mapping is read-only. Another process truncating the file
    // while it is mapped is outside what evalkit can guard against (as with
    // every mmap reader); evalkit itself never writes to a file it reads.
    let mmap =
        unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, "cannot map", e))?;
    let len = mmap.len();
    let ptr = NonNull::new(mmap.as_ptr() as *mut u8)
        .ok_or_else(|| truncated_file(path, "empty mapping"))?;
    // SAFETY: `ptr` is valid for `len` bytes for as long as the mapping lives,
    // and the mapping is owned by the buffer through the Arc.
    let buffer = unsafe { Buffer::from_custom_allocation(ptr, len, Arc::new(mmap)) };
    decode(path, buffer)
}

/// Decodes an Arrow IPC file held in memory (read from a pipe); `name`
/// stands for it in messages.
pub(crate) fn read_bytes(name: &Path, bytes: Vec<u8>) -> Result<Table> {
    decode(name, Buffer::from_vec(bytes))
}

fn truncated_file(name: &Path, what: &str) -> Error {
    Error::bad_format(
        name,
        format!("is a truncated or corrupt Arrow IPC file ({what}); write it again"),
    )
}

/// Decodes the record batches the footer of `buffer` lists.
fn decode(path: &Path, buffer: Buffer) -> Result<Table> {
    let len = buffer.len();
    let truncated = |what: &str| truncated_file(path, what);
    // The magic (padded to 8), a footer length and the closing magic.
    if len < 18 {
        return Err(truncated("too short for an Arrow file"));
    }
    let trailer: [u8; 10] = buffer[len - 10..]
        .try_into()
        .map_err(|_| truncated("no footer"))?;
    let footer_len = read_footer_length(trailer).map_err(|_| truncated("no footer at the end"))?;
    if footer_len + 10 + 8 > len {
        return Err(truncated("footer longer than the file"));
    }

    let footer = root_as_footer(&buffer[len - 10 - footer_len..len - 10])
        .map_err(|e| truncated(&format!("unreadable footer: {e}")))?;
    let fb_schema = footer
        .schema()
        .ok_or_else(|| truncated("no schema in the footer"))?;
    let schema = Arc::new(
        try_fb_to_schema(fb_schema).map_err(|e| truncated(&format!("unreadable schema: {e}")))?,
    );
    let mut decoder =
        FileDecoder::new(schema.clone(), footer.version()).with_require_alignment(false);

    let block_data = |offset: i64, meta: i32, body: i64| -> Result<Buffer> {
        let start = usize::try_from(offset).map_err(|_| truncated("negative block offset"))?;
        let size = (meta as i64)
            .checked_add(body)
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| truncated("bad block size"))?;
        if start.checked_add(size).is_none_or(|end| end > len) {
            return Err(truncated("a record batch runs past the end of the file"));
        }
        Ok(buffer.slice_with_length(start, size))
    };

    for block in footer.dictionaries().iter().flatten() {
        let data = block_data(block.offset(), block.metaDataLength(), block.bodyLength())?;
        decoder
            .read_dictionary(block, &data)
            .map_err(|e| truncated(&format!("bad dictionary: {e}")))?;
    }
    let mut batches = Vec::new();
    for block in footer.recordBatches().iter().flatten() {
        let data = block_data(block.offset(), block.metaDataLength(), block.bodyLength())?;
        if let Some(batch) = decoder
            .read_record_batch(block, &data)
            .map_err(|e| truncated(&format!("bad record batch: {e}")))?
        {
            batches.push(batch);
        }
    }
    Ok(Table {
        path: path.to_path_buf(),
        schema,
        batches,
    })
}

/// Walks the messages of an Arrow IPC stream without decoding them: each is
/// an optional continuation marker, its metadata length, a flatbuffer
/// message and a body. A stream whose last message runs past the end of the
/// data was cut short; the polars reader would call that "failed to fill
/// whole buffer". A stream closed after a whole message without the
/// end-of-stream marker is valid (the format allows it).
pub(crate) fn check_stream(name: &Path, bytes: &[u8]) -> Result<()> {
    let bad = |what: String| {
        Error::bad_format(
            name,
            format!("is a truncated or corrupt Arrow IPC stream ({what}); write it again"),
        )
    };
    let len = bytes.len();
    let word = |at: usize| -> Option<i32> {
        let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(i32::from_le_bytes(b))
    };
    let mut at = 0usize;
    while at < len {
        let message = at;
        let ends_early = || bad(format!("it ends inside the message at byte {message}"));
        let mut meta = word(at).ok_or_else(ends_early)?;
        at += 4;
        if meta == -1 {
            meta = word(at).ok_or_else(ends_early)?;
            at += 4;
        }
        if meta == 0 {
            return Ok(()); // the end-of-stream marker
        }
        let meta = usize::try_from(meta).map_err(|_| {
            bad(format!(
                "the message at byte {message} has a negative length"
            ))
        })?;
        if meta > len - at {
            return Err(ends_early());
        }
        let header = root_as_message(&bytes[at..at + meta])
            .map_err(|e| bad(format!("the message at byte {message} is unreadable: {e}")))?;
        at += meta;
        let body = usize::try_from(header.bodyLength()).map_err(|_| {
            bad(format!(
                "the message at byte {message} has a negative body length"
            ))
        })?;
        if body > len - at {
            return Err(ends_early());
        }
        at += body;
    }
    Ok(())
}
