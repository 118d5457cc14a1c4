//! Is a difference between two distributions more than noise? The
//! two-sample Kolmogorov–Smirnov test, on the histograms themselves.
use hdrhistogram::Histogram;

/// The KS statistic D (largest gap between the two cumulative
/// distributions) and its asymptotic p-value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ks {
    /// The largest gap between the two cumulative distributions, 0 to 1.
    pub d: f64,
    /// The chance of a gap this large if both samples came from one
    /// distribution: small means a real change.
    pub p: f64,
}

/// `Q_KS(λ) = 2 Σ (-1)^(j-1) e^(-2 j² λ²)`, the Kolmogorov distribution's tail.
fn q_ks(lambda: f64) -> f64 {
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    for j in 1..=100 {
        let j = f64::from(j);
        let term = (-2.0 * j * j * lambda * lambda).exp();
        sum += if j as u32 % 2 == 1 { term } else { -term };
        if term < 1e-12 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// None when either side is empty: nothing to test.
pub fn ks(a: &Histogram<u64>, b: &Histogram<u64>) -> Option<Ks> {
    let (n, m) = (a.len() as f64, b.len() as f64);
    if n == 0.0 || m == 0.0 {
        return None;
    }
    // Walk both distributions' recorded values in order.
    let mut xs: Vec<(u64, f64, f64)> = Vec::new();
    for v in a.iter_recorded() {
        xs.push((v.value_iterated_to(), v.count_at_value() as f64 / n, 0.0));
    }
    for v in b.iter_recorded() {
        xs.push((v.value_iterated_to(), 0.0, v.count_at_value() as f64 / m));
    }
    xs.sort_by_key(|x| x.0);
    let (mut fa, mut fb, mut d) = (0.0f64, 0.0f64, 0.0f64);
    let mut i = 0;
    while i < xs.len() {
        let v = xs[i].0;
        while i < xs.len() && xs[i].0 == v {
            fa += xs[i].1;
            fb += xs[i].2;
            i += 1;
        }
        d = d.max((fa - fb).abs());
    }
    let ne = n * m / (n + m);
    let lambda = (ne.sqrt() + 0.12 + 0.11 / ne.sqrt()) * d;
    Some(Ks { d, p: q_ks(lambda) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = Histogram::new(3).unwrap();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    // A deterministic spread around a centre: no random source needed.
    fn around(centre: u64, n: u64) -> impl Iterator<Item = u64> {
        (0..n).map(move |i| centre + (i * 7919 % 1000) * centre / 10_000)
    }

    #[test]
    fn the_same_distribution_is_not_a_change() {
        let r = ks(&hist(around(5_000_000, 400)), &hist(around(5_000_000, 300))).unwrap();
        assert!(r.p > 0.05, "{r:?}");
    }

    #[test]
    fn a_shift_of_a_few_percent_is_a_change() {
        let r = ks(&hist(around(5_000_000, 400)), &hist(around(5_400_000, 400))).unwrap();
        assert!(r.d > 0.5 && r.p < 0.001, "{r:?}");
    }

    #[test]
    fn small_samples_do_not_call_noise_a_change() {
        let r = ks(&hist([5_000_000, 5_100_000]), &hist([5_050_000, 5_150_000])).unwrap();
        assert!(r.p > 0.05, "{r:?}");
        assert!(ks(&hist([]), &hist([1])).is_none());
    }

    #[test]
    fn the_tail_function_is_the_kolmogorov_distribution() {
        // Q_KS(1.36) is the classic 5 % point, Q_KS(1.63) the 1 % point.
        assert!((q_ks(1.36) - 0.049).abs() < 0.002);
        assert!((q_ks(1.63) - 0.0098).abs() < 0.001);
    }
}
