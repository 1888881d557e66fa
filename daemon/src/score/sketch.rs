//! Count-sketch projection of a gradient to `dim` coordinates, defined by a seed alone.
//!
//! In: parameter names with their element counts, a dimension and a seed. Out: for every
//! parameter element, one coordinate and a ±1 sign from a seeded hash (no dense matrix), so
//! `sketch[c] = Σ_{i: h(i)=c} s(i)·g[i]` and inner products are preserved in expectation.

/// SplitMix64's finaliser: a strong 64-bit mixer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a of a parameter name.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// Coordinate in `0..dim` and sign of element `index` of parameter `name`.
pub fn bucket(seed: u64, name: &str, index: u64, dim: usize) -> (u32, f32) {
    let base = mix(seed ^ mix(name_hash(name)));
    let h = mix(base.wrapping_add(index.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    let coord = (((h & 0xffff_ffff) * dim as u64) >> 32) as u32;
    let sign = if h >> 63 == 1 { -1.0 } else { 1.0 };
    (coord, sign)
}

/// Coordinates and signs of every element of the parameters, in order (concatenated).
pub fn tables(seed: u64, params: &[(String, usize)], dim: usize) -> (Vec<u32>, Vec<f32>) {
    let total: usize = params.iter().map(|(_, n)| n).sum();
    let (mut idx, mut sign) = (Vec::with_capacity(total), Vec::with_capacity(total));
    for (name, n) in params {
        for i in 0..*n {
            let (c, s) = bucket(seed, name, i as u64, dim);
            idx.push(c);
            sign.push(s);
        }
    }
    (idx, sign)
}

/// Apply the sketch on the host (the reference the device path is checked against).
pub fn project(values: &[f32], idx: &[u32], sign: &[f32], dim: usize) -> Vec<f32> {
    let mut out = vec![0f32; dim];
    for ((v, c), s) in values.iter().zip(idx).zip(sign) {
        if let Some(slot) = out.get_mut(*c as usize) {
            *slot += v * s;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_seeded_spread_and_balanced() {
        let (idx, sign) = tables(7, &[("a".into(), 20_000), ("b".into(), 12_000)], 64);
        assert_eq!(tables(7, &[("a".into(), 20_000), ("b".into(), 12_000)], 64), (idx.clone(), sign.clone()));
        assert_ne!(tables(8, &[("a".into(), 20_000), ("b".into(), 12_000)], 64).0, idx);
        let mut counts = [0usize; 64];
        idx.iter().for_each(|c| counts[*c as usize] += 1);
        assert!(counts.iter().all(|c| (400..600).contains(c)), "{counts:?}");
        let plus = sign.iter().filter(|s| **s > 0.0).count();
        assert!((15_000..17_000).contains(&plus), "{plus}");
    }
}
