//! How the forward AIS / RAISE bracket on the held-out log-likelihood narrows with the number
//! of temperatures, on small models (CD-1, PCD-1 and TAP2, 20 hidden units, the built-in
//! digits) whose exact likelihood is known: the evidence behind a schedule choice. Then the
//! adaptive schedule (doubling from 100 temperatures until the gap is below 0.1 nats with no
//! low effective sample size).
//!
//! `cargo run --release --example ais_bracket` (about 12 s on one core)

use std::time::Instant;

use emf_rbm::data::Dataset;
use emf_rbm::estimate::ais::{AisBase, AisConfig, BetaSchedule};
use emf_rbm::estimate::bracket::{adaptive_bracket, bracket, AdaptiveSchedule, Bracket};
use emf_rbm::estimate::exact;
use emf_rbm::estimate::raise::{scored_rows, select_rows, RaiseConfig};
use emf_rbm::train::{MonitorConfig, TrainConfig, Trainer};

fn row(label: &str, b: &Bracket, exact_ll: f64, seconds: f64) {
    let (a, r) = (&b.ais_log_likelihood, &b.raise);
    let flag = |low: bool| if low { "!" } else { " " };
    println!(
        "{label:>8} | {:>8.3} [{:>8.3}, {:>8.3}] {:>5.1}{} | {:>8.3} [{:>8.3}, {:>8.3}] {:>5.1}{} \
         | {:>7.3} | {:>+7.3} {:>+7.3} | {seconds:>5.1}",
        a.mean,
        a.lower,
        a.upper,
        b.ais.ess,
        flag(b.ais.low_ess()),
        r.log_likelihood,
        r.lower,
        r.upper,
        r.ess,
        flag(r.low_ess()),
        b.gap(),
        a.mean - exact_ll,
        r.log_likelihood - exact_ll,
    );
}

fn main() -> emf_rbm::Result<()> {
    let (train, test) = Dataset::digits().binarize(0.5).split(0.2, 1)?;
    let all = test.to_mat::<f64>();
    let v = select_rows(all.as_ref(), &scored_rows(all.nrows(), 200));
    let base = AisBase::from_data(&train, 0.05)?;
    let ais = AisConfig {
        seed: 1,
        ..AisConfig::default()
    };
    let raise = RaiseConfig {
        seed: 1,
        ..RaiseConfig::default()
    };
    println!(
        "{} held-out rows; AIS {} runs, RAISE {} chain per row; ESS: AIS of {} runs, RAISE of \
         the rows; !: low ESS",
        v.nrows(),
        ais.runs,
        raise.chains,
        ais.runs
    );
    for method in ["cd1", "pcd1", "tap2"] {
        let cfg = TrainConfig::builder()
            .n_hidden(20)
            .method(method.parse()?)
            .epochs(20)
            .seed(1)
            .monitor(MonitorConfig {
                every: 0,
                ..MonitorConfig::default()
            })
            .build()?;
        let rbm = Trainer::<f64>::new(cfg).fit(&train, None)?.rbm;
        let exact_ll = exact::mean_log_likelihood(&rbm, v.as_ref())?;
        println!("\n{method}: exact held-out LL {exact_ll:.3}");
        println!(
            "{:>8} | {:^37} | {:^37} | {:>7} | {:^15} | {:>5}",
            "K", "AIS LL [3 s.e.] ESS", "RAISE LL [3 s.e.] ESS", "gap", "errors AIS RAISE", "s"
        );
        for n in [30, 100, 300, 1000, 3000, 10_000, 14_500] {
            let t = Instant::now();
            let b = bracket(
                &rbm,
                &base,
                v.as_ref(),
                &ais,
                &raise,
                &BetaSchedule::Count(n),
            )?;
            row(&n.to_string(), &b, exact_ll, t.elapsed().as_secs_f64());
        }
        let target = AdaptiveSchedule {
            start: 100,
            max: 14_500,
            max_gap: 0.1,
        };
        let t = Instant::now();
        let steps = adaptive_bracket(&rbm, &base, v.as_ref(), &ais, &raise, &target)?;
        let last = steps.last().expect("at least one step");
        let label = format!("adapt{}", if last.met(&target) { "" } else { "?" });
        row(&label, last, exact_ll, t.elapsed().as_secs_f64());
        println!(
            "adaptive: {} steps, stopped at K = {} ({})",
            steps.len(),
            last.n_betas,
            if last.met(&target) {
                "target met"
            } else {
                "target NOT met at the cap"
            }
        );
    }
    Ok(())
}
