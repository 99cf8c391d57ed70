//! Runs the `training` benchmark group and prints its table, until the
//! `echolab bench` command exists:
//! `cargo test --release --test pretrain_bench -- --ignored --nocapture`.

use echolab::bench::{groups, Bench};

#[test]
#[ignore = "a benchmark: about a minute on two cores; run it explicitly"]
fn training_benchmark_group_records_a_positive_speed_for_every_preset() {
    let group = groups()
        .into_iter()
        .find(|group| group.name == "training")
        .unwrap();
    let mut bench = Bench::new();
    (group.run)(&mut bench).unwrap();
    println!("{}", bench.render());
    let speeds: Vec<f64> = bench
        .rows()
        .iter()
        .filter(|row| row.unit == "tokens/s")
        .map(|row| row.value)
        .collect();
    assert_eq!(speeds.len(), 3);
    assert!(speeds.iter().all(|&speed| speed > 0.0 && speed.is_finite()));
}
