//! Output files written safely: every file evalkit writes (prediction files,
//! reports, cache entries) goes through here.
//!
//! - Only a regular file is replaced. A symbolic link to a regular file is
//!   written through: its target is replaced and the link stays a link. A
//!   directory, FIFO, socket, device or dangling link at the output path is
//!   an error naming the path and what it is; nothing there is opened,
//!   followed or replaced.
//! - A file without write permission is an error. It is judged from the
//!   permission bits as well as by the operating system, since root may
//!   write anything: a read-only file means "do not overwrite" to its owner.
//! - Writes are atomic: a temporary file in the target's folder, flushed,
//!   then renamed onto the target, so a run killed at any moment leaves the
//!   old file or the new one, never half of one. A replaced file's
//!   permission bits carry over to the new one.

use std::fs::{File, Permissions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A checked output path: where the bytes will land.
#[derive(Debug, Clone)]
pub struct Output {
    /// The path as given.
    path: PathBuf,
    /// The file replaced: `path`, or the regular file a link points to.
    target: PathBuf,
    /// The permission bits of the file replaced, when there is one.
    permissions: Option<Permissions>,
}

/// A unique temporary name in the same folder as `target` (so the final
/// rename stays on one file system and is atomic).
pub fn temp_beside(target: &Path) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = target
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = format!(".{name}.tmp-{}-{n}", std::process::id());
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(tmp),
        _ => PathBuf::from(tmp),
    }
}

/// Creates `path` for writing, failing if anything is already there (a
/// temporary file is never a link planted in its place).
pub fn create_new(path: &Path) -> std::io::Result<File> {
    File::options().write(true).create_new(true).open(path)
}

/// What a file that is not a regular file is, in words.
fn kind(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "an unknown kind of file"
    }
}

fn refuse(path: &Path, what: String) -> Error {
    Error::io(
        path,
        "cannot write",
        std::io::Error::other(format!(
            "{what}; evalkit replaces only a regular file (or writes through a link to one), so choose another path"
        )),
    )
}

/// Checks `path` as an output: nothing there, a regular file we may write,
/// or a link to one. The folder must exist.
pub fn check(path: &Path) -> Result<Output> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !dir.is_dir() {
                return Err(Error::usage(format!(
                    "cannot write {}: the folder {} does not exist",
                    path.display(),
                    dir.display()
                )));
            }
            return Ok(Output {
                path: path.to_path_buf(),
                target: path.to_path_buf(),
                permissions: None,
            });
        }
        Err(e) => return Err(Error::io(path, "cannot write", e)),
    };
    let (target, meta) = if meta.file_type().is_symlink() {
        let followed = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let to = std::fs::read_link(path)
                    .map_or_else(|_| "?".to_string(), |t| t.display().to_string());
                return Err(refuse(
                    path,
                    format!("it is a symbolic link to {to}, which does not exist"),
                ));
            }
            Err(e) => return Err(Error::io(path, "cannot write", e)),
        };
        if !followed.file_type().is_file() {
            return Err(refuse(
                path,
                format!(
                    "it is a symbolic link to {}, not to a regular file",
                    kind(&followed.file_type())
                ),
            ));
        }
        let target = std::fs::canonicalize(path).map_err(|e| Error::io(path, "cannot write", e))?;
        (target, followed)
    } else if meta.file_type().is_file() {
        (path.to_path_buf(), meta)
    } else {
        return Err(refuse(
            path,
            format!("it is {}, not a regular file", kind(&meta.file_type())),
        ));
    };
    // Write permission: the bits (root writes anyway), then the system's
    // verdict for other users. Opening without truncating changes nothing.
    let denied = meta.permissions().readonly()
        || matches!(
            File::options().write(true).open(&target),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied
        );
    if denied {
        return Err(Error::io(
            path,
            "cannot write",
            std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the file is read-only (no write permission); make it writable or choose another path",
            ),
        ));
    }
    Ok(Output {
        path: path.to_path_buf(),
        target,
        permissions: Some(meta.permissions()),
    })
}

impl Output {
    /// The path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file that will be replaced (the link's target for a link).
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// A fresh temporary path beside the target.
    pub fn temp(&self) -> PathBuf {
        temp_beside(&self.target)
    }

    /// Renames the finished temporary file `tmp` onto the target, after
    /// checking the path again (something else may have appeared there
    /// meanwhile). `tmp` is removed when anything fails.
    pub fn commit(&self, tmp: &Path) -> Result<()> {
        let result = (|| {
            let now = check(&self.path)?;
            if let Some(p) = now.permissions.or_else(|| self.permissions.clone()) {
                std::fs::set_permissions(tmp, p)
                    .map_err(|e| Error::io(&self.path, "cannot write", e))?;
            }
            std::fs::rename(tmp, &now.target).map_err(|e| Error::io(&self.path, "cannot write", e))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(tmp);
        }
        result
    }

    /// Writes the file with `fill`, atomically.
    pub fn write_with(&self, fill: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<()> {
        let tmp = self.temp();
        let written = create_new(&tmp).and_then(|mut f| {
            fill(&mut f)?;
            f.sync_all()
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(&self.path, "cannot write", e));
        }
        self.commit(&tmp)
    }

    /// Writes `bytes` as the file, atomically.
    pub fn write(&self, bytes: &[u8]) -> Result<()> {
        self.write_with(|f| f.write_all(bytes))
    }

    /// Makes the file a copy of `source`, atomically: an independent file,
    /// never a hard link, so editing one never changes the other. The copy
    /// is the kernel's (`copy_file_range`), which shares the blocks as a
    /// reflink on file systems that have them (Btrfs, XFS) and copies the
    /// bytes elsewhere.
    pub fn copy_from(&self, source: &Path) -> Result<()> {
        let mut src = File::open(source).map_err(|e| Error::io(source, "cannot open", e))?;
        self.write_with(|f| std::io::copy(&mut src, f).map(|_| ()))
    }
}

/// Writes `bytes` to `path` safely and atomically (see the module's rules).
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    check(path)?.write(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_to_a_file_is_written_through_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.txt");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
    }
}
