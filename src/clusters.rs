//! Clusters of correlated rows (`--cluster COL`, docs/spec.md §4): the
//! users, patients, sessions or queries that several rows share.
//!
//! Rows of one cluster are not independent: a user's ten sessions move
//! together. A bootstrap that resamples rows then treats ten correlated
//! rows as ten independent pieces of evidence, and its intervals come out
//! too narrow. With clusters, every replicate resamples **whole clusters**:
//! a cluster's rows share one Poisson(1) weight (or one multinomial count),
//! keyed by the cluster's value, so the draws do not depend on row order,
//! threads, or which model is evaluated ([`crate::uncertainty::lanes`]).
//!
//! Each cluster value becomes a 64-bit key ([`key_of_int`],
//! [`key_of_str`], …): equal values give equal keys in every file, so two
//! files joined by id draw the same clusters. Two distinct values share a
//! key with probability about `C² / 2⁶⁵` for `C` clusters (below 10⁻⁷ for
//! a million clusters); such a pair would be resampled as one cluster.

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::DataType;

use crate::error::{Error, Result};

/// Fewest clusters for cluster-bootstrap intervals: with fewer, a
/// replicate has too few distinct draws for its percentiles to mean much,
/// and intervals are withheld with the reason.
pub const MIN_CLUSTERS: usize = 2;

/// The cluster of every row.
#[derive(Debug, Clone, PartialEq)]
pub struct Clusters {
    /// The cluster column.
    pub column: String,
    /// Each row's cluster key (see the module docs).
    keys: Vec<u64>,
    /// Distinct keys (counted once: notes, JSON and checks ask often).
    distinct: usize,
}

/// Domain separation of the keys by value type.
const INT: u64 = 0x696e_7400;
const FLOAT: u64 = 0x666c_6f61;
const STR: u64 = 0x7374_7200;

/// The key of an integer (booleans as 0 and 1).
pub fn key_of_int(v: i128) -> u64 {
    let lo = crate::rng::mix64(v as u64 ^ INT);
    crate::rng::mix64(lo ^ ((v >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The key of a float (not NaN; −0.0 and 0.0 are one value).
pub fn key_of_float(v: f64) -> u64 {
    crate::rng::mix64((v + 0.0).to_bits() ^ FLOAT)
}

/// The key of a string: its bytes, eight at a time, through the mixer.
pub fn key_of_str(s: &str) -> u64 {
    let bytes = s.as_bytes();
    let mut h = crate::rng::mix64(STR ^ bytes.len() as u64);
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = crate::rng::mix64(h ^ u64::from_le_bytes(word));
    }
    h
}

impl Clusters {
    /// The clusters of `array`, the column `column` of `path`: integers,
    /// strings (dictionary-encoded too), booleans or floats. A null or NaN
    /// is an error naming its row: every row must belong to a cluster.
    pub fn from_array(path: &Path, column: &str, array: &ArrayRef) -> Result<Clusters> {
        Clusters::from_array_as(path, column, array, "cluster")
    }

    /// [`Clusters::from_array`] for rows grouped by another name (`role`:
    /// "query"), which the messages use.
    pub fn from_array_as(
        path: &Path,
        column: &str,
        array: &ArrayRef,
        role: &str,
    ) -> Result<Clusters> {
        let n = array.len();
        let missing = |row: usize, what: &str| {
            Error::bad_value(
                path,
                column,
                row,
                format!(
                    "is {what}: every row needs a {role} (fill it, or drop the row before evaluating)"
                ),
            )
        };
        if let Some(row) = (0..n).find(|&i| array.is_null(i)) {
            return Err(missing(row, "null"));
        }
        use arrow::datatypes::{Float32Type, Float64Type};
        if let Some(ints) = crate::data::int_values(array) {
            return Ok(Clusters::new(
                column,
                ints.into_iter().map(key_of_int).collect(),
            ));
        }
        let keys: Vec<u64> = match array.data_type() {
            DataType::Boolean => {
                let a = array.as_boolean();
                (0..n).map(|i| key_of_int(a.value(i) as i128)).collect()
            }
            DataType::Float32 | DataType::Float64 => {
                let values: Vec<f64> = if let DataType::Float32 = array.data_type() {
                    let a = array.as_primitive::<Float32Type>();
                    a.values().iter().map(|&v| v as f64).collect()
                } else {
                    array.as_primitive::<Float64Type>().values().to_vec()
                };
                if let Some(row) = values.iter().position(|v| v.is_nan()) {
                    return Err(missing(row, "NaN"));
                }
                values.into_iter().map(key_of_float).collect()
            }
            DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Dictionary(_, _) => {
                let a = arrow::compute::cast(array, &DataType::Utf8).map_err(|e| {
                    Error::bad_column(path, column, format!("cannot be read as {role}s: {e}"))
                })?;
                let s = a.as_string::<i32>();
                // A key is a few multiplications per 8 bytes: cheaper than
                // looking the value up in a map of those already keyed.
                use rayon::prelude::*;
                (0..n)
                    .into_par_iter()
                    .map(|i| key_of_str(s.value(i)))
                    .collect()
            }
            other => {
                return Err(Error::bad_column(
                    path,
                    column,
                    format!(
                        "has type {other}; {role} ids must be integers, strings, booleans or floats (an id such as a user, patient or query)"
                    ),
                ));
            }
        };
        Ok(Clusters::new(column, keys))
    }

    /// Clusters from each row's key.
    fn new(column: &str, keys: Vec<u64>) -> Clusters {
        let distinct = index(&keys, |_| true).1;
        Clusters {
            column: column.to_string(),
            keys,
            distinct,
        }
    }

    /// The clusters of the rows `rows`, in that order.
    pub fn gather(&self, rows: &[u32]) -> Clusters {
        Clusters::new(
            &self.column,
            rows.iter().map(|&r| self.keys[r as usize]).collect(),
        )
    }

    /// Each row's cluster key.
    pub fn keys(&self) -> &[u64] {
        &self.keys
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.keys.len()
    }

    /// Distinct clusters.
    pub fn count(&self) -> usize {
        self.distinct
    }

    /// Each row's cluster as a dense index (see [`index`]).
    pub fn index(&self, counts: impl Fn(usize) -> bool) -> (Vec<u32>, usize) {
        index(&self.keys, counts)
    }

    /// "user_id (300 clusters)": how notes and captions name them.
    pub fn describe(&self) -> String {
        let c = self.count();
        format!(
            "{} ({} cluster{})",
            self.column,
            crate::format::number(c as f64),
            if c == 1 { "" } else { "s" }
        )
    }
}

/// Each row's cluster (`keys[row]`) as a dense index among the clusters
/// that have a row for which `counts(row)` holds, clusters in key order (so
/// the index does not depend on row order); `u32::MAX` for rows of the other
/// clusters. Also returns the number of indexed clusters.
pub fn index(keys: &[u64], counts: impl Fn(usize) -> bool) -> (Vec<u32>, usize) {
    // The distinct keys through a hash map (the keys are already well-mixed
    // hashes: no hashing again), sorted; then each row's through the map.
    let mut seen: HashMap<u64, u32, KeyHash> = HashMap::default();
    for (r, &k) in keys.iter().enumerate() {
        if counts(r) {
            seen.entry(k).or_insert(0);
        }
    }
    let mut distinct: Vec<u64> = seen.keys().copied().collect();
    distinct.sort_unstable();
    for (i, k) in distinct.iter().enumerate() {
        seen.insert(*k, i as u32);
    }
    let of_row = keys
        .iter()
        .map(|k| seen.get(k).copied().unwrap_or(u32::MAX))
        .collect();
    (of_row, distinct.len())
}

/// The hasher of maps keyed by cluster keys, which are hashes already
/// ([`key_of_int`], …): the key itself.
#[derive(Default, Clone, Copy)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, k: u64) {
        self.0 = k;
    }
}

type KeyHash = std::hash::BuildHasherDefault<KeyHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{DictionaryArray, Float64Array, Int32Array, Int64Array, StringArray};
    use arrow::datatypes::Int8Type;
    use std::sync::Arc;

    #[test]
    fn equal_values_give_equal_keys_across_types_of_one_kind() {
        let p = Path::new("f");
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![7, 3, 7, -1]));
        let small: ArrayRef = Arc::new(Int32Array::from(vec![7, 3, 7, -1]));
        let a = Clusters::from_array(p, "u", &ints).unwrap();
        let b = Clusters::from_array(p, "u", &small).unwrap();
        assert_eq!(a.keys, b.keys);
        assert_eq!(a.keys[0], a.keys[2]);
        assert_ne!(a.keys[0], a.keys[1]);
        assert_eq!(a.count(), 3);
        let strs: ArrayRef = Arc::new(StringArray::from(vec!["x", "y", "x"]));
        let dict: ArrayRef = Arc::new(
            vec!["x", "y", "x"]
                .into_iter()
                .collect::<DictionaryArray<Int8Type>>(),
        );
        let s = Clusters::from_array(p, "u", &strs).unwrap();
        assert_eq!(s.keys, Clusters::from_array(p, "u", &dict).unwrap().keys);
        assert_eq!(s.describe(), "u (2 clusters)");
        // Strings that share a prefix of eight bytes or a length differ.
        assert_ne!(key_of_str("abcdefgh1"), key_of_str("abcdefgh2"));
        assert_ne!(key_of_str(""), key_of_str("\0"));
    }

    #[test]
    fn nulls_and_nan_are_named_by_row() {
        let p = Path::new("f.arrow");
        let nulls: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None]));
        let e = Clusters::from_array(p, "user", &nulls).unwrap_err();
        assert_eq!((e.column(), e.row()), (Some("user"), Some(1)));
        assert!(e.to_string().contains("null"), "{e}");
        let nan: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0, f64::NAN]));
        let e = Clusters::from_array(p, "user", &nan).unwrap_err();
        assert_eq!(e.row(), Some(2));
        assert!(e.to_string().contains("NaN"), "{e}");
    }

    #[test]
    fn the_index_is_in_key_order_whatever_the_row_order() {
        let p = Path::new("f");
        let a: ArrayRef = Arc::new(Int64Array::from(vec![5, 9, 5, 2]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![2, 5, 9, 5]));
        let (ia, ca) = Clusters::from_array(p, "u", &a).unwrap().index(|_| true);
        let (ib, cb) = Clusters::from_array(p, "u", &b).unwrap().index(|_| true);
        assert_eq!((ca, cb), (3, 3));
        // Value 5 has the same index in both.
        assert_eq!(ia[0], ib[1]);
        assert_eq!(ia[1], ib[2]);
        // Rows left out get no cluster, and their clusters no index.
        let (i, c) = Clusters::from_array(p, "u", &a).unwrap().index(|r| r != 3);
        assert_eq!((i[3], c), (u32::MAX, 2));
    }
}
