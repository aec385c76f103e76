//! State files (`.evstate`, `docs/state-format.md`): a task's state with
//! what describes its rows (task, row count, class names, weight column),
//! framed by a versioned header and compressed.
//!
//! ```text
//! offset  size  field
//! 0       8     magic "EVSTATE\0"
//! 8       2     format version, little-endian (this evalkit writes and reads 1)
//! 10      1     task: 0 binary, 1 multiclass, 2 regression
//! 11      1     flags: bit 0 weighted; other bits 0
//! 12      8     payload length in bytes, little-endian (uncompressed)
//! 20      32    blake3 of the payload (the content hash)
//! 52      ...   the payload, one zstd frame
//! ```
//!
//! The payload is canonical (equal states give equal bytes, whatever merge
//! tree built them), so the content hash identifies the rows' statistics:
//! it depends on neither the sharding nor any seed.

use std::io::Read as _;
use std::path::Path;

use super::binary::BinaryState;
use super::codec::{Read, Reader, Writer};
use super::multiclass::MulticlassState;
use super::regression::RegressionState;
use crate::data::{Header, ScoreKind, Task};
use crate::error::{Error, Result};

/// The first bytes of every state file.
pub const MAGIC: &[u8; 8] = b"EVSTATE\0";
/// The format version this evalkit writes and reads.
pub const VERSION: u16 = 1;
/// The file name extension of state files.
pub const EXTENSION: &str = "evstate";
const HEADER_LEN: usize = 52;
const WEIGHTED: u8 = 1;

/// A task's state.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskState {
    /// Binary classification.
    Binary(BinaryState),
    /// Multiclass classification.
    Multiclass(MulticlassState),
    /// Regression.
    Regression(RegressionState),
}

impl TaskState {
    /// The task.
    pub fn task(&self) -> Task {
        match self {
            TaskState::Binary(_) => Task::Binary,
            TaskState::Multiclass(_) => Task::Multiclass,
            TaskState::Regression(_) => Task::Regression,
        }
    }

    /// Whether the rows carry weights.
    pub fn weighted(&self) -> bool {
        match self {
            TaskState::Binary(s) => s.weighted(),
            TaskState::Multiclass(s) => s.weighted(),
            TaskState::Regression(s) => s.weighted(),
        }
    }

    /// Rows of positive weight in the state.
    pub fn rows(&self) -> u64 {
        match self {
            TaskState::Binary(s) => s.rows(),
            TaskState::Multiclass(s) => s.rows(),
            TaskState::Regression(s) => s.rows(),
        }
    }

    fn merge(&mut self, other: TaskState) -> std::result::Result<(), String> {
        match (self, other) {
            (TaskState::Binary(a), TaskState::Binary(b)) => {
                a.merge_owned(b);
                Ok(())
            }
            (TaskState::Multiclass(a), TaskState::Multiclass(b)) => a.merge(&b),
            (TaskState::Regression(a), TaskState::Regression(b)) => a.merge(&b),
            (a, b) => Err(format!("its task is {}, not {}", b.task(), a.task())),
        }
    }

    fn encode(&self, w: &mut Writer) {
        match self {
            TaskState::Binary(s) => s.encode(w),
            TaskState::Multiclass(s) => s.encode(w),
            TaskState::Regression(s) => s.encode(w),
        }
    }
}

/// A state with the description of its rows: what a state file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct StateFile {
    /// The rows' description; `path` is where the state came from.
    pub header: Header,
    /// The state.
    pub state: TaskState,
}

impl StateFile {
    /// Merges `other` into this one (its state is consumed, not copied).
    /// States of different tasks, classes, weighting or score kinds do not
    /// merge: the error names both.
    pub fn merge(&mut self, other: StateFile) -> Result<()> {
        Self::compatible(&self.header, &other.header)?;
        let StateFile { header, state } = other;
        if let Err(what) = self.state.merge(state) {
            return Err(Error::bad_format(
                &header.path,
                format!(
                    "cannot be merged with {}: {what}",
                    self.header.path.display()
                ),
            ));
        }
        self.header.rows += header.rows;
        self.header.sources += header.sources;
        if self.header.task_reason != header.task_reason {
            self.header.task_reason = "agreed by every input".to_string();
        }
        Ok(())
    }

    /// Whether rows described by `b` can merge with those of `a`: the same
    /// task, classes, weighting and score kind. The error names `b`'s file.
    pub fn compatible(a: &Header, b: &Header) -> Result<()> {
        let refuse = |what: String| {
            Err(Error::bad_format(
                &b.path,
                format!("cannot be merged with {}: {what}", a.path.display()),
            ))
        };
        if a.task != b.task {
            return refuse(format!("its task is {}, not {}", b.task, a.task));
        }
        if a.class_names != b.class_names {
            return refuse(format!(
                "its classes are [{}], not [{}]",
                b.class_names.join(", "),
                a.class_names.join(", ")
            ));
        }
        if a.weighted != b.weighted {
            let says = |h: &Header| match &h.weight_column {
                Some(c) => format!("weighted by '{c}'"),
                None => "unweighted".to_string(),
            };
            return refuse(format!("it is {}, the other {}", says(b), says(a)));
        }
        if a.score_kind != b.score_kind {
            return refuse(format!(
                "its scores were {}s, not {}s",
                b.score_kind.as_str(),
                a.score_kind.as_str()
            ));
        }
        Ok(())
    }

    /// The file's bytes (an error only when zstd cannot allocate).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let h = &self.header;
        let mut w = Writer::new();
        write_header(&mut w, h);
        self.state.encode(&mut w);
        let payload = w.into_bytes();
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len() / 2);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.push(task_code(h.task));
        out.push(if h.weighted { WEIGHTED } else { 0 });
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(blake3::hash(&payload).as_bytes());
        let compressed = zstd::bulk::compress(&payload, 3).map_err(|e| {
            Error::Usage(format!(
                "cannot compress a state of {} bytes: {e}",
                payload.len()
            ))
        })?;
        out.extend_from_slice(&compressed);
        Ok(out)
    }

    /// The content hash: blake3 of the canonical payload (hex).
    pub fn content_hash(bytes: &[u8]) -> Option<String> {
        bytes
            .get(20..HEADER_LEN)
            .map(|h| h.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Reads a state file's bytes; `path` names the file in errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<StateFile> {
        let bad = |m: String| Error::bad_format(path, m);
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad("is not an evalkit state file (no EVSTATE magic)".into()));
        }
        if bytes.len() < HEADER_LEN {
            return Err(bad(format!(
                "is a truncated evalkit state file ({} bytes, the header alone is {HEADER_LEN})",
                bytes.len()
            )));
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != VERSION {
            return Err(bad(format!(
                "is an evalkit state file of format version {version}; this evalkit reads version {VERSION}{}",
                if version > VERSION {
                    " (written by a newer evalkit)"
                } else {
                    ""
                }
            )));
        }
        let task = match bytes[10] {
            0 => Task::Binary,
            1 => Task::Multiclass,
            2 => Task::Regression,
            t => {
                return Err(bad(format!(
                    "names task {t}, which this evalkit does not know"
                )));
            }
        };
        let flags = bytes[11];
        if flags & !WEIGHTED != 0 {
            return Err(bad(format!(
                "sets flags {flags:#04x} this evalkit does not know (written by a newer evalkit?)"
            )));
        }
        let weighted = flags & WEIGHTED != 0;
        let len = u64::from_le_bytes(bytes[12..20].try_into().unwrap_or([0; 8]));
        let mut payload = Vec::new();
        let decoded = zstd::stream::read::Decoder::new(&bytes[HEADER_LEN..])
            .and_then(|d| d.take(len.saturating_add(1)).read_to_end(&mut payload));
        if let Err(e) = decoded {
            return Err(bad(format!(
                "is a corrupt or truncated evalkit state file: its payload does not decompress ({e})"
            )));
        }
        if payload.len() as u64 != len {
            return Err(bad(format!(
                "is a corrupt or truncated evalkit state file: its payload is {} bytes, its header says {len}",
                payload.len()
            )));
        }
        if blake3::hash(&payload).as_bytes()[..] != bytes[20..HEADER_LEN] {
            return Err(bad(
                "is a corrupt evalkit state file: its payload does not match its content hash"
                    .into(),
            ));
        }
        let corrupt = |m: String| bad(format!("is a corrupt evalkit state file: {m}"));
        let mut r = Reader::new(&payload);
        let header = read_header(&mut r, path, task, weighted).map_err(corrupt)?;
        let state = match task {
            Task::Binary => {
                TaskState::Binary(BinaryState::decode(&mut r, weighted).map_err(corrupt)?)
            }
            Task::Multiclass => TaskState::Multiclass(
                MulticlassState::decode(&mut r, header.class_names.len(), weighted)
                    .map_err(corrupt)?,
            ),
            Task::Regression => {
                TaskState::Regression(RegressionState::decode(&mut r, weighted).map_err(corrupt)?)
            }
            Task::Ranking => {
                return Err(corrupt("rankings have no state".to_string()));
            }
        };
        r.finish().map_err(corrupt)?;
        Ok(StateFile { header, state })
    }

    /// Reads a state file.
    pub fn read(path: &Path) -> Result<StateFile> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read", e))?;
        StateFile::from_bytes(path, &bytes)
    }

    /// Writes the state file atomically (only over a regular file).
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::output_file::write(path, &self.to_bytes()?)
    }
}

/// True when the path is a regular file that starts with the state magic
/// (a pipe or standard input is never opened here: its bytes would be
/// consumed).
pub fn is_state_file(path: &Path) -> bool {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == MAGIC
}

fn task_code(task: Task) -> u8 {
    match task {
        Task::Binary => 0,
        Task::Multiclass => 1,
        Task::Regression => 2,
        // Never written: a ranking has no state (read back as unknown).
        Task::Ranking => 3,
    }
}

/// Writes the description of the rows (the payload's first part).
pub(crate) fn write_header(w: &mut Writer, h: &Header) {
    w.varint(h.rows);
    w.str(&h.task_reason);
    w.opt_str(h.weight_column.as_deref());
    w.u8(h.score_kind as u8);
    w.len(h.class_names.len());
    for c in &h.class_names {
        w.str(c);
    }
}

/// Reads what [`write_header`] wrote, for rows of `task`; `path` names them.
pub(crate) fn read_header(r: &mut Reader, path: &Path, task: Task, weighted: bool) -> Read<Header> {
    let rows = r.varint("the row count")?;
    let task_reason = r.str("the task's reason")?;
    let weight_column = r.opt_str("the weight column")?;
    if weight_column.is_some() != weighted {
        return Err("the weight column and the weighted flag disagree".into());
    }
    let score_kind = match r.u8("the score kind")? {
        k if k == ScoreKind::Probability as u8 => ScoreKind::Probability,
        k if k == ScoreKind::Logit as u8 => ScoreKind::Logit,
        k => return Err(format!("score kind {k} is unknown")),
    };
    let n = r.len("the number of classes", r.remaining())?;
    let mut class_names = Vec::with_capacity(n);
    for _ in 0..n {
        class_names.push(r.str("a class name")?);
    }
    let want = match task {
        Task::Binary => Some(2),
        Task::Regression | Task::Ranking => Some(0),
        Task::Multiclass => None,
    };
    if want.is_some_and(|k| k != n) || (task == Task::Multiclass && n < 2) {
        return Err(format!("a {task} state with {n} class names"));
    }
    Ok(Header {
        path: path.to_path_buf(),
        task,
        task_reason,
        rows,
        sources: 1,
        weighted,
        weight_column,
        class_names,
        score_kind,
    })
}
