//! The byte encoding of states (`docs/state-format.md`): varints, raw
//! little-endian floats, strings, and exact sums in a canonical form, so
//! that equal states encode to equal bytes whatever merge tree built them.
//!
//! Every read checks its bounds: a truncated or corrupt payload is an
//! error message (the caller names the file), never a panic.

use super::exact::ExactSum;

/// Appends encoded values to a byte buffer.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty buffer.
    pub fn new() -> Writer {
        Writer::default()
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// An unsigned LEB128 varint (1 byte below 128, at most 10).
    pub fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// A `usize` as a varint.
    pub fn len(&mut self, v: usize) {
        self.varint(v as u64);
    }

    /// An `f64`, its 8 bytes little-endian.
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A UTF-8 string: its byte length, then its bytes.
    pub fn str(&mut self, s: &str) {
        self.len(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// An optional string: 0, or 1 and the string.
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }

    /// An exact sum in canonical form ([`ExactSum::canonical`]): the number
    /// of parts, then each part.
    pub fn exact(&mut self, s: &ExactSum) {
        let parts = s.canonical();
        self.len(parts.len());
        for p in parts {
            self.f64(p);
        }
    }
}

/// Reads encoded values from a byte slice, checking every bound.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// What a read returns: the value, or why the payload is corrupt.
pub type Read<T> = std::result::Result<T, String>;

impl<'a> Reader<'a> {
    /// Reads `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// An error unless every byte was read.
    pub fn finish(&self) -> Read<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(format!("{n} bytes follow the end of the state")),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Read<&'a [u8]> {
        if self.remaining() < n {
            return Err(format!("the state is cut short in {what}"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// One byte.
    pub fn u8(&mut self, what: &str) -> Read<u8> {
        Ok(self.take(1, what)?[0])
    }

    /// A varint.
    pub fn varint(&mut self, what: &str) -> Read<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8(what)?;
            let bits = (b & 0x7f) as u64;
            if shift == 63 && bits > 1 {
                return Err(format!("{what} overflows 64 bits"));
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("{what} overflows 64 bits"))
    }

    /// A length or count that must not exceed `max` (a bound from the bytes
    /// left, so a corrupt length cannot ask for a huge allocation).
    pub fn len(&mut self, what: &str, max: usize) -> Read<usize> {
        let v = self.varint(what)?;
        if v > max as u64 {
            return Err(format!("{what} is {v}, more than the state can hold"));
        }
        Ok(v as usize)
    }

    /// An `f64`; it must be finite.
    pub fn f64(&mut self, what: &str) -> Read<f64> {
        let b = self.take(8, what)?;
        let v = f64::from_le_bytes(b.try_into().map_err(|_| format!("{what}: bad bytes"))?);
        if !v.is_finite() {
            return Err(format!("{what} is {v}, not a finite number"));
        }
        Ok(v)
    }

    /// A string.
    pub fn str(&mut self, what: &str) -> Read<String> {
        let n = self.len(what, self.remaining())?;
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
    }

    /// An optional string.
    pub fn opt_str(&mut self, what: &str) -> Read<Option<String>> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => Ok(Some(self.str(what)?)),
            t => Err(format!("{what} has tag {t}, not 0 or 1")),
        }
    }

    /// An exact sum written by [`Writer::exact`].
    pub fn exact(&mut self, what: &str) -> Read<ExactSum> {
        let n = self.len(what, self.remaining() / 8)?;
        let mut s = ExactSum::new();
        for _ in 0..n {
            let p = self.f64(what)?;
            s.add(p);
            if !s.value().is_finite() {
                return Err(format!("{what} overflows"));
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_cut_bytes_are_errors() {
        let mut w = Writer::new();
        w.varint(0);
        w.varint(127);
        w.varint(128);
        w.varint(u64::MAX);
        w.f64(-0.25);
        w.str("naïve");
        w.opt_str(None);
        w.opt_str(Some("w"));
        let mut s = ExactSum::new();
        for v in [1e100, 1.0, -1e100, 0.1] {
            s.add(v);
        }
        w.exact(&s);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.varint("a").unwrap(), 0);
        assert_eq!(r.varint("a").unwrap(), 127);
        assert_eq!(r.varint("a").unwrap(), 128);
        assert_eq!(r.varint("a").unwrap(), u64::MAX);
        assert_eq!(r.f64("f").unwrap(), -0.25);
        assert_eq!(r.str("s").unwrap(), "naïve");
        assert_eq!(r.opt_str("o").unwrap(), None);
        assert_eq!(r.opt_str("o").unwrap().as_deref(), Some("w"));
        assert_eq!(r.exact("e").unwrap(), s);
        r.finish().unwrap();
        for cut in 0..bytes.len() {
            let mut r = Reader::new(&bytes[..cut]);
            let all = (|| -> Read<()> {
                for _ in 0..4 {
                    r.varint("a")?;
                }
                r.f64("f")?;
                r.str("s")?;
                r.opt_str("o")?;
                r.opt_str("o")?;
                r.exact("e")?;
                Ok(())
            })();
            assert!(all.is_err(), "cut at {cut} read without error");
        }
        let mut r = Reader::new(&[0xff; 11]);
        assert!(r.varint("v").unwrap_err().contains("overflows"));
    }
}
