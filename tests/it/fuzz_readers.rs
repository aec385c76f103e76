//! Reader fuzzing: valid Arrow IPC file, Arrow stream, Parquet and CSV
//! fixtures, mutated (bytes flipped, cut short, ranges duplicated, deleted or
//! zeroed, other formats' bytes spliced in), go through
//! [`read_predictions`] and, when they read, the full tier without bootstrap.
//! Each must end in `Ok` with every metric finite or undefined (never NaN),
//! or in one `evalkit::Error` whose message is one line — never a panic.
//!
//! The seed is fixed, so a failure names a case that reproduces. The case
//! count defaults to what runs in about half a minute in a debug build;
//! `EVALKIT_FUZZ_CASES=N` runs more, `EVALKIT_FUZZ_SEED=S` another series,
//! and `EVALKIT_FUZZ_LOG=1` prints each case before it runs (with
//! `--nocapture`), to name a case that aborts the process.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use evalkit::data::{ReadOptions, read_predictions};
use evalkit::full::{FullOptions, full};
use evalkit::uncertainty::IntervalOptions;

use crate::common::{evalkit, fixture, stderr};

const SEED: u64 = 0xE7A1_F022_5EED_0001;
const DEFAULT_CASES: usize = 60_000;
/// How many of the mutated files also go through the binary.
const BINARY_RUNS: usize = 16;

/// SplitMix64: small, seeded, the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// A position in `0..=len`, biased to the first and last 512 bytes, where
    /// the magic numbers, headers and footers are.
    fn position(&mut self, len: usize) -> usize {
        match self.below(3) {
            0 => self.below(len.min(512) + 1),
            1 => len - self.below(len.min(512) + 1),
            _ => self.below(len + 1),
        }
    }

    /// A range length: mostly short, sometimes long.
    fn span(&mut self) -> usize {
        if self.below(4) == 0 {
            1 + self.below(4096)
        } else {
            1 + self.below(64)
        }
    }
}

/// The valid inputs the mutations start from.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    [
        "binary_balanced.arrow",
        "binary_balanced.arrows",
        "binary_balanced.parquet",
        "binary_balanced.csv",
        "binary_weighted.arrow",
        "multiclass_digits.arrow",
        "regression.arrow",
    ]
    .into_iter()
    .map(|name| (name, std::fs::read(fixture(name)).unwrap()))
    .collect()
}

/// One to three mutations of `seeds[which]`, and their description.
fn mutate(rng: &mut Rng, seeds: &[(&str, Vec<u8>)], which: usize) -> (Vec<u8>, String) {
    let mut bytes = seeds[which].1.clone();
    let mut done = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let len = bytes.len();
        match rng.below(8) {
            0 => {
                let n = 1 + rng.below(8);
                for _ in 0..n {
                    if !bytes.is_empty() {
                        let at = rng.position(len - 1);
                        bytes[at] = rng.next() as u8;
                    }
                }
                done.push(format!("flip {n} bytes"));
            }
            1 => {
                // A field-sized run of a value that breaks lengths and offsets.
                let width = [1, 2, 4, 8][rng.below(4)];
                let fill: [u8; 8] = match rng.below(5) {
                    0 => [0; 8],
                    1 => [0xFF; 8],
                    2 => [0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0x7F],
                    3 => [0, 0, 0, 0x80, 0, 0, 0, 0x80],
                    _ => rng.next().to_le_bytes(),
                };
                let at = rng.position(len.saturating_sub(width));
                let end = (at + width).min(len);
                bytes[at..end].copy_from_slice(&fill[..end - at]);
                done.push(format!(
                    "{width} bytes at {at} set to {:02x?}",
                    &fill[..width]
                ));
            }
            2 => {
                let at = rng.position(len);
                bytes.truncate(at);
                done.push(format!("cut to {at} bytes"));
            }
            3 => {
                let from = rng.position(len);
                let to = (from + rng.span()).min(len);
                let at = rng.position(len);
                let copy = bytes[from..to].to_vec();
                bytes.splice(at..at, copy);
                done.push(format!("bytes {from}..{to} copied to {at}"));
            }
            4 => {
                let from = rng.position(len);
                let to = (from + rng.span()).min(len);
                bytes.drain(from..to);
                done.push(format!("bytes {from}..{to} deleted"));
            }
            5 => {
                let other = rng.below(seeds.len());
                let source = &seeds[other].1;
                let from = rng.position(source.len());
                let to = (from + rng.span()).min(source.len());
                let at = rng.position(len);
                if rng.below(2) == 0 {
                    bytes.splice(at..at, source[from..to].iter().copied());
                    done.push(format!(
                        "{} bytes {from}..{to} inserted at {at}",
                        seeds[other].0
                    ));
                } else {
                    let end = (at + (to - from)).min(len);
                    bytes.splice(at..end, source[from..to].iter().copied());
                    done.push(format!(
                        "{} bytes {from}..{to} written over {at}",
                        seeds[other].0
                    ));
                }
            }
            6 => {
                let from = rng.position(len);
                let to = (from + rng.span()).min(len);
                bytes[from..to].fill(0);
                done.push(format!("bytes {from}..{to} zeroed"));
            }
            _ => {
                // Text that CSV parsing and number parsing trip on.
                const TOKENS: [&str; 14] = [
                    ",",
                    "\"",
                    "\n",
                    "\r\n",
                    ",,",
                    "nan",
                    "-inf",
                    "1e999",
                    "-1",
                    "2",
                    "0.5,0.5",
                    "\u{feff}",
                    "\"a,\nb\"",
                    "99999999999999999999",
                ];
                let token = TOKENS[rng.below(TOKENS.len())];
                let at = rng.position(len);
                bytes.splice(at..at, token.bytes());
                done.push(format!("{token:?} inserted at {at}"));
            }
        }
    }
    (bytes, done.join(", "))
}

/// What one mutated file gave.
enum Outcome {
    /// Read, and the full tier ran.
    Metrics,
    /// An `evalkit::Error` (one line).
    Error,
}

/// Reads the file and runs the full tier; `Err` says what broke the rules.
fn check(path: &Path) -> Result<Outcome, String> {
    let one_line = |e: evalkit::Error| {
        let text = e.to_string();
        if text.is_empty() || text.contains(['\n', '\r']) {
            Err(format!("an error that is not one line: {text:?}"))
        } else {
            Ok(Outcome::Error)
        }
    };
    let preds = match read_predictions(path, &ReadOptions::default()) {
        Ok(p) => p,
        Err(e) => return one_line(e),
    };
    let options = FullOptions {
        intervals: IntervalOptions {
            replicates: 0,
            ..IntervalOptions::default()
        },
        ..FullOptions::default()
    };
    let result = match full(&preds, &options) {
        Ok(r) => r,
        Err(e) => return one_line(e),
    };
    for (name, m) in result.metrics().iter() {
        let mut values = m.value.into_iter().chain(m.ci.into_iter().flatten());
        if let Some(v) = values.find(|v| !v.is_finite()) {
            return Err(format!("metric {name} is {v}"));
        }
    }
    Ok(Outcome::Metrics)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn mutated_inputs_never_panic_and_give_one_line_errors() {
    let cases: usize = env_or("EVALKIT_FUZZ_CASES", DEFAULT_CASES);
    let seed: u64 = env_or("EVALKIT_FUZZ_SEED", SEED);
    let log = std::env::var_os("EVALKIT_FUZZ_LOG").is_some();
    let seeds = seeds();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    let (mut read, mut refused) = (0, 0);
    let mut for_binary = Vec::new();
    for case in 0..cases {
        let which = case % seeds.len();
        let (bytes, what) = mutate(&mut rng, &seeds, which);
        let name = seeds[which].0;
        let path = dir.path().join(format!("case{case}-{name}"));
        std::fs::write(&path, &bytes).unwrap();
        let describe = || format!("case {case} (seed {seed:#x}): {name} with {what}");
        if log {
            // Before the case runs: an abort (a failed allocation) cannot be
            // caught, and this names the case that caused it.
            eprintln!("{}", describe());
        }
        // Some(true): read and measured; Some(false): refused.
        let outcome = match catch_unwind(AssertUnwindSafe(|| check(&path))) {
            Ok(Ok(Outcome::Metrics)) => Some(true),
            Ok(Ok(Outcome::Error)) => Some(false),
            Ok(Err(broken)) => {
                failures.push(format!("{}: {broken}", describe()));
                None
            }
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                failures.push(format!("{}: panicked: {message}", describe()));
                None
            }
        };
        match outcome {
            Some(true) => read += 1,
            Some(false) => refused += 1,
            None => {}
        }
        // For the binary: the first few of each outcome, spread out.
        let kept = |read: bool| for_binary.iter().filter(|(_, _, r)| *r == read).count();
        match outcome {
            Some(read) if case % 7 == 0 && kept(read) < BINARY_RUNS / 2 => {
                for_binary.push((path, describe(), read));
            }
            _ => std::fs::remove_file(&path).unwrap(),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} cases broke the rules:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{cases} mutated inputs: {read} read and measured, {refused} refused");
    // Both outcomes happen, or the mutations test nothing.
    assert!(read > 0 && refused > 0, "{read} read, {refused} refused");

    // The binary agrees: exit 0 where the library read the file, exit 2
    // with one `evalkit: error:` line where it refused it.
    for (path, describe, read) in for_binary {
        let out = evalkit(["full", path.to_str().unwrap(), "--bootstrap", "0"]);
        let err = stderr(&out);
        if read {
            assert_eq!(out.status.code(), Some(0), "{describe}: {err}");
            assert!(!out.stdout.is_empty(), "{describe}: no output");
        } else {
            assert_eq!(out.status.code(), Some(2), "{describe}: {err}");
            assert_eq!(err.lines().count(), 1, "{describe}: {err}");
            assert!(err.starts_with("evalkit: error: "), "{describe}: {err}");
        }
    }
}
