//! The content-addressed prediction cache.
//!
//! The key is the blake3 hash of the model's bytes, the data's bytes, the
//! inference configuration (canonical JSON) and evalkit's major version, so
//! the same model on the same data with the same options never runs twice.
//! An entry is `<dir>/<k0k1>/<key>.arrow` with its content hash beside it in
//! `<key>.arrow.blake3`; a mismatch (or a missing hash) means a corrupt or
//! half-written entry, which is reported and recomputed.
//!
//! Writes are atomic: every file is written under a temporary name in the
//! destination's folder, flushed, then renamed, so a run killed at any
//! moment leaves nothing under a final name (see [`crate::output_file`]).
//! Runs of the same key are serialised by an exclusive lock on
//! `<key>.lock`: the second run waits for the first and then finds its
//! entry, so both end with identical files. When the lock cannot be taken
//! (a read-only cache), [`Cache::peek`] still reads a verified entry, and
//! otherwise the run goes on without the cache.
//!
//! An output is always a copy of its entry ([`publish`]), never a hard
//! link: editing an output in place changes neither the entry nor the other
//! outputs.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::output_file;

pub use crate::output_file::temp_beside;

/// evalkit's major version, part of every key (a new major version may
/// write different files).
pub const MAJOR: &str = env!("CARGO_PKG_VERSION_MAJOR");

/// blake3 of a file's bytes (streamed).
pub fn hash_file(path: &Path) -> Result<blake3::Hash> {
    let mut f = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Error::io(path, "cannot read", e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize())
}

/// The cache key of (model hash, data hash, configuration).
pub fn key(model: &blake3::Hash, data: &blake3::Hash, config: &serde_json::Value) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"evalkit-prediction-cache\0");
    h.update(MAJOR.as_bytes());
    h.update(b"\0");
    h.update(model.as_bytes());
    h.update(data.as_bytes());
    h.update(config.to_string().as_bytes());
    h.finalize().to_hex().to_string()
}

/// A cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A verified entry.
    Hit(PathBuf),
    /// No entry.
    Miss,
    /// An entry whose content does not match its hash (it was removed).
    Corrupt(String),
}

/// An exclusive lock on one key, released when dropped (and by the OS when
/// the process dies).
pub struct KeyLock {
    _file: File,
}

impl Cache {
    /// The cache at `dir` (created when needed).
    pub fn new(dir: &Path) -> Cache {
        Cache {
            dir: dir.to_path_buf(),
        }
    }

    /// The default directory: `$EVALKIT_CACHE`, else `.evalkit/cache`.
    pub fn default_dir() -> PathBuf {
        std::env::var_os("EVALKIT_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".evalkit/cache"))
    }

    fn folder(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2])
    }

    /// The entry's final path.
    pub fn entry(&self, key: &str) -> PathBuf {
        self.folder(key).join(format!("{key}.arrow"))
    }

    fn sidecar(&self, key: &str) -> PathBuf {
        self.folder(key).join(format!("{key}.arrow.blake3"))
    }

    /// Locks `key` against other runs (blocks until the lock is free).
    pub fn lock(&self, key: &str) -> Result<KeyLock> {
        let folder = self.folder(key);
        std::fs::create_dir_all(&folder)
            .map_err(|e| Error::io(&folder, "cannot create the cache folder", e))?;
        let path = folder.join(format!("{key}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, "cannot open the cache lock", e))?;
        file.lock()
            .map_err(|e| Error::io(&path, "cannot lock", e))?;
        Ok(KeyLock { _file: file })
    }

    /// Looks `key` up, verifying the entry's content hash; a corrupt entry
    /// is removed (call with the key's lock held).
    pub fn lookup(&self, key: &str) -> Result<Lookup> {
        self.verify(key, true)
    }

    /// Looks `key` up without the lock and without changing anything: a
    /// verified entry is a hit; anything else (no entry, one being written,
    /// a corrupt or unreadable one) is a miss.
    pub fn peek(&self, key: &str) -> Lookup {
        match self.verify(key, false) {
            Ok(Lookup::Hit(entry)) => Lookup::Hit(entry),
            _ => Lookup::Miss,
        }
    }

    fn verify(&self, key: &str, remove_corrupt: bool) -> Result<Lookup> {
        let entry = self.entry(key);
        if !entry.exists() {
            return Ok(Lookup::Miss);
        }
        let recorded = std::fs::read_to_string(self.sidecar(key)).ok();
        let actual = hash_file(&entry)?.to_hex().to_string();
        match recorded {
            Some(r) if r.trim() == actual => Ok(Lookup::Hit(entry)),
            other => {
                let why = match other {
                    None => "its content hash is missing (an interrupted write?)".to_string(),
                    Some(_) => "its content does not match its recorded hash".to_string(),
                };
                if remove_corrupt {
                    // Remove the bad entry so that it is recomputed.
                    let _ = std::fs::remove_file(&entry);
                    let _ = std::fs::remove_file(self.sidecar(key));
                }
                Ok(Lookup::Corrupt(format!(
                    "cache entry {} is corrupt: {why}",
                    entry.display()
                )))
            }
        }
    }

    /// Stores the file at `tmp` (written in this cache's folder for `key`,
    /// see [`Cache::temp_path`]) as the entry of `key`, atomically.
    pub fn store(&self, key: &str, tmp: &Path) -> Result<PathBuf> {
        let entry = self.entry(key);
        let hash = hash_file(tmp)?.to_hex().to_string();
        output_file::check(&entry)
            .and_then(|out| out.commit(tmp))
            .inspect_err(|_| {
                let _ = std::fs::remove_file(tmp);
            })?;
        // The hash last: an entry without it is treated as incomplete.
        write_atomic(&self.sidecar(key), hash.as_bytes())?;
        Ok(entry)
    }

    /// A temporary path in the folder of `key` (same file system as the
    /// entry, so the final rename is atomic).
    pub fn temp_path(&self, key: &str) -> Result<PathBuf> {
        let folder = self.folder(key);
        std::fs::create_dir_all(&folder)
            .map_err(|e| Error::io(&folder, "cannot create the cache folder", e))?;
        Ok(temp_beside(&folder.join(format!("{key}.arrow"))))
    }
}

/// Writes `bytes` to `path` atomically (temporary file, flush, rename),
/// replacing only a regular file (see [`crate::output_file`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    output_file::write(path, bytes)
}

/// Puts a copy of `source` at `dest` atomically, creating `dest`'s folder.
/// Always a copy (shared blocks where the file system can reflink), never a
/// hard link, so that editing `dest` cannot change `source`.
pub fn publish(source: &Path, dest: &Path) -> Result<()> {
    create_parent(dest)?;
    output_file::check(dest)?.copy_from(source)
}

/// Creates the folder `path` goes in, when it has one.
pub fn create_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(parent, "cannot create the folder", e))?;
    }
    Ok(())
}
