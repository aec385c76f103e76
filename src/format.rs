//! Numbers as people read them, one format for the report, the gates'
//! verdicts and the inference figures (docs/spec.md §9).
//!
//! - [`number`]: plain decimals, never an exponent next to decimals: four
//!   decimals, more for small magnitudes so at least three significant
//!   digits show (`0.000965`, `0.0254`, `0.9974`); integers and magnitudes
//!   from 10⁴ up as grouped integers (`65,247`); below 10⁻⁶, where decimals
//!   stop being readable, `9.65e-7`.
//! - [`short`]: three significant digits, for chart labels.
//! - [`mebibytes`]: memory in MiB with one decimal (`72.0 MiB`).

/// A number for a table cell or a sentence (see the module docs).
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    if (v.fract() == 0.0 && a < 1e15) || (1e4..1e15).contains(&a) {
        return grouped(v.round());
    }
    if a < 1e-6 {
        return format!("{v:.2e}");
    }
    let decimals = (2 - a.log10().floor() as i32).max(4) as usize;
    format!("{v:.decimals$}")
}

/// A number for a chart label, where room is short: three significant
/// digits (`-560`, `12.3`, `0.0512`), grouped integers from 10⁴ up, an
/// exponent below 10⁻⁶.
pub fn short(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let a = v.abs();
    if v == 0.0 {
        return "0".to_string();
    }
    if (1e4..1e15).contains(&a) {
        return grouped(v.round());
    }
    if a < 1e-6 {
        return format!("{v:.2e}");
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    format!("{v:.decimals$}")
}

/// An integer-valued `v` with thousands separators.
fn grouped(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if v < 0.0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes as MiB with one decimal and the unit: `72.0 MiB`.
pub fn mebibytes(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / 1_048_576.0)
}

/// A size in bytes with a readable unit: `812 B`, `27.0 KiB`, `8.5 MiB`.
pub fn bytes(b: f64) -> String {
    if b < 1024.0 {
        format!("{b:.0} B")
    } else if b < 1_048_576.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        mebibytes(b)
    }
}

/// A value with its unit: `0.3700 ms`, `65,247 rows/s`, `72.0 MiB` (one
/// decimal for memory), or the bare number when `unit` is empty.
pub fn with_unit(v: f64, unit: &str) -> String {
    match unit {
        "" => number(v),
        "MiB" => format!("{v:.1} MiB"),
        u => format!("{} {u}", number(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_format() {
        for (v, want) in [
            (0.0, "0"),
            (1.0, "1"),
            (285.0, "285"),
            (65_247.3, "65,247"),
            (-1_234_567.0, "-1,234,567"),
            (0.99744, "0.9974"),
            (0.5, "0.5000"),
            (0.0254, "0.0254"),
            (9.6519e-4, "0.000965"),
            (-0.0017, "-0.00170"),
            (1.5e-5, "0.0000150"),
            (9.65e-7, "9.65e-7"),
            (1234.5678, "1234.5678"),
            (f64::NAN, "n/a"),
            (f64::INFINITY, "n/a"),
        ] {
            assert_eq!(number(v), want, "{v}");
        }
        for (v, want) in [
            (-559.8703, "-560"),
            (12.345, "12.3"),
            (0.05123, "0.0512"),
            (1.0, "1.00"),
            (65_247.3, "65,247"),
            (0.0, "0"),
            (f64::NAN, "n/a"),
        ] {
            assert_eq!(short(v), want, "{v}");
        }
        assert_eq!(mebibytes(75_540_480.0), "72.0 MiB");
        assert_eq!(bytes(812.0), "812 B");
        assert_eq!(bytes(27_693.0), "27.0 KiB");
        assert_eq!(bytes(75_540_480.0), "72.0 MiB");
        assert_eq!(with_unit(72.041, "MiB"), "72.0 MiB");
        assert_eq!(with_unit(0.37, "ms"), "0.3700 ms");
        assert_eq!(with_unit(65_247.3, "rows/s"), "65,247 rows/s");
        assert_eq!(with_unit(0.5, ""), "0.5000");
    }
}
