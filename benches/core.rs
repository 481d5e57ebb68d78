//! Micro-benchmarks of the ML core's host-side steps, each on the upstream-sized synthetic set
//! held in memory: the per-patch percentile rescale, assembling a training batch, the
//! validation metrics (confusion matrix, F1, ROC-AUC), and one sample of system.csv.
//!
//! cargo bench --bench core

mod common;

use lnmc::data::intensity::Intensity;
use lnmc::data::synth;
use lnmc::inference::Patches;
use lnmc::metrics;
use lnmc::model::channels_last;
use tch::{Device, Kind, Tensor};

fn main() {
    let options = synth::Options {
        n: 6691,
        seed: 0,
        with_ids: false,
        ..Default::default()
    };
    let data = synth::in_memory(&options, "synthetic.hdf5".as_ref());
    println!(
        "ML core on {} synthetic patches of {}×{}",
        data.len(),
        data.height,
        data.width
    );

    let rescale = Intensity::default();
    let times = common::time_ms(2, 20, |_| {
        std::hint::black_box(rescale.windows(&data.pixels, data.pixels()));
    });
    println!(
        "windows, whole set (2–98 percentile)  {}",
        common::summary(times)
    );

    let mut data = data;
    let patches = Patches::new(&mut data, &rescale, Device::Cpu, 1).expect("pixels in memory");
    let order = Tensor::randperm(data.len() as i64, (Kind::Int64, Device::Cpu));
    let times = common::time_ms(10, 1000, |i| {
        let idx = order.narrow(0, (i * 64 % (data.len() - 64)) as i64, 64);
        let _ = std::hint::black_box(channels_last(&patches.batch(&idx)));
    });
    println!(
        "training batch of 64 (index + rescale) {}",
        common::summary(times)
    );

    let scores: Vec<f64> = (0..data.len())
        .map(|i| ((i * 7919) % 1000) as f64 / 1000.0)
        .collect();
    let times = common::time_ms(10, 200, |_| {
        std::hint::black_box(metrics::metrics(&data.labels, &scores));
    });
    println!(
        "metrics + ROC-AUC over the whole set  {}",
        common::summary(times)
    );

    // The writer's sampler takes one sample every INTERVAL on a thread of its own: its share
    // of the training process's time is one sample's time over the interval.
    let activity = lnmc::run::system::Activity::default();
    let mut probe = lnmc::run::system::Probe::new(None);
    let times = common::time_ms(10, 1000, |_| {
        std::hint::black_box(probe.sample(&activity));
    });
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let interval_ms = lnmc::run::system::INTERVAL.as_secs_f64() * 1000.0;
    println!(
        "system sample (/proc, no GPU)         {} = {:.4} % of a core at one a {:.0} s",
        common::summary(times),
        100.0 * mean / interval_ms,
        interval_ms / 1000.0
    );
}
