//! Code the benchmarks share.
#![allow(dead_code)]

use std::time::Duration;

use criterion::Criterion;

#[path = "../../examples/common/fs.rs"]
pub mod fs;

/// Short runs: 30 samples after half a second of warm-up, two seconds of measurement.
pub fn short() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}
