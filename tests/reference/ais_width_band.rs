//! The band of tests/ais.rs `interval_shrinks_like_one_over_sqrt_runs`: the test's
//! measurement repeated with 30 other sets of seeds.
//!
//! The test trains a 64 x 16 CD-1 model on the binarised digits (50 epochs, seed 16), and
//! measures the relative half-width of the AIS interval in w-space, `exp(log_z_upper -
//! log_z) - 1`, with a 1000-temperature schedule: averaged over 16 seeds at M = 25 runs and
//! over 4 seeds at M = 400; their ratio should be sqrt(400 / 25) = 4. This program repeats that
//! measurement with the seeds of repetition r (r = 1..=30; r = 0 are the test's own seeds:
//! 1000 + 16 r + s at M = 25, 2000 + 4 r + s at M = 400) and prints the ratios, their mean,
//! standard deviation and range, and the band `mean +- 4 sd` (rounded outwards to one decimal)
//! that the test asserts.
//!
//!     cargo run --release --example ais_width_band
//!
//! About a minute on one core.

use emf_rbm::data::Dataset;
use emf_rbm::estimate::ais::{Ais, AisBase, AisConfig, BetaSchedule};
use emf_rbm::train::{Method, MonitorConfig, TrainConfig, Trainer};

/// The test's model (tests/ais.rs `train(&data, 16, Method::Cd { k: 1 }, 50)`).
fn model(data: &Dataset) -> emf_rbm::Rbm<f64> {
    let nh = 16;
    let cfg = TrainConfig::builder()
        .n_hidden(nh)
        .method(Method::Cd { k: 1 })
        .epochs(50)
        .learning_rate(0.05)
        .seed(nh as u64)
        .monitor(MonitorConfig {
            every: 0,
            ..MonitorConfig::default()
        })
        .build()
        .expect("a valid configuration");
    Trainer::<f64>::new(cfg)
        .fit(data, None)
        .expect("training succeeds")
        .rbm
}

fn main() -> emf_rbm::Result<()> {
    let data = Dataset::digits().binarize(0.5);
    let base = AisBase::from_data(&data, 0.05)?;
    let rbm = model(&data);
    let rel_half = |runs: usize, seed: u64| -> emf_rbm::Result<f64> {
        let e = Ais::new(AisConfig {
            schedule: BetaSchedule::Count(1000),
            runs,
            seed,
            ..AisConfig::default()
        })?
        .estimate(&rbm, &base)?;
        Ok((e.log_z_upper - e.log_z).exp() - 1.0)
    };
    let ratio = |r: u64| -> emf_rbm::Result<f64> {
        let mut small = 0.0;
        for s in 0..16 {
            small += rel_half(25, 1000 + 16 * r + s)? / 16.0;
        }
        let mut large = 0.0;
        for s in 0..4 {
            large += rel_half(400, 2000 + 4 * r + s)? / 4.0;
        }
        Ok(small / large)
    };
    println!("the test's seeds (r = 0): ratio {:.3}", ratio(0)?);
    let mut ratios = Vec::new();
    for r in 1..=30 {
        let x = ratio(r)?;
        println!("r = {r:2}: ratio {x:.3}");
        ratios.push(x);
    }
    let n = ratios.len() as f64;
    let mean = ratios.iter().sum::<f64>() / n;
    let sd = (ratios.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let (lo, hi) = ratios
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    println!("30 repetitions: mean {mean:.2}, sd {sd:.2}, range {lo:.2}..{hi:.2}");
    println!(
        "band mean +- 4 sd = [{:.1}, {:.1}]",
        ((mean - 4.0 * sd) * 10.0).floor() / 10.0,
        ((mean + 4.0 * sd) * 10.0).ceil() / 10.0
    );
    Ok(())
}
