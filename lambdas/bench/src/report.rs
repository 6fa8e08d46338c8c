//! What every bench prints: the debug-build notice and latency percentiles.

use std::time::Duration;

/// Says so when the figures come from a debug build.
pub fn note_debug_build() {
    if cfg!(debug_assertions) {
        println!("(debug build: compare numbers from a --release build)");
    }
}

/// A duration in whole microseconds, the unit the benches record latencies in.
pub fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
}

/// `p50 x ms, p99 y ms` of sorted latencies in microseconds.
pub fn latency_summary(sorted: &[u64]) -> String {
    format!(
        "p50 {:.1} ms, p99 {:.1} ms",
        percentile(sorted, 50) as f64 / 1000.0,
        percentile(sorted, 99) as f64 / 1000.0
    )
}

/// Nearest-rank percentile of sorted values; 0 for none.
pub fn percentile(sorted: &[u64], percent: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_use_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50), 50);
        assert_eq!(percentile(&values, 99), 99);
        assert_eq!(percentile(&[7], 99), 7);
        assert_eq!(percentile(&[], 50), 0);
    }
}
