//! The inner loops of the bootstrap, written once over a 4-lane `f64` vector
//! type ([`V4`]) and compiled twice: with AVX2 intrinsics when the CPU has
//! them, and with plain arrays otherwise. Both paths perform the same IEEE
//! operations in the same order (no fused multiply-adds), so results are
//! bit-identical whichever runs.
//!
//! Also here: the Poisson(1) weights of 16 replicates for one row, from one
//! 8-lane 32-bit hash (AVX2) or its scalar twin.

// Lane loops index several lane arrays at once; indices read best there.
#![allow(clippy::needless_range_loop)]

/// Poisson(1) thresholds on a 16-bit uniform `u`: weight = #{k : u ≥ T[k]}
/// (the distribution function at 0..7, times 2¹⁶, rounded).
pub const POISSON_T: [u32; 8] = [24109, 48219, 60273, 64292, 65296, 65497, 65531, 65535];

/// Poisson(1) weight of a 16-bit uniform.
#[inline(always)]
pub fn poisson_of(u: u32) -> u16 {
    let mut k = 0;
    for t in POISSON_T {
        k += (u >= t) as u16;
    }
    k
}

/// A 32-bit integer hash with low bias (Wellons' "triple32").
#[inline(always)]
pub fn triple32(mut x: u32) -> u32 {
    x ^= x >> 17;
    x = x.wrapping_mul(0xed5a_d4bb);
    x ^= x >> 11;
    x = x.wrapping_mul(0xac4c_1b51);
    x ^= x >> 15;
    x = x.wrapping_mul(0x3184_8bab);
    x ^= x >> 14;
    x
}

/// Poisson weights of 16 replicates (8 pairs) for a row whose row hash is
/// `rh`: pair `i` hashes `rh ^ keys[i]`; its low 16 bits drive replicate
/// `2i`, its high 16 bits replicate `2i + 1`.
#[inline(always)]
pub fn poisson16_scalar(rh: u32, keys: &[u32; 8], out: &mut [u16; 16]) {
    for i in 0..8 {
        let w = triple32(rh ^ keys[i]);
        out[2 * i] = poisson_of(w & 0xFFFF);
        out[2 * i + 1] = poisson_of(w >> 16);
    }
}

/// AVX2 twin of [`poisson16_scalar`].
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub unsafe fn poisson16_avx2(rh: u32, keys: &[u32; 8], out: &mut [u16; 16]) {
    use std::arch::x86_64::*;
    // SAFETY: AVX2 is enabled for this function; loads and stores use
    // unaligned intrinsics on arrays of exactly 32 bytes.
    unsafe {
        let k = _mm256_loadu_si256(keys.as_ptr() as *const __m256i);
        let mut x = _mm256_xor_si256(_mm256_set1_epi32(rh as i32), k);
        x = _mm256_xor_si256(x, _mm256_srli_epi32::<17>(x));
        x = _mm256_mullo_epi32(x, _mm256_set1_epi32(0xed5a_d4bbu32 as i32));
        x = _mm256_xor_si256(x, _mm256_srli_epi32::<11>(x));
        x = _mm256_mullo_epi32(x, _mm256_set1_epi32(0xac4c_1b51u32 as i32));
        x = _mm256_xor_si256(x, _mm256_srli_epi32::<15>(x));
        x = _mm256_mullo_epi32(x, _mm256_set1_epi32(0x3184_8babu32 as i32));
        x = _mm256_xor_si256(x, _mm256_srli_epi32::<14>(x));
        // 16 unsigned 16-bit uniforms; flip the sign bit so that signed
        // comparisons order them as unsigned.
        let u = _mm256_xor_si256(x, _mm256_set1_epi16(i16::MIN));
        let mut count = _mm256_setzero_si256();
        for t in POISSON_T {
            // u >= t  ⇔  u > t − 1 (branch-free: a branch on the rare large
            // weights mispredicted more than it saved)
            let th = _mm256_set1_epi16((((t - 1) as u16) ^ 0x8000) as i16);
            count = _mm256_sub_epi16(count, _mm256_cmpgt_epi16(u, th));
        }
        _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, count);
    }
}

/// Four `f64` lanes.
pub trait V4: Copy {
    /// All lanes `x`.
    fn splat(x: f64) -> Self;
    /// From an array.
    fn load(a: &[f64; 4]) -> Self;
    /// To an array.
    fn store(self) -> [f64; 4];
    /// Four `u16` weights, widened.
    fn from_u16(w: &[u16]) -> Self;
    /// Lane-wise `+`.
    fn add(self, o: Self) -> Self;
    /// Lane-wise `×`.
    fn mul(self, o: Self) -> Self;
    /// Lane-wise `÷`.
    fn div(self, o: Self) -> Self;
    /// Lane-wise maximum (inputs are never NaN).
    fn max(self, o: Self) -> Self;
    /// Lane-wise `if a > b { t } else { f }` (false for NaN).
    fn select_gt(a: Self, b: Self, t: Self, f: Self) -> Self;
}

/// [`V4`] as a plain array.
#[derive(Clone, Copy)]
pub struct Scalar4([f64; 4]);

impl V4 for Scalar4 {
    #[inline(always)]
    fn splat(x: f64) -> Self {
        Scalar4([x; 4])
    }
    #[inline(always)]
    fn load(a: &[f64; 4]) -> Self {
        Scalar4(*a)
    }
    #[inline(always)]
    fn store(self) -> [f64; 4] {
        self.0
    }
    #[inline(always)]
    fn from_u16(w: &[u16]) -> Self {
        Scalar4([w[0] as f64, w[1] as f64, w[2] as f64, w[3] as f64])
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Scalar4(std::array::from_fn(|i| self.0[i] + o.0[i]))
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        Scalar4(std::array::from_fn(|i| self.0[i] * o.0[i]))
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        Scalar4(std::array::from_fn(|i| self.0[i] / o.0[i]))
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        Scalar4(std::array::from_fn(|i| {
            if self.0[i] > o.0[i] {
                self.0[i]
            } else {
                o.0[i]
            }
        }))
    }
    #[inline(always)]
    fn select_gt(a: Self, b: Self, t: Self, f: Self) -> Self {
        Scalar4(std::array::from_fn(|i| {
            if a.0[i] > b.0[i] { t.0[i] } else { f.0[i] }
        }))
    }
}

/// [`V4`] in an AVX register. Only constructed inside AVX2 code.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub struct Avx4(std::arch::x86_64::__m256d);

#[cfg(target_arch = "x86_64")]
impl V4 for Avx4 {
    #[inline(always)]
    fn splat(x: f64) -> Self {
        // SAFETY (all methods): Avx4 values exist only in code compiled with
        // AVX2 enabled and run after the CPU was checked for it.
        unsafe { Avx4(std::arch::x86_64::_mm256_set1_pd(x)) }
    }
    #[inline(always)]
    fn load(a: &[f64; 4]) -> Self {
        unsafe { Avx4(std::arch::x86_64::_mm256_loadu_pd(a.as_ptr())) }
    }
    #[inline(always)]
    fn store(self) -> [f64; 4] {
        let mut a = [0.0; 4];
        unsafe { std::arch::x86_64::_mm256_storeu_pd(a.as_mut_ptr(), self.0) };
        a
    }
    #[inline(always)]
    fn from_u16(w: &[u16]) -> Self {
        use std::arch::x86_64::*;
        assert!(w.len() >= 4);
        unsafe {
            let x = _mm_loadl_epi64(w.as_ptr() as *const __m128i);
            Avx4(_mm256_cvtepi32_pd(_mm_cvtepu16_epi32(x)))
        }
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        unsafe { Avx4(std::arch::x86_64::_mm256_add_pd(self.0, o.0)) }
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        unsafe { Avx4(std::arch::x86_64::_mm256_mul_pd(self.0, o.0)) }
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        unsafe { Avx4(std::arch::x86_64::_mm256_div_pd(self.0, o.0)) }
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        // vmaxpd returns the second operand when the first is not greater:
        // the same as the scalar `if a > b { a } else { b }`.
        unsafe { Avx4(std::arch::x86_64::_mm256_max_pd(self.0, o.0)) }
    }
    #[inline(always)]
    fn select_gt(a: Self, b: Self, t: Self, f: Self) -> Self {
        use std::arch::x86_64::*;
        unsafe {
            let m = _mm256_cmp_pd::<_CMP_GT_OQ>(a.0, b.0);
            Avx4(_mm256_blendv_pd(f.0, t.0, m))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_thresholds_are_the_rounded_distribution_function() {
        let mut cdf = 0.0;
        let mut fact = 1.0;
        for (k, &t) in POISSON_T.iter().enumerate() {
            if k > 0 {
                fact *= k as f64;
            }
            cdf += (-1.0f64).exp() / fact;
            assert_eq!(t, (cdf * 65536.0).round() as u32, "k = {k}");
        }
        assert_eq!(poisson_of(0), 0);
        assert_eq!(poisson_of(24108), 0);
        assert_eq!(poisson_of(24109), 1);
        assert_eq!(poisson_of(65535), 8);
    }

    #[test]
    fn weights_average_one() {
        // Over all 2^16 uniforms the mean weight is within 2^-16·36 of 1.
        let total: u64 = (0..65536u32).map(|u| poisson_of(u) as u64).sum();
        assert!((total as f64 / 65536.0 - 1.0).abs() < 1e-3);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_and_scalar_agree() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let keys: [u32; 8] = std::array::from_fn(|i| triple32(i as u32 * 7919 + 1));
        for rh in (0..200_000u32).map(|i| i.wrapping_mul(2_654_435_761)) {
            let (mut a, mut b) = ([0u16; 16], [0u16; 16]);
            poisson16_scalar(rh, &keys, &mut a);
            unsafe { poisson16_avx2(rh, &keys, &mut b) };
            assert_eq!(a, b, "rh = {rh}");
        }
        let x = [0.5, 2.0, 1e-300, 3.0];
        let y = [0.25, 2.0, 1.0, -1.0];
        let s = (Scalar4::load(&x), Scalar4::load(&y));
        unsafe {
            #[target_feature(enable = "avx2")]
            unsafe fn check(x: [f64; 4], y: [f64; 4], s: (Scalar4, Scalar4)) {
                let a = (Avx4::load(&x), Avx4::load(&y));
                assert_eq!(a.0.div(a.1).store(), s.0.div(s.1).store());
                assert_eq!(a.0.max(a.1).store(), s.0.max(s.1).store());
                assert_eq!(
                    Avx4::select_gt(a.0, a.1, a.0, a.1).store(),
                    Scalar4::select_gt(s.0, s.1, s.0, s.1).store()
                );
                assert_eq!(
                    Avx4::from_u16(&[1, 8, 0, 65535]).store(),
                    Scalar4::from_u16(&[1, 8, 0, 65535]).store()
                );
            }
            check(x, y, s);
        }
    }
}

/// Running ranking sums of one quad: cumulative positive and negative
/// weight, the current tie group's, and twice the ROC area.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RankSums {
    /// Cumulative positive weight.
    pub tp: [f64; 4],
    /// Cumulative negative weight.
    pub fp: [f64; 4],
    /// Positive weight of the open tie group.
    pub dtp: [f64; 4],
    /// Negative weight of the open tie group.
    pub dfp: [f64; 4],
    /// Twice the area under the (unnormalised) ROC curve.
    pub auc2: [f64; 4],
}

/// A positive tie group's end, kept for the deferred AP and F1 updates.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PosEnd {
    /// The group's positive weight.
    pub dtp: [f64; 4],
    /// Cumulative positive weight after the group.
    pub tp: [f64; 4],
    /// Cumulative negative weight after the group.
    pub fp: [f64; 4],
    /// The group's index.
    pub group: f64,
}

/// The row is a positive.
pub const LABEL: u8 = 1;
/// The row is the last of its tie group.
pub const GROUP_END: u8 = 2;
/// (On a group's last row) the group holds a positive.
pub const GROUP_POS: u8 = 4;
/// (On a group's last row) the counts after this group are kept.
pub const CHECKPOINT: u8 = 8;

/// One tile of a quad's ranking pass. `w` holds the quad's four weights per
/// row (already multiplied by file weights), `y` the labels (0.0 or 1.0),
/// `flags` the row flags. Positive group ends go to `scratch` (its length
/// must exceed the tile's), checkpoints to `ck_tp`/`ck_fp` (lane offset
/// `lane`). Returns the number of scratch entries; advances `group` and `ck`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn rank_tile_scalar(
    w: &[[f64; 4]],
    y: &[f64],
    flags: &[u8],
    st: &mut RankSums,
    scratch: &mut [PosEnd],
    group: &mut u32,
    ck: &mut usize,
    ck_tp: &mut [[f64; 16]],
    ck_fp: &mut [[f64; 16]],
    lane: usize,
) -> usize {
    let mut k = 0;
    let mut s = *st;
    for ((w, &y), &fl) in w.iter().zip(y).zip(flags) {
        for j in 0..4 {
            // y is 0 or 1, so w − w·y is exactly w·(1 − y).
            let wy = w[j] * y;
            s.dtp[j] += wy;
            s.dfp[j] += w[j] - wy;
        }
        if fl & GROUP_END != 0 {
            for j in 0..4 {
                s.auc2[j] += s.dfp[j] * (2.0 * s.tp[j] + s.dtp[j]);
                s.tp[j] += s.dtp[j];
                s.fp[j] += s.dfp[j];
            }
            scratch[k] = PosEnd {
                dtp: s.dtp,
                tp: s.tp,
                fp: s.fp,
                group: *group as f64,
            };
            k += ((fl & GROUP_POS) != 0) as usize;
            s.dtp = [0.0; 4];
            s.dfp = [0.0; 4];
            *group += 1;
            if fl & CHECKPOINT != 0 {
                ck_tp[*ck][lane..lane + 4].copy_from_slice(&s.tp);
                ck_fp[*ck][lane..lane + 4].copy_from_slice(&s.fp);
                *ck += 1;
            }
        }
    }
    *st = s;
    k
}

/// AVX2 twin of [`rank_tile_scalar`] (same operations, same order).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
pub unsafe fn rank_tile_avx2(
    w: &[[f64; 4]],
    y: &[f64],
    flags: &[u8],
    st: &mut RankSums,
    scratch: &mut [PosEnd],
    group: &mut u32,
    ck: &mut usize,
    ck_tp: &mut [[f64; 16]],
    ck_fp: &mut [[f64; 16]],
    lane: usize,
) -> usize {
    use std::arch::x86_64::*;
    let n = w.len().min(y.len()).min(flags.len());
    assert!(scratch.len() > n);
    assert!(lane + 4 <= 16);
    let mut k = 0;
    // SAFETY: AVX2 is enabled; every pointer below is in bounds (lengths
    // asserted above, checkpoint rows indexed through slices).
    unsafe {
        let (mut tp, mut fp) = (
            _mm256_loadu_pd(st.tp.as_ptr()),
            _mm256_loadu_pd(st.fp.as_ptr()),
        );
        let (mut dtp, mut dfp) = (
            _mm256_loadu_pd(st.dtp.as_ptr()),
            _mm256_loadu_pd(st.dfp.as_ptr()),
        );
        let mut auc2 = _mm256_loadu_pd(st.auc2.as_ptr());
        let two = _mm256_set1_pd(2.0);
        for i in 0..n {
            let wv = _mm256_loadu_pd(w.get_unchecked(i).as_ptr());
            let wy = _mm256_mul_pd(wv, _mm256_set1_pd(*y.get_unchecked(i)));
            dtp = _mm256_add_pd(dtp, wy);
            dfp = _mm256_add_pd(dfp, _mm256_sub_pd(wv, wy));
            let fl = *flags.get_unchecked(i);
            if fl & GROUP_END != 0 {
                auc2 = _mm256_add_pd(
                    auc2,
                    _mm256_mul_pd(dfp, _mm256_add_pd(_mm256_mul_pd(two, tp), dtp)),
                );
                tp = _mm256_add_pd(tp, dtp);
                fp = _mm256_add_pd(fp, dfp);
                let e = scratch.get_unchecked_mut(k);
                _mm256_storeu_pd(e.dtp.as_mut_ptr(), dtp);
                _mm256_storeu_pd(e.tp.as_mut_ptr(), tp);
                _mm256_storeu_pd(e.fp.as_mut_ptr(), fp);
                e.group = *group as f64;
                k += ((fl & GROUP_POS) != 0) as usize;
                dtp = _mm256_setzero_pd();
                dfp = _mm256_setzero_pd();
                *group += 1;
                if fl & CHECKPOINT != 0 {
                    _mm256_storeu_pd(ck_tp[*ck][lane..lane + 4].as_mut_ptr(), tp);
                    _mm256_storeu_pd(ck_fp[*ck][lane..lane + 4].as_mut_ptr(), fp);
                    *ck += 1;
                }
            }
        }
        _mm256_storeu_pd(st.tp.as_mut_ptr(), tp);
        _mm256_storeu_pd(st.fp.as_mut_ptr(), fp);
        _mm256_storeu_pd(st.dtp.as_mut_ptr(), dtp);
        _mm256_storeu_pd(st.dfp.as_mut_ptr(), dfp);
        _mm256_storeu_pd(st.auc2.as_mut_ptr(), auc2);
    }
    k
}

/// One tile of a quad's row-term pass: `sums = (Σ w·ll, Σ w·sq, Σ w·p)`
/// with `t[i] = (ll, sq, p, y)`; at checkpoint rows `Σ w·p` goes to `ck_wp`.
#[inline(always)]
pub fn row_tile_scalar(
    w: &[[f64; 4]],
    t: &[[f64; 4]],
    flags: &[u8],
    sums: &mut [[f64; 4]; 3],
    ck: &mut usize,
    ck_wp: &mut [[f64; 16]],
    lane: usize,
) {
    let mut s = *sums;
    for ((w, t), &fl) in w.iter().zip(t).zip(flags) {
        for j in 0..4 {
            s[0][j] += w[j] * t[0];
            s[1][j] += w[j] * t[1];
            s[2][j] += w[j] * t[2];
        }
        if fl & CHECKPOINT != 0 {
            ck_wp[*ck][lane..lane + 4].copy_from_slice(&s[2]);
            *ck += 1;
        }
    }
    *sums = s;
}

/// AVX2 twin of [`row_tile_scalar`].
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub unsafe fn row_tile_avx2(
    w: &[[f64; 4]],
    t: &[[f64; 4]],
    flags: &[u8],
    sums: &mut [[f64; 4]; 3],
    ck: &mut usize,
    ck_wp: &mut [[f64; 16]],
    lane: usize,
) {
    use std::arch::x86_64::*;
    let n = w.len().min(t.len()).min(flags.len());
    assert!(lane + 4 <= 16);
    // SAFETY: AVX2 is enabled; indices are below `n`.
    unsafe {
        let mut ll = _mm256_loadu_pd(sums[0].as_ptr());
        let mut br = _mm256_loadu_pd(sums[1].as_ptr());
        let mut wp = _mm256_loadu_pd(sums[2].as_ptr());
        for i in 0..n {
            let wv = _mm256_loadu_pd(w.get_unchecked(i).as_ptr());
            let ti = t.get_unchecked(i);
            ll = _mm256_add_pd(ll, _mm256_mul_pd(wv, _mm256_set1_pd(ti[0])));
            br = _mm256_add_pd(br, _mm256_mul_pd(wv, _mm256_set1_pd(ti[1])));
            wp = _mm256_add_pd(wp, _mm256_mul_pd(wv, _mm256_set1_pd(ti[2])));
            if *flags.get_unchecked(i) & CHECKPOINT != 0 {
                _mm256_storeu_pd(ck_wp[*ck][lane..lane + 4].as_mut_ptr(), wp);
                *ck += 1;
            }
        }
        _mm256_storeu_pd(sums[0].as_mut_ptr(), ll);
        _mm256_storeu_pd(sums[1].as_mut_ptr(), br);
        _mm256_storeu_pd(sums[2].as_mut_ptr(), wp);
    }
}
