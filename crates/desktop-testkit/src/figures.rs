//! The figures benches print: `FIGURE<TAB>key<TAB>median<TAB>min<TAB>max<TAB>unit` lines that
//! `scripts/bench` turns into its table, and a line for people on stderr.

use std::time::Instant;

/// Median, minimum and maximum of `samples` (not empty).
pub fn spread(samples: &mut [f64]) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    let middle = samples.len() / 2;
    let median = if samples.len().is_multiple_of(2) {
        (samples[middle - 1] + samples[middle]) / 2.0
    } else {
        samples[middle]
    };
    (median, samples[0], samples[samples.len() - 1])
}

/// Prints one figure for `scripts/bench` and a line for people.
pub fn report(key: &str, unit: &str, samples: &mut [f64]) {
    let (median, min, max) = spread(samples);
    println!("FIGURE\t{key}\t{median:.4}\t{min:.4}\t{max:.4}\t{unit}");
    eprintln!(
        "{key}: median {median:.3} {unit} (min {min:.3}, max {max:.3}; {} runs)",
        samples.len()
    );
}

/// Milliseconds since `start`.
pub fn millis_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(spread(&mut [4.0, 1.0, 3.0, 2.0]), (2.5, 1.0, 4.0));
        assert_eq!(spread(&mut [5.0, 1.0, 3.0]), (3.0, 1.0, 5.0));
    }
}
