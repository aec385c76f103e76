//! Several inputs reduced to one state: prediction files, folders of
//! them, quoted globs (`'preds/*.parquet'`) and state files, each read on
//! its own, folded into its state and dropped, the states merged.
//!
//! Memory holds the merged state and one input per thread, never every
//! row. The merge is exact, so the result does not depend on the order of
//! the inputs, the thread count or how the rows were split into files.

use std::path::{Path, PathBuf};

use super::binary::BinaryState;
use super::file::{StateFile, TaskState, is_state_file};
use super::multiclass::MulticlassState;
use crate::data::{Columns, Predictions, ReadOptions};
use crate::error::{Error, Result};

/// The files the arguments name, in order: a file as it is, a folder's
/// regular files (sorted by name, hidden ones left out), a glob's matches
/// (`*` and `?` in the last component; sorted). A folder or glob that
/// names no file, and a file named twice, are errors.
pub fn expand(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = Vec::new();
    for arg in args {
        let found = if arg.is_dir() {
            let files = listing(arg, arg, &|_| true)?;
            if files.is_empty() {
                return Err(Error::usage(format!(
                    "{}: is a directory with no files in it",
                    arg.display()
                )));
            }
            files
        } else if !arg.exists() && is_glob(arg) {
            let dir = match arg.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if is_glob(&dir) {
                return Err(Error::usage(format!(
                    "{}: wildcards are matched in the last part of a path only",
                    arg.display()
                )));
            }
            let pattern = arg
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let files = listing(&dir, arg, &|name| wildcard(&pattern, name))?;
            if files.is_empty() {
                return Err(Error::usage(format!("{} matches no file", arg.display())));
            }
            files
        } else {
            vec![arg.clone()]
        };
        for f in found {
            if out.contains(&f) {
                return Err(Error::usage(format!(
                    "{} is given twice: its rows would count twice",
                    f.display()
                )));
            }
            out.push(f);
        }
    }
    Ok(out)
}

fn is_glob(p: &Path) -> bool {
    p.to_string_lossy().contains(['*', '?'])
}

/// The regular files of `dir` whose names pass `keep`, sorted; hidden
/// files are left out.
fn listing(dir: &Path, arg: &Path, keep: &dyn Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(arg, "cannot list", e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, "cannot list", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if !name.starts_with('.') && keep(&name) && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Shell-style matching of `*` (any run) and `?` (one character).
fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Why a ranking has no state: its metrics need each query's items
/// together, which shards and merged files do not promise.
pub const RANKING_NEEDS_ROWS: &str = "a ranking is evaluated from the rows of one prediction file (each query's items together); states, merged files and shards of a ranking are not built";

/// The state of a prediction file's rows.
pub fn from_predictions(preds: &Predictions) -> Result<StateFile> {
    let state = match &preds.columns {
        Columns::Binary { labels, scores } => TaskState::Binary(BinaryState::from_columns(
            labels,
            scores,
            preds.weights.as_ref(),
        )),
        Columns::Regression { labels, scores } => {
            TaskState::Regression(super::regression::RegressionState::from_columns(
                labels,
                scores,
                preds.weights.as_ref(),
            ))
        }
        Columns::Multiclass {
            labels,
            scores,
            classes,
        } => TaskState::Multiclass(MulticlassState::from_rows(
            *classes,
            labels,
            scores,
            preds.weights.as_ref(),
        )),
        Columns::Ranking { .. } => {
            return Err(Error::usage(format!(
                "{}: {RANKING_NEEDS_ROWS}",
                preds.path.display()
            )));
        }
    };
    Ok(StateFile {
        header: preds.header(),
        state,
    })
}

/// One input's state: a state file as it is, a prediction file read with
/// `options` and folded chunk by chunk ([`crate::data::chunk_rows`] rows at
/// a time).
pub fn read_one(path: &Path, options: &ReadOptions) -> Result<StateFile> {
    read_one_in_chunks(path, options, crate::data::chunk_rows())
}

/// [`read_one`] with chunks of `chunk_rows` rows: the state is the same,
/// bit for bit, whatever the chunk size (states merge exactly); only memory
/// and speed change.
pub fn read_one_in_chunks(
    path: &Path,
    options: &ReadOptions,
    chunk_rows: usize,
) -> Result<StateFile> {
    if is_state_file(path) {
        return StateFile::read(path);
    }
    let mut chunks = MergeTree::default();
    crate::data::for_each_chunk(path, options, chunk_rows, &mut |preds| {
        chunks.push(from_predictions(&preds)?)
    })?;
    let mut file = chunks.finish()?;
    // The chunks of one file are one source.
    file.header.sources = 1;
    Ok(file)
}

/// The merged state of every input (already expanded), read as many
/// inputs at a time as there are threads (each input's state is built in
/// parallel too; reading one file while another folds keeps every core
/// busy). States merge as a balanced tree ([`MergeTree`]); memory holds
/// O(log inputs) states and one input's chunk per thread. Every input is
/// checked against the first before it merges, so an error names the input
/// at fault; the first input in error (in the given order) is the one
/// reported.
pub fn reduce(paths: &[PathBuf], options: &ReadOptions) -> Result<StateFile> {
    use rayon::prelude::*;
    let mut tree = MergeTree::default();
    let window = rayon::current_num_threads().max(1);
    for group in paths.chunks(window) {
        let states: Vec<Result<StateFile>> =
            group.par_iter().map(|p| read_one(p, options)).collect();
        for s in states {
            tree.push(s?)?;
        }
    }
    tree.finish()
}

/// States merged as a balanced tree as they arrive: a binary counter, level
/// k holding the merge of 2^k states, so each distinct score is merged
/// O(log states) times, not once per state. Each state is checked against
/// the first's header before it merges.
#[derive(Default)]
pub struct MergeTree {
    first: Option<crate::data::Header>,
    stack: Vec<(u32, StateFile)>,
}

impl MergeTree {
    /// Adds a state.
    pub fn push(&mut self, mut s: StateFile) -> Result<()> {
        match &self.first {
            Some(h) => StateFile::compatible(h, &s.header)?,
            None => self.first = Some(s.header.clone()),
        }
        let mut level = 0;
        while self.stack.last().is_some_and(|(l, _)| *l == level) {
            let Some((_, mut older)) = self.stack.pop() else {
                break;
            };
            older.merge(s)?;
            s = older;
            level += 1;
        }
        self.stack.push((level, s));
        Ok(())
    }

    /// The merge of every state pushed; an error when there was none.
    pub fn finish(mut self) -> Result<StateFile> {
        let mut merged: Option<StateFile> = None;
        while let Some((_, mut older)) = self.stack.pop() {
            if let Some(m) = merged.take() {
                older.merge(m)?;
            }
            merged = Some(older);
        }
        merged.ok_or_else(|| Error::usage("no input given"))
    }
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn wildcards_match_like_a_shell() {
        assert!(wildcard("*.parquet", "part-0.parquet"));
        assert!(!wildcard("*.parquet", "part-0.parquet.tmp"));
        assert!(wildcard("part-?.arrow", "part-7.arrow"));
        assert!(!wildcard("part-?.arrow", "part-17.arrow"));
        assert!(wildcard("*", "x"));
        assert!(wildcard("a*b*c", "axxbyyc"));
        assert!(!wildcard("a*b*c", "axxbyy"));
    }
}
