//! What the training loop is doing and when it last finished a batch, as it tells the sampler.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

/// Progress intervals the median is taken over.
const RECENT_STEPS: usize = 32;

/// What the training loop is doing, as it tells the sampler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Doing {
    Starting,
    /// `batch` of `batches` batches of `epoch` are done.
    Training {
        epoch: usize,
        batch: usize,
        batches: usize,
    },
    Validating {
        epoch: usize,
    },
    Saving {
        epoch: usize,
    },
}

impl Doing {
    pub fn describe(self) -> String {
        match self {
            Doing::Starting => "starting: no batch finished yet".into(),
            Doing::Training {
                epoch, batch: 0, ..
            } => format!("epoch {epoch}: waiting for its first batch"),
            Doing::Training {
                epoch,
                batch,
                batches,
            } => format!("epoch {epoch}: batch {batch}/{batches} done"),
            Doing::Validating { epoch } => format!("epoch {epoch}: validating"),
            Doing::Saving { epoch } => format!("epoch {epoch}: saving checkpoints"),
        }
    }
}

/// Shared between the training loop (which marks its progress) and the sampler (which reads it).
#[derive(Debug)]
pub struct Activity(Mutex<ActivityState>);

#[derive(Debug)]
struct ActivityState {
    doing: Doing,
    since: Instant,
    /// Seconds a batch took, recent ones, each the mean over the batches finished together.
    steps: VecDeque<f64>,
}

impl Default for Activity {
    fn default() -> Self {
        Activity(Mutex::new(ActivityState {
            doing: Doing::Starting,
            since: Instant::now(),
            steps: VecDeque::new(),
        }))
    }
}

impl Activity {
    /// `batches` more batches finished (the loop reads losses back a few batches at a time),
    /// and the loop now stands at `doing`.
    pub fn batches_done(&self, batches: usize, doing: Doing) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // The first interval of a step also holds what came before it (validation, loading).
        if matches!(state.doing, Doing::Training { batch, .. } if batch > 0) && batches > 0 {
            let per_batch = state.since.elapsed().as_secs_f64() / batches as f64;
            state.steps.push_back(per_batch);
            if state.steps.len() > RECENT_STEPS {
                state.steps.pop_front();
            }
        }
        state.doing = doing;
        state.since = Instant::now();
    }

    /// The loop moved on to another step: counted as progress, not timed.
    pub fn now(&self, doing: Doing) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        state.doing = doing;
        state.since = Instant::now();
    }

    /// (what, seconds since, median seconds a batch).
    pub(super) fn read(&self) -> (Doing, f64, Option<f64>) {
        let state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (
            state.doing,
            state.since.elapsed().as_secs_f64(),
            median(state.steps.iter().copied().collect()),
        )
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(match n % 2 {
        1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    #[test]
    fn activity_times_batches_not_the_steps_between_them() {
        let a = Activity::default();
        let epoch = |batch| Doing::Training {
            epoch: 1,
            batch,
            batches: 10,
        };
        a.batches_done(8, epoch(8));
        assert_eq!(
            a.read().2,
            None,
            "the first batches also waited for the start"
        );
        std::thread::sleep(Duration::from_millis(40));
        a.batches_done(2, epoch(10));
        std::thread::sleep(Duration::from_millis(20));
        a.now(Doing::Validating { epoch: 1 });
        a.batches_done(8, epoch(8));
        let one = a.read().2.unwrap();
        assert!((0.020..0.15).contains(&one), "the one timed step: {one}");
        std::thread::sleep(Duration::from_millis(80));
        a.batches_done(2, epoch(10));
        let (doing, idle, step) = a.read();
        assert_eq!(doing, epoch(10));
        assert!(idle < 0.02, "{idle}");
        // Steps of 2 batches in ≥ 40 ms and ≥ 80 ms: ≥ 20 and ≥ 40 ms a batch, median ≥ 30.
        let step = step.unwrap();
        assert!((0.030..0.2).contains(&step), "{step}");
    }
}
