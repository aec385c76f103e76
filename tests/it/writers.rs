//! Every writer (`report -o`, `infer -o` with and without the cache, a
//! suite's report path and `run --report`) replaces only a regular file, or
//! writes through a symbolic link to one; anything else at the output path
//! (a FIFO, a socket, a device, a folder, a dangling link, a read-only file)
//! is one error naming the path, and is left exactly as it was.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{evalkit, fixture, stderr};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs one writer with `out` as its output: (exit code, stderr).
type Writer = Box<dyn Fn(&Path) -> (Option<i32>, String)>;

fn writers(dir: &Path) -> Vec<(&'static str, Writer)> {
    let run = |args: Vec<String>| {
        let o = evalkit(args);
        (o.status.code(), stderr(&o))
    };
    let infer = move |out: &Path, extra: &[String]| {
        let mut a: Vec<String> = [
            "infer",
            s(&fixture("models/breast_cancer_lr.onnx")),
            s(&fixture("data/breast_cancer.parquet")),
            "-o",
            s(out),
            "--label",
            "label",
            "--keep",
            "row_id",
        ]
        .map(String::from)
        .to_vec();
        a.extend(extra.iter().cloned());
        run(a)
    };
    let cache = dir.join("cache");
    let suite_dir = dir.to_path_buf();
    let suite_body = |report: Option<&Path>| {
        format!(
            "name = \"w\"\n[predictions]\npath = \"{}\"\n[full]\nbootstrap = 0\n{}[[gate]]\nmetric = \"roc_auc\"\nmin = 0.5\n",
            s(&fixture("binary_balanced.arrow")),
            report.map_or(String::new(), |r| format!(
                "[report]\npath = \"{}\"\n",
                s(r)
            ))
        )
    };
    let suite_dir2 = suite_dir.clone();
    vec![
        (
            "report -o",
            Box::new(move |out: &Path| {
                run([
                    "report",
                    s(&fixture("binary_balanced.arrow")),
                    "--bootstrap",
                    "0",
                    "-o",
                    s(out),
                ]
                .map(String::from)
                .to_vec())
            }) as Writer,
        ),
        (
            "infer -o --no-cache",
            Box::new(move |out: &Path| infer(out, &["--no-cache".to_string()])),
        ),
        (
            "infer -o (cache)",
            Box::new(move |out: &Path| {
                infer(out, &["--cache-dir".to_string(), s(&cache).to_string()])
            }),
        ),
        (
            "suite [report] path",
            Box::new(move |out: &Path| {
                let suite = suite_dir.join("with_report.toml");
                std::fs::write(&suite, suite_body(Some(out))).unwrap();
                run(["run", s(&suite)].map(String::from).to_vec())
            }),
        ),
        (
            "run --report",
            Box::new(move |out: &Path| {
                let suite = suite_dir2.join("plain.toml");
                std::fs::write(&suite, suite_body(None)).unwrap();
                run(["run", s(&suite), "--report", s(out)]
                    .map(String::from)
                    .to_vec())
            }),
        ),
    ]
}

/// What is at a path, without following a link.
fn what(p: &Path) -> String {
    match std::fs::symlink_metadata(p) {
        Err(_) => "nothing".to_string(),
        Ok(m) => {
            let t = m.file_type();
            if t.is_symlink() {
                format!("link to {}", std::fs::read_link(p).unwrap().display())
            } else if t.is_fifo() {
                "fifo".to_string()
            } else if t.is_socket() {
                "socket".to_string()
            } else if t.is_char_device() {
                "char device".to_string()
            } else if t.is_dir() {
                "dir".to_string()
            } else {
                format!(
                    "file {:o} {:?}",
                    m.permissions().mode() & 0o7777,
                    std::fs::read(p).unwrap()
                )
            }
        }
    }
}

#[track_caller]
fn refused(name: &str, (code, err): (Option<i32>, String), path: &Path, needle: &str) {
    assert_eq!(code, Some(2), "{name}: {err}");
    assert_eq!(err.lines().count(), 1, "{name}: {err}");
    assert!(!err.contains("panicked"), "{name}: {err}");
    assert!(
        err.contains(s(path)),
        "{name}: the path is not named: {err}"
    );
    assert!(err.contains(needle), "{name}: no {needle:?} in: {err}");
}

#[test]
fn every_writer_refuses_what_is_not_a_regular_file_and_leaves_it_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (name, write) in writers(dir) {
        let at = dir.join(name.replace([' ', '[', ']', '(', ')'], "_"));
        std::fs::create_dir(&at).unwrap();

        // A FIFO: replacing it would break whatever reads it.
        let fifo = at.join("fifo");
        assert!(
            Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        refused(name, write(&fifo), &fifo, "FIFO");
        assert_eq!(what(&fifo), "fifo", "{name}");

        // A socket.
        let sock = at.join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        refused(name, write(&sock), &sock, "socket");
        assert_eq!(what(&sock), "socket", "{name}");

        // A device node (like /dev/full), where the system lets us make one.
        let dev = at.join("full");
        if Command::new("mknod")
            .arg(&dev)
            .args(["c", "1", "7"])
            .status()
            .is_ok_and(|s| s.success())
        {
            refused(name, write(&dev), &dev, "character device");
            assert_eq!(what(&dev), "char device", "{name}");
        } else {
            eprintln!("{name}: mknod is not allowed here; the device case is skipped");
        }

        // A folder.
        let folder = at.join("folder");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("inside"), "x").unwrap();
        refused(name, write(&folder), &folder, "folder");
        assert_eq!(what(&folder), "dir", "{name}");
        assert_eq!(std::fs::read(folder.join("inside")).unwrap(), b"x");

        // A dangling link: not replaced by a file, not followed.
        let dangling = at.join("dangling");
        std::os::unix::fs::symlink(at.join("missing"), &dangling).unwrap();
        refused(name, write(&dangling), &dangling, "does not exist");
        assert_eq!(
            what(&dangling),
            format!("link to {}", at.join("missing").display()),
            "{name}"
        );
        assert!(!at.join("missing").exists(), "{name}");

        // A link to a folder.
        let to_folder = at.join("to_folder");
        std::os::unix::fs::symlink(&folder, &to_folder).unwrap();
        refused(name, write(&to_folder), &to_folder, "link to a folder");
        assert!(what(&to_folder).starts_with("link to"), "{name}");

        // A read-only file: a permission error, even for root.
        let ro = at.join("read_only");
        std::fs::write(&ro, "precious").unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o444)).unwrap();
        refused(name, write(&ro), &ro, "read-only");
        assert_eq!(what(&ro), format!("file 444 {:?}", b"precious"), "{name}");

        // A link to a read-only file.
        let to_ro = at.join("to_read_only");
        std::os::unix::fs::symlink(&ro, &to_ro).unwrap();
        refused(name, write(&to_ro), &to_ro, "read-only");
        assert_eq!(what(&ro), format!("file 444 {:?}", b"precious"), "{name}");

        // A link to a regular file: written through, the link stays a
        // link, the target keeps its permission bits.
        let target = at.join("target");
        std::fs::write(&target, "old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = at.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let (code, err) = write(&link);
        assert!(code == Some(0) || code == Some(1), "{name}: {err}");
        assert_eq!(
            what(&link),
            format!("link to {}", target.display()),
            "{name}"
        );
        let meta = std::fs::metadata(&target).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o640, "{name}");
        assert!(meta.len() > 100, "{name}: the target was not written");

        // A regular file: replaced (atomically), nothing left beside it.
        let plain = at.join("plain");
        std::fs::write(&plain, "old").unwrap();
        let (code, err) = write(&plain);
        assert!(code == Some(0) || code == Some(1), "{name}: {err}");
        assert!(std::fs::metadata(&plain).unwrap().len() > 100, "{name}");
        let stray: Vec<PathBuf> = std::fs::read_dir(&at)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        assert!(stray.is_empty(), "{name}: temporary files left: {stray:?}");
    }
}
