//! The writer's sampling thread: the difference of the process's counters since the last
//! sample, and the GPU's, a row of system.csv every `INTERVAL`.

use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::activity::Activity;
use super::nvml::Gpu;
use super::proc::{read_counters, Counters};
use super::{Sample, INTERVAL};
use crate::run::SYSTEM;

/// Takes samples: the difference of the process's counters since the last one.
pub struct Probe {
    last: Option<Counters>,
    cores: usize,
    gpu: Option<Gpu>,
}

impl Probe {
    /// `cuda`: the CUDA device the run trains on, if any.
    pub fn new(cuda: Option<usize>) -> Probe {
        Probe {
            last: read_counters(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            gpu: cuda.and_then(Gpu::open),
        }
    }

    /// Whether NVML answers for the run's GPU.
    pub fn has_gpu(&self) -> bool {
        self.gpu.is_some()
    }

    /// A sample of the interval since the last one; None where /proc cannot be read.
    pub fn sample(&mut self, activity: &Activity) -> Option<Sample> {
        let now = read_counters()?;
        let last = self.last.replace(now).unwrap_or(now);
        let wall = now.at.duration_since(last.at).as_secs_f64();
        let cpu_percent = match wall > 0.0 {
            true => 100.0 * (now.cpu_s - last.cpu_s) / wall / self.cores as f64,
            false => 0.0,
        };
        let [gpu_percent, gpu_memory_mib, gpu_memory_total_mib, gpu_temperature_c, gpu_power_w] =
            self.gpu.as_ref().map_or([None; 5], Gpu::read);
        let (doing, idle_s, step_s) = activity.read();
        Some(Sample {
            time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            cpu_percent: cpu_percent.max(0.0),
            cores: self.cores,
            rss_mib: now.rss_kib as f64 / 1024.0,
            peak_rss_mib: now.peak_kib as f64 / 1024.0,
            threads: now.threads,
            gpu_percent,
            gpu_memory_mib,
            gpu_memory_total_mib,
            gpu_temperature_c,
            gpu_power_w,
            doing: doing.describe(),
            idle_s,
            step_s,
        })
    }
}

/// The writer's sampling thread: a row of system.csv every `INTERVAL`, and one last as it is
/// dropped.
pub struct Sampler {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    /// Starts sampling into `run_dir/system.csv` (appended to when the run is resumed).
    /// Best effort, like the log: a machine that cannot be sampled still trains.
    pub fn start(run_dir: &Path, cuda: Option<usize>, activity: Arc<Activity>) -> Sampler {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let path = run_dir.join(SYSTEM);
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("lnmc-sampler".into())
                .spawn(move || sample_until_stopped(&path, cuda, &activity, &stop))
                .ok()
        };
        Sampler { stop, thread }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn sample_until_stopped(
    path: &Path,
    cuda: Option<usize>,
    activity: &Activity,
    stop: &(Mutex<bool>, Condvar),
) {
    let mut probe = Probe::new(cuda);
    let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path) else {
        return;
    };
    // A new file gets the header; a resumed run's rows follow its earlier ones. A torn last
    // line of a killed writer is ended here, so that it spoils no row after it.
    let len = file.metadata().map_or(0, |m| m.len());
    if len > 0 && last_byte(path) != Some(b'\n') && file.write_all(b"\n").is_err() {
        return;
    }
    let mut writer = csv::WriterBuilder::new()
        .has_headers(len == 0)
        .from_writer(file);
    let (stopped, wake) = stop;
    let mut guard = stopped.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        guard = wake
            .wait_timeout_while(guard, INTERVAL, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        // The last sample is taken as the run ends, so a run shorter than an interval has one.
        let last = *guard;
        if let Some(sample) = probe.sample(activity) {
            // A whole row each time, so a reader never waits on a half-buffered one.
            if writer
                .serialize(&sample)
                .and_then(|_| Ok(writer.flush()?))
                .is_err()
            {
                return;
            }
        }
        if last {
            return;
        }
    }
}

fn last_byte(path: &Path) -> Option<u8> {
    let mut f = fs::File::open(path).ok()?;
    f.seek(SeekFrom::End(-1)).ok()?;
    let mut b = [0u8];
    f.read_exact(&mut b).ok()?;
    Some(b[0])
}

#[cfg(test)]
mod tests {
    use super::super::test_sample as sample;
    use super::super::{parse, read};
    use super::*;
    use std::time::{Duration, Instant};
    #[test]
    fn the_probe_reads_this_process() {
        let mut probe = Probe::new(None);
        assert!(!probe.has_gpu());
        // Busy for a while, so the interval has CPU time in it.
        let until = Instant::now() + Duration::from_millis(200);
        let mut x = 0u64;
        while Instant::now() < until {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let s = probe.sample(&Activity::default()).unwrap();
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(s.cores, cores);
        // One busy thread of `cores`: about 100/cores %, never more than all of them.
        assert!(s.cpu_percent > 30.0 / cores as f64, "{}", s.cpu_percent);
        assert!(s.cpu_percent <= 100.5, "{}", s.cpu_percent);
        assert!(s.rss_mib > 1.0 && s.peak_rss_mib >= s.rss_mib, "{s:?}");
        assert!(s.threads >= 1);
        assert_eq!(s.gpu_percent, None);
        assert_eq!(s.doing, "starting: no batch finished yet");
    }

    #[test]
    fn a_run_shorter_than_an_interval_has_its_last_sample() {
        let dir = tempfile::tempdir().unwrap();
        let sampler = Sampler::start(dir.path(), None, Default::default());
        std::thread::sleep(Duration::from_millis(100));
        drop(sampler);
        let rows = parse(&fs::read_to_string(dir.path().join(SYSTEM)).unwrap());
        assert_eq!(rows.len(), 1, "{rows:?}");
    }

    #[test]
    fn the_sampler_appends_rows_and_stops_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        // A resumed run whose last writer was killed mid-row.
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(sample(1.0, None)).unwrap();
        let mut before = w.into_inner().unwrap();
        before.extend_from_slice(b"1000000002.5,");
        fs::write(dir.path().join(SYSTEM), &before).unwrap();
        let activity = Arc::new(Activity::default());
        let sampler = Sampler::start(dir.path(), None, Arc::clone(&activity));
        let started = Instant::now();
        while read(dir.path()).rows.len() < 2 {
            assert!(started.elapsed() < 4 * INTERVAL, "no sample written");
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(sampler);
        let text = fs::read_to_string(dir.path().join(SYSTEM)).unwrap();
        assert!(
            text.contains("\n1000000002.5,\n"),
            "the torn line is ended: {text}"
        );
        let samples = read(dir.path());
        assert_eq!(
            samples.rows[0],
            sample(1.0, None),
            "the earlier rows are kept"
        );
        assert_eq!(samples.rows[1].doing, "starting: no batch finished yet");
        assert!(samples.age.unwrap() < Duration::from_secs(5));
        let after = fs::metadata(dir.path().join(SYSTEM)).unwrap().len();
        std::thread::sleep(INTERVAL + Duration::from_millis(300));
        let later = fs::metadata(dir.path().join(SYSTEM)).unwrap().len();
        assert_eq!(after, later, "a dropped sampler writes no more");
    }
}
