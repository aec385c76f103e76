//! Arrow IPC files, memory-mapped: the columns are views of the mapping, so
//! reading a 10⁷-row prediction file costs page faults, not copies.

use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;

use arrow::buffer::Buffer;
use arrow::ipc::convert::try_fb_to_schema;
use arrow::ipc::reader::{FileDecoder, read_footer_length};
use arrow::ipc::root_as_footer;

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
    let truncated = |what: &str| {
        Error::bad_format(
            path,
            format!("is a truncated or corrupt Arrow IPC file ({what}); write it again"),
        )
    };
    if len < 18 {
        return Err(truncated("too short for an Arrow file"));
    }
    let trailer: [u8; 10] = mmap[len - 10..]
        .try_into()
        .map_err(|_| truncated("no footer"))?;
    let footer_len = read_footer_length(trailer).map_err(|_| truncated("no footer at the end"))?;
    if footer_len + 10 + 8 > len {
        return Err(truncated("footer longer than the file"));
    }
    let ptr = NonNull::new(mmap.as_ptr() as *mut u8).ok_or_else(|| truncated("empty mapping"))?;
    // SAFETY: `ptr` is valid for `len` bytes for as long as the mapping lives,
    // and the mapping is owned by the buffer through the Arc.
    let buffer = unsafe { Buffer::from_custom_allocation(ptr, len, Arc::new(mmap)) };

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
