//! Work the screen's thread never waits for: reading runs from disk (which asks `squeue` while
//! a sweep is queued, seconds on a busy cluster), following a run, writing flags and exports.
//! Each lane is a thread of its own while it has work; what a job finds comes back as a
//! `Message` through the event loop's channel, like the training worker's events.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedSender;

use super::message::Message;

/// A kind of work, run in order on its own thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Reading runs/ and checkpoint/ (and the scheduler's queue).
    Catalog,
    /// Reading again the run `lnmc watch` follows.
    Follow,
    /// Reading the system.csv of the run this dashboard trains.
    System,
    /// Reading the tail of a run's log.txt.
    Log,
    /// Patches of the data file the Dataset tab is about to show: each request, in order
    /// (each asks only for what no earlier one did).
    Patches,
    /// Files the user asked to be written (flags, exports): each one, in order.
    Write,
}

impl Lane {
    /// A read asked for again while one waits keeps only the newest: reading twice what
    /// changed once is waste, and a slow `squeue` would otherwise pile a read up every second.
    fn newest_only(self) -> bool {
        !matches!(self, Lane::Write | Lane::Patches)
    }
}

type Job = Box<dyn FnOnce() -> Message + Send>;

#[derive(Default)]
struct Queue {
    running: bool,
    waiting: VecDeque<Job>,
}

pub struct Jobs {
    tx: UnboundedSender<Message>,
    lanes: HashMap<Lane, Arc<Mutex<Queue>>>,
}

impl Jobs {
    pub fn new(tx: UnboundedSender<Message>) -> Jobs {
        Jobs {
            tx,
            lanes: HashMap::new(),
        }
    }

    /// Runs `job` on `lane`'s thread after what is already running there; its message comes
    /// back through the channel.
    pub fn submit(&mut self, lane: Lane, job: impl FnOnce() -> Message + Send + 'static) {
        let queue = Arc::clone(self.lanes.entry(lane).or_default());
        let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
        if lane.newest_only() {
            q.waiting.clear();
        }
        q.waiting.push_back(Box::new(job));
        if q.running {
            return;
        }
        q.running = true;
        drop(q);
        let tx = self.tx.clone();
        std::thread::spawn(move || loop {
            let job = {
                let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
                match q.waiting.pop_front() {
                    Some(job) => job,
                    None => {
                        q.running = false;
                        return;
                    }
                }
            };
            // The loop has ended (the user quit): what is still queued has no one to tell.
            if tx.send(job()).is_err() {
                return;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn note(text: &str) -> Message {
        Message::Note(text.into())
    }

    fn text(m: Message) -> String {
        match m {
            Message::Note(t) => t,
            _ => panic!("not a note"),
        }
    }

    #[tokio::test]
    async fn a_slow_read_keeps_only_the_newest_request_and_writes_keep_each() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut jobs = Jobs::new(tx);
        let (started, has_started) = std::sync::mpsc::channel();
        jobs.submit(Lane::Catalog, move || {
            started.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(1000));
            note("read 1")
        });
        has_started.recv().unwrap();
        // Asked while the first read runs: only the newest of these runs after it.
        jobs.submit(Lane::Catalog, || note("read 2"));
        jobs.submit(Lane::Catalog, || note("read 3"));
        // Another lane does not wait for the slow read.
        jobs.submit(Lane::Write, || note("write 1"));
        jobs.submit(Lane::Write, || note("write 2"));
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(text(rx.recv().await.unwrap()));
        }
        assert_eq!(got, ["write 1", "write 2", "read 1", "read 3"]);
        assert!(
            tokio::time::timeout(Duration::from_millis(100), rx.recv())
                .await
                .is_err(),
            "read 2 was dropped"
        );
    }
}
