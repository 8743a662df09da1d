//! Fixed log-spaced histograms for latency and time to first token.
//!
//! Every histogram in every rollup row uses the same bucket boundaries, so histograms
//! merge by adding counts, and a percentile over a month is computed from a few
//! hundred stored histograms instead of hundreds of thousands of rows. Buckets are 16
//! per doubling (each about 4.4% wide) from 1/16 ms to about 4.6 hours; reporting a
//! bucket's geometric middle keeps the relative error of any percentile within 2.2%.

/// Buckets per doubling of the value.
const PER_OCTAVE: f64 = 16.0;
/// Values at or below 2^-4 ms land in bucket 0.
const LOW_OCTAVES: i64 = 4;
/// Number of buckets: 2^-4 ms .. 2^24 ms (about 4.6 hours); longer values share the last.
pub(crate) const BUCKETS: usize = ((LOW_OCTAVES + 24) * 16) as usize;

/// The bucket a value (in milliseconds) falls into.
pub(crate) fn bucket_of(value_ms: f64) -> usize {
    // Zero, negative and NaN values all land in the first bucket.
    if value_ms.is_nan() || value_ms <= 0.0 {
        return 0;
    }
    let index = (value_ms.log2() * PER_OCTAVE).floor() as i64 + LOW_OCTAVES * 16;
    index.clamp(0, BUCKETS as i64 - 1) as usize
}

/// The value reported for a bucket: its geometric middle.
pub(crate) fn bucket_value(index: usize) -> f64 {
    let exponent = (index as f64 - (LOW_OCTAVES * 16) as f64 + 0.5) / PER_OCTAVE;
    exponent.exp2()
}

/// Counts per bucket, dense in memory (merging and ranking are then plain loops) and
/// sparse on disk (see [`Hist::encode`]). A fixed-size array rather than a `Vec`: loops
/// over two of them need no bounds checks and merge several buckets per instruction,
/// which matters to the log writer, which merges and encodes a few dozen per batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hist {
    counts: Box<[u32; BUCKETS]>,
}

/// Buckets looked at together when encoding: most of a histogram is empty.
const ENCODE_STRIDE: usize = 8;
const _: () = assert!(BUCKETS / ENCODE_STRIDE * ENCODE_STRIDE == BUCKETS);

impl Default for Hist {
    fn default() -> Self {
        Hist {
            counts: Box::new([0; BUCKETS]),
        }
    }
}

impl Hist {
    pub(crate) fn add(&mut self, value_ms: f64) {
        let slot = &mut self.counts[bucket_of(value_ms)];
        *slot = slot.saturating_add(1);
    }

    pub(crate) fn merge(&mut self, other: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
    }

    /// The `q`-quantile (0 < q <= 1) by nearest rank, or `None` for an empty histogram.
    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0u64;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += u64::from(count);
            if seen >= rank {
                return Some(bucket_value(index));
            }
        }
        None
    }

    /// Sparse encoding: pairs of (gap since the previous non-empty bucket, count), both
    /// LEB128 varints. A typical hour of one model takes 20-60 bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        // Room for a busy hour's spread of latencies without growing.
        let mut out = Vec::with_capacity(256);
        let mut previous = 0usize;
        for (stride, counts) in self.counts.chunks_exact(ENCODE_STRIDE).enumerate() {
            // An OR of the stride, not `all`: no early exit, so no branch per bucket.
            if counts.iter().fold(0, |any, &count| any | count) == 0 {
                continue;
            }
            for (offset, &count) in counts.iter().enumerate() {
                if count > 0 {
                    let index = stride * ENCODE_STRIDE + offset;
                    put_varint(&mut out, (index - previous) as u64);
                    put_varint(&mut out, u64::from(count));
                    previous = index;
                }
            }
        }
        out
    }

    /// Adds an encoded histogram's counts to this one. Malformed input (which only a
    /// damaged database could hold) stops the decoding rather than panicking.
    pub(crate) fn merge_encoded(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        let mut index = 0usize;
        while !rest.is_empty() {
            let (Some(gap), Some(count)) = (take_varint(&mut rest), take_varint(&mut rest)) else {
                return;
            };
            index = index.saturating_add(gap as usize);
            let Some(slot) = self.counts.get_mut(index) else {
                return;
            };
            *slot = slot.saturating_add(u32::try_from(count).unwrap_or(u32::MAX));
        }
    }

    pub(crate) fn decode(bytes: &[u8]) -> Hist {
        let mut hist = Hist::default();
        hist.merge_encoded(bytes);
        hist
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn take_varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_cover_the_range() {
        assert_eq!(bucket_of(0.0), 0);
        assert_eq!(bucket_of(-5.0), 0);
        assert_eq!(bucket_of(f64::NAN), 0);
        assert_eq!(bucket_of(1e12), BUCKETS - 1);
        let mut last = 0;
        for i in 1..100_000 {
            let b = bucket_of(i as f64 * 0.37);
            assert!(b >= last);
            last = b;
        }
    }

    #[test]
    fn a_bucket_value_is_within_2_2_percent_of_what_fell_in() {
        for i in 1..20_000 {
            let v = i as f64 * 1.7;
            let r = bucket_value(bucket_of(v));
            assert!((r - v).abs() / v <= 0.0222, "{v} -> {r}");
        }
    }

    #[test]
    fn quantiles_match_exact_ones_within_the_bucket_error() {
        let values: Vec<f64> = (1..=10_000).map(|i| (i as f64).powf(1.3)).collect();
        let mut hist = Hist::default();
        values.iter().for_each(|&v| hist.add(v));
        for q in [0.5, 0.9, 0.95, 0.99, 1.0] {
            let exact = values[((q * values.len() as f64).ceil() as usize).max(1) - 1];
            let est = hist.quantile(q).unwrap();
            assert!(
                (est - exact).abs() / exact <= 0.0222,
                "q={q}: {est} vs {exact}"
            );
        }
        assert_eq!(Hist::default().quantile(0.5), None);
    }

    #[test]
    fn encoding_lists_every_filled_bucket_by_its_gap_from_the_one_before() {
        let mut hist = Hist::default();
        let filled = [0usize, 7, 8, 9, 100, 255, 256, BUCKETS - 8, BUCKETS - 1];
        for (n, &index) in filled.iter().enumerate() {
            hist.counts[index] = (n as u32 + 1) * 1000;
        }
        let mut expected = Vec::new();
        let mut previous = 0;
        for (n, &index) in filled.iter().enumerate() {
            put_varint(&mut expected, (index - previous) as u64);
            put_varint(&mut expected, (n as u64 + 1) * 1000);
            previous = index;
        }
        assert_eq!(hist.encode(), expected);
        assert_eq!(Hist::decode(&expected), hist);
    }

    #[test]
    fn encoding_round_trips_and_merges() {
        let mut a = Hist::default();
        for v in [0.0, 0.5, 3.0, 3.0, 250.0, 1e9] {
            a.add(v);
        }
        let decoded = Hist::decode(&a.encode());
        assert_eq!(decoded, a);
        let mut merged = a.clone();
        merged.merge_encoded(&a.encode());
        assert_eq!(merged.total(), 12);
        assert!(Hist::default().encode().is_empty());
        // Damaged bytes neither panic nor count beyond the histogram.
        let mut damaged = Hist::default();
        damaged.merge_encoded(&[0xff, 0xff, 0xff]);
        damaged.merge_encoded(&[0x90, 0x7f, 0x01]);
        assert_eq!(damaged.total(), 0);
    }
}
