//! The stall rule: when a running run that finishes no batch counts as stalled.

use std::time::Duration;

use super::Sample;

/// A run is stalled when it has finished no batch for this many times its recent median time
/// between batches…
pub const STALL_FACTOR: f64 = 10.0;
/// …and for at least this long: a validation pass or a checkpoint save is not a stall.
pub const STALL_FLOOR: Duration = Duration::from_secs(60);

/// A running run that has finished no batch for longer than its limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Stall {
    /// How long since the last batch, as of now.
    pub idle: Duration,
    pub limit: Duration,
    /// What it was last doing.
    pub doing: String,
}

impl Stall {
    pub fn describe(&self) -> String {
        format!(
            "stalled: no batch for {} (limit {}), last {}",
            minutes(self.idle),
            minutes(self.limit),
            self.doing
        )
    }
}

/// A duration as stall messages say it: "45 s", "3 min 05 s".
pub fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        _ => format!("{} min {:02} s", s / 60, s % 60),
    }
}

/// The stall limit: `given`, else `STALL_FACTOR` × the run's median batch time, at least
/// `STALL_FLOOR`.
pub fn stall_limit(step_s: Option<f64>, given: Option<Duration>) -> Duration {
    given.unwrap_or_else(|| {
        let own = Duration::from_secs_f64(step_s.unwrap_or(0.0).max(0.0) * STALL_FACTOR);
        own.max(STALL_FLOOR)
    })
}

/// Whether the run whose last sample is `last`, written `age` ago, is stalled. The writer's
/// sampler goes on while its loop hangs, so `idle_s` grows; a writer frozen whole (stopped,
/// its host gone) writes nothing, and the file's age adds to it.
pub fn stall(last: &Sample, age: Duration, given: Option<Duration>) -> Option<Stall> {
    let idle = Duration::from_secs_f64(last.idle_s.max(0.0)) + age;
    let limit = stall_limit(last.step_s, given);
    (idle > limit).then(|| Stall {
        idle,
        limit,
        doing: last.doing.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_sample as sample;
    use super::*;
    #[test]
    fn the_stall_limit_is_ten_median_batches_and_at_least_a_minute() {
        assert_eq!(stall_limit(None, None), STALL_FLOOR);
        assert_eq!(stall_limit(Some(0.5), None), STALL_FLOOR);
        assert_eq!(stall_limit(Some(30.0), None), Duration::from_secs(300));
        let given = Some(Duration::from_secs(5));
        assert_eq!(stall_limit(Some(30.0), given), Duration::from_secs(5));
        // The writer's own idle time and the file's age add up.
        let s = sample(50.0, Some(0.2));
        assert_eq!(stall(&s, Duration::from_secs(5), None), None);
        let stalled = stall(&s, Duration::from_secs(15), None).unwrap();
        assert_eq!(stalled.idle, Duration::from_secs(65));
        assert_eq!(stalled.limit, STALL_FLOOR);
        assert_eq!(
            stalled.describe(),
            "stalled: no batch for 1 min 05 s (limit 1 min 00 s), last epoch 2: batch 3/10 done"
        );
    }
}
