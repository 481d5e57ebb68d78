//! runs/NAME/system.csv: what the machine did while the run trained, one row a sample, flushed
//! as it is taken, so that a `watch` on another host reads it as the writer's own screen does.
//!
//! The writer's `Sampler` thread reads the process's CPU time, memory and threads from /proc
//! and, when the run trains on an NVIDIA GPU, the GPU's use, memory, temperature and power
//! through NVML (libnvidia-ml.so is opened at run time, so a machine without it only lacks those
//! columns). The training loop tells it through `Activity` what it is doing and when it last
//! finished a batch: that is what a reader needs to tell a stalled run from a slow one.

use std::collections::VecDeque;
use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::SYSTEM;
use crate::files::{stamp, ReadCache};

/// How often the writer samples.
pub const INTERVAL: Duration = Duration::from_secs(2);
/// A run is stalled when it has finished no batch for this many times its recent median time
/// between batches…
pub const STALL_FACTOR: f64 = 10.0;
/// …and for at least this long: a validation pass or a checkpoint save is not a stall.
pub const STALL_FLOOR: Duration = Duration::from_secs(60);
/// Progress intervals the median is taken over.
const RECENT_STEPS: usize = 32;

/// One sample, one row of system.csv. GPU columns are empty where the run has no NVIDIA GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since 1970 (UTC), when the sample was taken.
    pub time: f64,
    /// CPU time of the process over the last interval, in % of the cores it may use (its
    /// affinity and cgroup quota): 100 is all of them busy.
    pub cpu_percent: f64,
    /// The cores it may use.
    pub cores: usize,
    /// Resident memory now, and the most it has held, in MiB.
    pub rss_mib: f64,
    pub peak_rss_mib: f64,
    pub threads: u32,
    /// Share of the last NVML sample period in which a kernel ran on the GPU (the whole GPU,
    /// not this process alone).
    pub gpu_percent: Option<f64>,
    pub gpu_memory_mib: Option<f64>,
    pub gpu_memory_total_mib: Option<f64>,
    pub gpu_temperature_c: Option<f64>,
    pub gpu_power_w: Option<f64>,
    /// What the training loop was last doing ("epoch 2: batch 17/84 done").
    pub doing: String,
    /// Seconds since the loop last finished a batch or moved to another step.
    pub idle_s: f64,
    /// The median of its recent times a batch (empty before one was timed).
    pub step_s: Option<f64>,
}

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
    fn read(&self) -> (Doing, f64, Option<f64>) {
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

/// The process's own counters, as /proc has them.
#[derive(Debug, Clone, Copy)]
struct Counters {
    /// CPU time, user and system, in seconds.
    cpu_s: f64,
    at: Instant,
    threads: u32,
    rss_kib: u64,
    peak_kib: u64,
}

fn read_counters() -> Option<Counters> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, num_threads 20 (proc(5)).
    let ticks = |k: usize| fields.get(k - 3)?.parse::<u64>().ok();
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
    };
    Some(Counters {
        cpu_s: (ticks(14)? + ticks(15)?) as f64 / per_second,
        at: Instant::now(),
        threads: ticks(20)? as u32,
        rss_kib: kib("VmRSS:")?,
        peak_kib: kib("VmHWM:")?,
    })
}

/// The GPU a run trains on, through NVML.
struct Gpu {
    nvml: nvml_wrapper::Nvml,
    /// The NVML name of the CUDA device: its index or UUID.
    id: GpuId,
}

enum GpuId {
    Index(u32),
    Uuid(String),
}

impl Gpu {
    /// CUDA device `cuda` of this process, or None where NVML cannot be opened or does not
    /// know it. NVML numbers every GPU of the machine; CUDA only those CUDA_VISIBLE_DEVICES
    /// lets through, in its order.
    fn open(cuda: usize) -> Option<Gpu> {
        let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
        let id = match visible.as_deref().map(|v| v.split(',').nth(cuda)) {
            Some(Some(entry)) => match entry.trim().parse::<u32>() {
                Ok(index) => GpuId::Index(index),
                Err(_) => GpuId::Uuid(entry.trim().to_string()),
            },
            Some(None) => return None,
            None => GpuId::Index(cuda as u32),
        };
        let nvml = nvml_wrapper::Nvml::init().ok()?;
        let gpu = Gpu { nvml, id };
        gpu.device().ok()?;
        Some(gpu)
    }

    fn device(&self) -> Result<nvml_wrapper::Device<'_>, nvml_wrapper::error::NvmlError> {
        match &self.id {
            GpuId::Index(i) => self.nvml.device_by_index(*i),
            GpuId::Uuid(u) => self.nvml.device_by_uuid(u.as_str()),
        }
    }

    /// (use %, memory used MiB, memory total MiB, °C, W); a value NVML refuses stays empty.
    fn read(&self) -> [Option<f64>; 5] {
        let Ok(d) = self.device() else {
            return [None; 5];
        };
        let memory = d.memory_info().ok();
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        [
            d.utilization_rates().ok().map(|u| u.gpu as f64),
            memory.as_ref().map(|m| mib(m.used)),
            memory.as_ref().map(|m| mib(m.total)),
            d.temperature(nvml_wrapper::enum_wrappers::device::TemperatureSensor::Gpu)
                .ok()
                .map(f64::from),
            d.power_usage().ok().map(|mw| mw as f64 / 1000.0),
        ]
    }
}

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

/// The complete rows of a system.csv, oldest first; unparsable lines (a torn row of a killed
/// writer) are skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    // A line without its newline may still be being written.
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(complete.as_bytes())
        .deserialize()
        .filter_map(|r| r.ok())
        .collect()
}

/// The samples of a run and how long ago its writer last wrote one.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    pub rows: Arc<Vec<Sample>>,
    /// Since the file was last written (None: no file).
    pub age: Option<Duration>,
}

impl Samples {
    pub fn last(&self) -> Option<&Sample> {
        self.rows.last()
    }

    /// The stall of a run known to be running.
    pub fn stall(&self, given: Option<Duration>) -> Option<Stall> {
        stall(self.last()?, self.age?, given)
    }
}

/// Each run's samples, read again only when its system.csv changes.
static CACHE: ReadCache<Vec<Sample>, 1> = ReadCache::new();

/// The samples of `run_dir`, read again only when the file has changed.
pub fn read(run_dir: &Path) -> Samples {
    let path = run_dir.join(SYSTEM);
    let stamp = stamp(&path);
    let Some((_, modified)) = stamp else {
        return Samples::default();
    };
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default();
    let rows = CACHE.get(&path, [stamp], || {
        Some(fs::read_to_string(&path).map_or_else(|_| Vec::new(), |t| parse(&t)))
    });
    Samples {
        rows: rows.unwrap_or_default(),
        age: Some(age),
    }
}

/// A quantity of the samples a chart or a column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    Cpu,
    Memory,
    Gpu,
    GpuMemory,
}

impl Quantity {
    /// Its name in charts and `export --metric`: the system.csv column it comes from.
    pub fn name(self) -> &'static str {
        match self {
            Quantity::Cpu => "cpu_percent",
            Quantity::Memory => "rss_mib",
            Quantity::Gpu => "gpu_percent",
            Quantity::GpuMemory => "gpu_memory_mib",
        }
    }

    pub fn value(self, s: &Sample) -> Option<f64> {
        match self {
            Quantity::Cpu => Some(s.cpu_percent),
            Quantity::Memory => Some(s.rss_mib),
            Quantity::Gpu => s.gpu_percent,
            Quantity::GpuMemory => s.gpu_memory_mib,
        }
    }

    /// (minutes since the first sample, value) of each sample that has one.
    pub fn points(self, rows: &[Sample]) -> Vec<(f64, f64)> {
        let Some(first) = rows.first() else {
            return Vec::new();
        };
        rows.iter()
            .filter_map(|s| {
                let v = self.value(s).filter(|v| v.is_finite())?;
                Some(((s.time - first.time) / 60.0, v))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(idle_s: f64, step_s: Option<f64>) -> Sample {
        Sample {
            time: 1.0e9,
            cpu_percent: 50.0,
            cores: 2,
            rss_mib: 100.0,
            peak_rss_mib: 120.0,
            threads: 3,
            gpu_percent: None,
            gpu_memory_mib: None,
            gpu_memory_total_mib: None,
            gpu_temperature_c: None,
            gpu_power_w: None,
            doing: "epoch 2: batch 3/10 done".into(),
            idle_s,
            step_s,
        }
    }

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

    #[test]
    fn rows_round_trip_and_torn_lines_are_skipped() {
        let rows = [sample(1.0, Some(0.1)), sample(2.0, None)];
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in &rows {
            w.serialize(r).unwrap();
        }
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let header = text.lines().next().unwrap().to_string();
        assert!(
            header.starts_with("time,cpu_percent,cores,rss_mib"),
            "{header}"
        );
        assert_eq!(parse(&text), rows);
        // A writer killed mid-row, then resumed: the torn row is lost, the rest kept.
        let body: Vec<&str> = text.lines().skip(1).collect();
        let torn = format!("{header}\n{}\n{}\n{}\n", body[0], &body[1][..9], body[1]);
        assert_eq!(parse(&torn), rows);
        assert_eq!(parse(&text[..text.len() - 3]), rows[..1]);
    }

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
