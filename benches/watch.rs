//! What `lnmc watch DIR` costs on a big sweep: DIR holds N finished runs of 150 epochs, read
//! again every second as watch does. Prints the time of the first read and of each later one
//! (the share of a core at one read a second), and this process's resident memory after.
//!
//! cargo bench --bench watch [-- N]   (N runs, default 2000)

mod common;

use lnmc::run::catalog;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().expect("temporary folder");
    let config: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/config.json")).expect("config");
    let header = "epoch,train_loss,train_acc,val_loss,val_acc,val_f1,val_auc,val_bal_acc,val_pr_auc,val_nodule_acc,val_nodule_f1,val_nodule_auc,lr,seconds,samples_per_s\n";
    for k in 0..n {
        let run = dir.path().join(format!("run-{k:04}"));
        std::fs::create_dir_all(&run).expect("run folder");
        let mut c = config.clone();
        c["name"] = format!("run-{k:04}").into();
        c["hyper"]["epochs"] = 150.into();
        std::fs::write(run.join("config.json"), c.to_string()).expect("config");
        let mut rows = header.to_string();
        for e in 1..=150 {
            rows.push_str(&format!(
                "{e},0.{:04},0.81,0.{:04},0.8{},0.77,0.88,0.8,0.8,,,,0.001,1.2,800.5\n",
                5000 + k % 100,
                4000 + e,
                e % 10
            ));
        }
        std::fs::write(run.join("metrics.csv"), rows).expect("metrics");
        std::fs::write(
            run.join("end.json"),
            r#"{"ended":"finished","epoch":150,"time":"t"}"#,
        )
        .expect("end");
    }
    let start = std::time::Instant::now();
    let first = catalog::runs(dir.path());
    let first_ms = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(first.len(), n);
    drop(first);
    let times = common::time_ms(1, 10, |_| {
        std::hint::black_box(catalog::runs(dir.path()));
    });
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let rss = lnmc::data::memory::peak_rss().unwrap_or(0);
    println!(
        "watch of {n} finished runs of 150 epochs: first read {first_ms:.0} ms; each later read {} = {:.1} % of a core at one a second; peak resident {} MB",
        common::summary(times),
        mean / 10.0,
        rss / 1_000_000
    );
}
