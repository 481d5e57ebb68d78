//! Timing helpers shared by the micro-benchmarks.

use std::time::Instant;

/// Calls `f` `warmup + n` times and returns the last `n` durations in milliseconds.
pub fn time_ms(warmup: usize, n: usize, mut f: impl FnMut(usize)) -> Vec<f64> {
    let mut times = Vec::with_capacity(n);
    for i in 0..warmup + n {
        let start = Instant::now();
        f(i);
        if i >= warmup {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times
}

/// "mean … ms  p99 … ms  max … ms" of `times` (milliseconds).
pub fn summary(mut times: Vec<f64>) -> String {
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let p99 = times[((times.len() * 99) / 100).saturating_sub(1)];
    let max = times[times.len() - 1];
    format!("mean {mean:.3} ms  p99 {p99:.3} ms  max {max:.3} ms")
}
