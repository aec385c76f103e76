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
    /// Four `u32` values below 2³¹, converted (exactly).
    fn from_u32(w: &[u32]) -> Self;
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
    fn from_u32(w: &[u32]) -> Self {
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
    fn from_u32(w: &[u32]) -> Self {
        use std::arch::x86_64::*;
        assert!(w.len() >= 4);
        // Values below 2³¹: the signed conversion is exact.
        unsafe {
            Avx4(_mm256_cvtepi32_pd(_mm_loadu_si128(
                w.as_ptr() as *const __m128i
            )))
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
    fn auc_slots_invert_auc_lanes() {
        for l in 0..16 {
            assert_eq!(AUC_LANE[AUC_SLOT[l]], l);
        }
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
                assert_eq!(
                    Avx4::from_u32(&[1, 8, 0, (1 << 31) - 1]).store(),
                    Scalar4::from_u32(&[1, 8, 0, (1 << 31) - 1]).store()
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

/// Running ranking sums of all 16 lanes in integers, for rows without file
/// weights (see [`rank_tile_int_scalar`]). `auc2` is kept in the order the
/// AVX2 kernel multiplies in: [`AUC_LANE`] maps a slot to its lane.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IntRankSums {
    /// Cumulative positive weight.
    pub tp: [u32; 16],
    /// Cumulative negative weight.
    pub fp: [u32; 16],
    /// Positive weight of the open tie group.
    pub dtp: [u32; 16],
    /// Negative weight of the open tie group.
    pub dfp: [u32; 16],
    /// Twice the area under the (unnormalised) ROC curve, slot `s` holding
    /// lane `AUC_LANE[s]`.
    pub auc2: [u64; 16],
}

/// The lane of each `auc2` slot of [`IntRankSums`]: even lanes of each
/// eight, then odd ones (`_mm256_mul_epu32` multiplies the even 32-bit
/// lanes of a register; the odd ones are shifted down into them).
pub const AUC_LANE: [usize; 16] = [0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15];
/// The inverse of [`AUC_LANE`]: the `auc2` slot of each lane.
pub const AUC_SLOT: [usize; 16] = [0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15];

impl IntRankSums {
    /// Lane `l`'s `auc2`.
    pub fn auc2_of(&self, l: usize) -> u64 {
        self.auc2[AUC_SLOT[l]]
    }
}

/// A positive tie group's end in integers, all 16 lanes (see [`PosEnd`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IntPosEnd {
    /// The group's positive weight.
    pub dtp: [u32; 16],
    /// Cumulative positive weight after the group.
    pub tp: [u32; 16],
    /// Cumulative negative weight after the group.
    pub fp: [u32; 16],
    /// The group's index.
    pub group: u32,
}

/// [`rank_tile_scalar`] for all 16 lanes at once in integers, for rows
/// without file weights: `w` holds each row's 16 resampling weights, the
/// label is the row's [`LABEL`] flag.
///
/// The floating-point pass computes the same numbers exactly whenever every
/// lane's total weight `W` is at most 2²⁶ (the caller checks the totals
/// after the pass and discards it otherwise): its operands are then integers —
/// `dtp`, `dfp`, `tp`, `fp` ≤ W, `2·tp + dtp` ≤ 2W, each area term
/// `dfp·(2·tp + dtp)` and the area itself ≤ W²/2 — which `f64` holds
/// exactly, so none of these sums and products rounds and the order of the
/// additions does not matter. Here those integers are computed directly (`u32`
/// sums, `u64` areas), and the caller converts them; the results are the
/// same bits. Checkpoints get every lane's `tp`/`fp` as `f64`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn rank_tile_int_scalar(
    w: &[[u16; 16]],
    flags: &[u8],
    st: &mut IntRankSums,
    scratch: &mut [IntPosEnd],
    group: &mut u32,
    ck: &mut usize,
    ck_tp: &mut [[f64; 16]],
    ck_fp: &mut [[f64; 16]],
) -> usize {
    let mut k = 0;
    let mut s = *st;
    for (w, &fl) in w.iter().zip(flags) {
        let y = (fl & LABEL) as u32;
        // Wrapping, as the AVX2 twin's integer lanes: the sums never wrap
        // while the totals stay within 2²⁶, and past that the caller
        // discards them.
        for l in 0..16 {
            let wl = w[l] as u32;
            s.dtp[l] = s.dtp[l].wrapping_add(wl * y);
            s.dfp[l] = s.dfp[l].wrapping_add(wl * (1 - y));
        }
        if fl & GROUP_END != 0 {
            for (slot, &l) in AUC_LANE.iter().enumerate() {
                let t = s.tp[l].wrapping_mul(2).wrapping_add(s.dtp[l]);
                s.auc2[slot] = s.auc2[slot].wrapping_add(s.dfp[l] as u64 * t as u64);
            }
            for l in 0..16 {
                s.tp[l] = s.tp[l].wrapping_add(s.dtp[l]);
                s.fp[l] = s.fp[l].wrapping_add(s.dfp[l]);
            }
            scratch[k] = IntPosEnd {
                dtp: s.dtp,
                tp: s.tp,
                fp: s.fp,
                group: *group,
            };
            k += ((fl & GROUP_POS) != 0) as usize;
            s.dtp = [0; 16];
            s.dfp = [0; 16];
            *group += 1;
            if fl & CHECKPOINT != 0 {
                ck_tp[*ck] = s.tp.map(|x| x as f64);
                ck_fp[*ck] = s.fp.map(|x| x as f64);
                *ck += 1;
            }
        }
    }
    *st = s;
    k
}

/// AVX2 twin of [`rank_tile_int_scalar`] (integer arithmetic: the same
/// results exactly).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
// Not inlined: its accumulators get the registers to themselves (inlined
// into the pass, they were spilled to the stack inside the loop).
#[inline(never)]
pub unsafe fn rank_tile_int_avx2(
    w: &[[u16; 16]],
    flags: &[u8],
    st: &mut IntRankSums,
    scratch: &mut [IntPosEnd],
    group: &mut u32,
    ck: &mut usize,
    ck_tp: &mut [[f64; 16]],
    ck_fp: &mut [[f64; 16]],
) -> usize {
    use std::arch::x86_64::*;
    let n = w.len().min(flags.len());
    assert!(scratch.len() > n);
    let mut k = 0;
    // SAFETY: AVX2 is enabled; every pointer below is in bounds (lengths
    // asserted above; arrays of 16 u32 are two 32-byte halves, of 16 u64
    // four; checkpoint rows are indexed through slices).
    unsafe {
        // Macros rather than closures: the intrinsics stay inlined under
        // this function's target features.
        macro_rules! ld {
            ($p:expr, $h:expr) => {
                _mm256_loadu_si256($p.as_ptr().add(8 * $h) as *const __m256i)
            };
        }
        macro_rules! sv {
            ($p:expr, $h:expr, $v:expr) => {
                _mm256_storeu_si256($p.as_mut_ptr().add(8 * $h) as *mut __m256i, $v)
            };
        }
        macro_rules! cvt {
            ($out:expr, $v0:expr, $v1:expr) => {{
                let o = $out.as_mut_ptr();
                _mm256_storeu_pd(o, _mm256_cvtepi32_pd(_mm256_castsi256_si128($v0)));
                _mm256_storeu_pd(
                    o.add(4),
                    _mm256_cvtepi32_pd(_mm256_extracti128_si256::<1>($v0)),
                );
                _mm256_storeu_pd(o.add(8), _mm256_cvtepi32_pd(_mm256_castsi256_si128($v1)));
                _mm256_storeu_pd(
                    o.add(12),
                    _mm256_cvtepi32_pd(_mm256_extracti128_si256::<1>($v1)),
                );
            }};
        }
        let (mut tp0, mut tp1) = (ld!(&st.tp, 0), ld!(&st.tp, 1));
        let (mut fp0, mut fp1) = (ld!(&st.fp, 0), ld!(&st.fp, 1));
        let (mut dtp0, mut dtp1) = (ld!(&st.dtp, 0), ld!(&st.dtp, 1));
        let (mut dfp0, mut dfp1) = (ld!(&st.dfp, 0), ld!(&st.dfp, 1));
        let a = st.auc2.as_ptr() as *const __m256i;
        let (mut ae0, mut ao0, mut ae1, mut ao1) = (
            _mm256_loadu_si256(a),
            _mm256_loadu_si256(a.add(1)),
            _mm256_loadu_si256(a.add(2)),
            _mm256_loadu_si256(a.add(3)),
        );
        for i in 0..n {
            let wv = _mm256_loadu_si256(w.get_unchecked(i).as_ptr() as *const __m256i);
            let w0 = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(wv));
            let w1 = _mm256_cvtepu16_epi32(_mm256_extracti128_si256::<1>(wv));
            let fl = *flags.get_unchecked(i);
            // All ones for a positive row, zero for a negative one.
            let pos = _mm256_set1_epi32(-((fl & LABEL) as i32));
            dtp0 = _mm256_add_epi32(dtp0, _mm256_and_si256(pos, w0));
            dtp1 = _mm256_add_epi32(dtp1, _mm256_and_si256(pos, w1));
            dfp0 = _mm256_add_epi32(dfp0, _mm256_andnot_si256(pos, w0));
            dfp1 = _mm256_add_epi32(dfp1, _mm256_andnot_si256(pos, w1));
            if fl & GROUP_END != 0 {
                let t0 = _mm256_add_epi32(_mm256_add_epi32(tp0, tp0), dtp0);
                let t1 = _mm256_add_epi32(_mm256_add_epi32(tp1, tp1), dtp1);
                ae0 = _mm256_add_epi64(ae0, _mm256_mul_epu32(dfp0, t0));
                ao0 = _mm256_add_epi64(
                    ao0,
                    _mm256_mul_epu32(_mm256_srli_epi64::<32>(dfp0), _mm256_srli_epi64::<32>(t0)),
                );
                ae1 = _mm256_add_epi64(ae1, _mm256_mul_epu32(dfp1, t1));
                ao1 = _mm256_add_epi64(
                    ao1,
                    _mm256_mul_epu32(_mm256_srli_epi64::<32>(dfp1), _mm256_srli_epi64::<32>(t1)),
                );
                tp0 = _mm256_add_epi32(tp0, dtp0);
                tp1 = _mm256_add_epi32(tp1, dtp1);
                fp0 = _mm256_add_epi32(fp0, dfp0);
                fp1 = _mm256_add_epi32(fp1, dfp1);
                let e = scratch.get_unchecked_mut(k);
                sv!(e.dtp, 0, dtp0);
                sv!(e.dtp, 1, dtp1);
                sv!(e.tp, 0, tp0);
                sv!(e.tp, 1, tp1);
                sv!(e.fp, 0, fp0);
                sv!(e.fp, 1, fp1);
                e.group = *group;
                k += ((fl & GROUP_POS) != 0) as usize;
                dtp0 = _mm256_setzero_si256();
                dtp1 = _mm256_setzero_si256();
                dfp0 = _mm256_setzero_si256();
                dfp1 = _mm256_setzero_si256();
                *group += 1;
                if fl & CHECKPOINT != 0 {
                    // Below 2³¹, so the signed conversion is exact.
                    cvt!(ck_tp[*ck], tp0, tp1);
                    cvt!(ck_fp[*ck], fp0, fp1);
                    *ck += 1;
                }
            }
        }
        sv!(st.tp, 0, tp0);
        sv!(st.tp, 1, tp1);
        sv!(st.fp, 0, fp0);
        sv!(st.fp, 1, fp1);
        sv!(st.dtp, 0, dtp0);
        sv!(st.dtp, 1, dtp1);
        sv!(st.dfp, 0, dfp0);
        sv!(st.dfp, 1, dfp1);
        let a = st.auc2.as_mut_ptr() as *mut __m256i;
        _mm256_storeu_si256(a, ae0);
        _mm256_storeu_si256(a.add(1), ao0);
        _mm256_storeu_si256(a.add(2), ae1);
        _mm256_storeu_si256(a.add(3), ao1);
    }
    k
}

/// [`row_tile_scalar`] for all four quads at once, from the rows' 16
/// resampling weights (rows without file weights): each lane's sums take
/// the same operations in the same order as there, with `w` widened from
/// `u16` (exact).
#[inline(always)]
pub fn row_tile16_scalar(
    w: &[[u16; 16]],
    t: &[[f64; 4]],
    flags: &[u8],
    sums: &mut [[[f64; 4]; 3]; 4],
    ck: &mut usize,
    ck_wp: &mut [[f64; 16]],
) {
    let mut s = *sums;
    for ((w, t), &fl) in w.iter().zip(t).zip(flags) {
        for q in 0..4 {
            for j in 0..4 {
                let wf = w[4 * q + j] as f64;
                s[q][0][j] += wf * t[0];
                s[q][1][j] += wf * t[1];
                s[q][2][j] += wf * t[2];
            }
        }
        if fl & CHECKPOINT != 0 {
            for q in 0..4 {
                ck_wp[*ck][4 * q..4 * q + 4].copy_from_slice(&s[q][2]);
            }
            *ck += 1;
        }
    }
    *sums = s;
}

/// AVX2 twin of [`row_tile16_scalar`]: two quads per sweep of the tile, so
/// six independent sums are in flight instead of three (the sums are
/// latency-bound otherwise); the same operations per lane.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
// Not inlined: its accumulators get the registers to themselves (inlined
// into the pass, they were spilled to the stack inside the loop).
#[inline(never)]
pub unsafe fn row_tile16_avx2(
    w: &[[u16; 16]],
    t: &[[f64; 4]],
    flags: &[u8],
    sums: &mut [[[f64; 4]; 3]; 4],
    ck: &mut usize,
    ck_wp: &mut [[f64; 16]],
) {
    use std::arch::x86_64::*;
    let n = w.len().min(t.len()).min(flags.len());
    let ck0 = *ck;
    // SAFETY: AVX2 is enabled; indices are below `n`, checkpoint rows are
    // indexed through slices.
    unsafe {
        for pair in 0..2 {
            let (qa, qb) = (2 * pair, 2 * pair + 1);
            let mut c = ck0;
            let mut lla = _mm256_loadu_pd(sums[qa][0].as_ptr());
            let mut bra = _mm256_loadu_pd(sums[qa][1].as_ptr());
            let mut wpa = _mm256_loadu_pd(sums[qa][2].as_ptr());
            let mut llb = _mm256_loadu_pd(sums[qb][0].as_ptr());
            let mut brb = _mm256_loadu_pd(sums[qb][1].as_ptr());
            let mut wpb = _mm256_loadu_pd(sums[qb][2].as_ptr());
            for i in 0..n {
                let w8 =
                    _mm_loadu_si128(w.get_unchecked(i).as_ptr().add(8 * pair) as *const __m128i);
                let w32 = _mm256_cvtepu16_epi32(w8);
                let wa = _mm256_cvtepi32_pd(_mm256_castsi256_si128(w32));
                let wb = _mm256_cvtepi32_pd(_mm256_extracti128_si256::<1>(w32));
                let ti = t.get_unchecked(i);
                let (t0, t1, t2) = (
                    _mm256_set1_pd(ti[0]),
                    _mm256_set1_pd(ti[1]),
                    _mm256_set1_pd(ti[2]),
                );
                lla = _mm256_add_pd(lla, _mm256_mul_pd(wa, t0));
                llb = _mm256_add_pd(llb, _mm256_mul_pd(wb, t0));
                bra = _mm256_add_pd(bra, _mm256_mul_pd(wa, t1));
                brb = _mm256_add_pd(brb, _mm256_mul_pd(wb, t1));
                wpa = _mm256_add_pd(wpa, _mm256_mul_pd(wa, t2));
                wpb = _mm256_add_pd(wpb, _mm256_mul_pd(wb, t2));
                if *flags.get_unchecked(i) & CHECKPOINT != 0 {
                    let row = &mut ck_wp[c];
                    _mm256_storeu_pd(row[4 * qa..4 * qa + 4].as_mut_ptr(), wpa);
                    _mm256_storeu_pd(row[4 * qb..4 * qb + 4].as_mut_ptr(), wpb);
                    c += 1;
                }
            }
            _mm256_storeu_pd(sums[qa][0].as_mut_ptr(), lla);
            _mm256_storeu_pd(sums[qa][1].as_mut_ptr(), bra);
            _mm256_storeu_pd(sums[qa][2].as_mut_ptr(), wpa);
            _mm256_storeu_pd(sums[qb][0].as_mut_ptr(), llb);
            _mm256_storeu_pd(sums[qb][1].as_mut_ptr(), brb);
            _mm256_storeu_pd(sums[qb][2].as_mut_ptr(), wpb);
            *ck = c;
        }
    }
}
