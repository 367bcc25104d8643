//! L2-regularised logistic regression, fitted by Newton's method, and the
//! area under the ROC curve that judges it.
//!
//! Small and dependency-free on purpose: a lead model has tens of features,
//! so each Newton step is one d×d system (Cholesky), and a fit over 100,000
//! contacts converges in a handful of passes over the data. The crates that
//! offer this (linfa-logistic, smartcore) bring an ndarray or BLAS stack
//! heavier than the whole model.

/// A fitted model over standardised features: `p = σ(intercept + w·z)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub intercept: f64,
    pub weights: Vec<f64>,
    /// Newton steps taken.
    pub steps: usize,
}

/// The penalty on the weights (not the intercept), in the units of the
/// summed log-loss: with a few dozen contacts it keeps the weights modest,
/// with a hundred thousand it hardly matters.
pub const DEFAULT_L2: f64 = 1.0;
const MAX_STEPS: usize = 50;
const TOLERANCE: f64 = 1e-8;

pub fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// Fits `rows` (each of the same width) to `won`. Newton's method on the
/// penalised log-likelihood, which is strictly concave, so it converges to
/// the one optimum; a step that would not improve it is halved.
pub fn fit(rows: &[Vec<f64>], won: &[bool], l2: f64) -> Fit {
    assert_eq!(rows.len(), won.len());
    let d = rows.first().map_or(0, Vec::len) + 1; // the intercept first
    let mut beta = vec![0.0; d];
    let mut objective = penalised_loss(rows, won, &beta, l2);
    let mut steps = 0;
    while steps < MAX_STEPS {
        steps += 1;
        // Gradient g and Hessian H of the loss (to minimise).
        let mut g = vec![0.0; d];
        let mut h = vec![0.0; d * d];
        let mut x = vec![0.0; d];
        for (row, &y) in rows.iter().zip(won) {
            x[0] = 1.0;
            x[1..].copy_from_slice(row);
            let p = sigmoid(dot(&beta, &x));
            let r = p - if y { 1.0 } else { 0.0 };
            let w = (p * (1.0 - p)).max(1e-12);
            for i in 0..d {
                g[i] += r * x[i];
                let wx = w * x[i];
                for j in 0..=i {
                    h[i * d + j] += wx * x[j];
                }
            }
        }
        for i in 1..d {
            g[i] += l2 * beta[i];
            h[i * d + i] += l2;
        }
        // The intercept is not penalised; a tiny ridge keeps H definite
        // when every row has the same outcome.
        h[0] += 1e-9;
        for i in 0..d {
            for j in 0..i {
                h[j * d + i] = h[i * d + j];
            }
        }
        let Some(step) = solve(&mut h, &g, d) else { break };
        let mut scale = 1.0;
        let mut next;
        loop {
            next = beta.iter().zip(&step).map(|(b, s)| b - scale * s).collect::<Vec<_>>();
            let o = penalised_loss(rows, won, &next, l2);
            if o <= objective || scale < 1e-6 {
                objective = o;
                break;
            }
            scale /= 2.0;
        }
        let moved = step.iter().map(|s| (s * scale).abs()).fold(0.0, f64::max);
        beta = next;
        if moved < TOLERANCE {
            break;
        }
    }
    Fit {
        intercept: beta[0],
        weights: beta[1..].to_vec(),
        steps,
    }
}

impl Fit {
    pub fn probability(&self, row: &[f64]) -> f64 {
        sigmoid(self.intercept + dot(&self.weights, row))
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn penalised_loss(rows: &[Vec<f64>], won: &[bool], beta: &[f64], l2: f64) -> f64 {
    let mut loss = 0.0;
    for (row, &y) in rows.iter().zip(won) {
        let t = beta[0] + dot(&beta[1..], row);
        // log(1 + e^t) − y·t, written so that neither branch overflows.
        let softplus = if t > 0.0 {
            t + (-t).exp().ln_1p()
        } else {
            t.exp().ln_1p()
        };
        loss += softplus - if y { t } else { 0.0 };
    }
    loss + 0.5 * l2 * beta[1..].iter().map(|b| b * b).sum::<f64>()
}

/// Solves `a·x = b` for a symmetric positive-definite `a` (row-major d×d,
/// overwritten by its Cholesky factor). None when `a` is not definite.
fn solve(a: &mut [f64], b: &[f64], d: usize) -> Option<Vec<f64>> {
    for j in 0..d {
        let mut s = a[j * d + j];
        for k in 0..j {
            s -= a[j * d + k] * a[j * d + k];
        }
        if s <= 0.0 || !s.is_finite() {
            return None;
        }
        let l = s.sqrt();
        a[j * d + j] = l;
        for i in j + 1..d {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = s / l;
        }
    }
    let mut y = vec![0.0; d];
    for i in 0..d {
        let s: f64 = (0..i).map(|k| a[i * d + k] * y[k]).sum();
        y[i] = (b[i] - s) / a[i * d + i];
    }
    let mut x = vec![0.0; d];
    for i in (0..d).rev() {
        let s: f64 = (i + 1..d).map(|k| a[k * d + i] * x[k]).sum();
        x[i] = (y[i] - s) / a[i * d + i];
    }
    Some(x)
}

/// The area under the ROC curve: the chance that a random Won contact
/// scores above a random Lost one (ties count half). None without both.
pub fn auc(scores: &[f64], won: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mann–Whitney U from average ranks, so ties are handled exactly.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += (i..=j).filter(|&k| won[order[k]]).count() as f64 * average;
        i = j + 1;
    }
    let positives = won.iter().filter(|w| **w).count() as f64;
    let negatives = won.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so the tests need no crate.
    struct Rng(u64);
    impl Rng {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (u, v) = (self.unit().max(1e-12), self.unit());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    #[test]
    fn auc_of_perfect_reversed_and_tied_scores() {
        let won = [false, false, true, true];
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &won), Some(1.0));
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &won), Some(0.0));
        assert_eq!(auc(&[0.5; 4], &won), Some(0.5));
        // One Won above one Lost, tied with the other: (1 + 0.5 + 1 + 1) / 4.
        assert_eq!(auc(&[0.1, 0.5, 0.5, 0.9], &won), Some(0.875));
        assert_eq!(auc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn a_fit_recovers_the_weights_that_made_the_data() {
        let mut rng = Rng(42);
        let truth = [1.5, -1.0, 0.0];
        let (mut rows, mut won) = (Vec::new(), Vec::new());
        for _ in 0..20_000 {
            let x: Vec<f64> = (0..3).map(|_| rng.normal()).collect();
            let p = sigmoid(-0.5 + dot(&truth, &x));
            won.push(rng.unit() < p);
            rows.push(x);
        }
        let fit = fit(&rows, &won, DEFAULT_L2);
        assert!((fit.intercept + 0.5).abs() < 0.08, "{fit:?}");
        for (w, t) in fit.weights.iter().zip(truth) {
            assert!((w - t).abs() < 0.08, "{fit:?}");
        }
        assert!(fit.steps < 15, "{fit:?}");
    }

    #[test]
    fn at_the_optimum_the_penalised_gradient_is_zero() {
        let mut rng = Rng(7);
        let rows: Vec<Vec<f64>> = (0..300).map(|_| vec![rng.normal(), rng.normal()]).collect();
        let won: Vec<bool> = rows.iter().map(|r| rng.unit() < sigmoid(r[0] - r[1])).collect();
        let l2 = 5.0;
        let f = fit(&rows, &won, l2);
        let mut g = [0.0; 3];
        for (r, &y) in rows.iter().zip(&won) {
            let e = f.probability(r) - if y { 1.0 } else { 0.0 };
            g[0] += e;
            g[1] += e * r[0];
            g[2] += e * r[1];
        }
        g[1] += l2 * f.weights[0];
        g[2] += l2 * f.weights[1];
        assert!(g.iter().all(|x| x.abs() < 1e-6), "{g:?}");
    }

    #[test]
    fn separable_data_stays_finite_thanks_to_the_penalty() {
        let rows: Vec<Vec<f64>> = (0..40).map(|i| vec![i as f64 / 10.0 - 2.0]).collect();
        let won: Vec<bool> = (0..40).map(|i| i >= 20).collect();
        let f = fit(&rows, &won, DEFAULT_L2);
        assert!(f.weights[0].is_finite() && f.weights[0] > 1.0, "{f:?}");
        let scores: Vec<f64> = rows.iter().map(|r| f.probability(r)).collect();
        assert_eq!(auc(&scores, &won), Some(1.0));
    }

    #[test]
    fn one_outcome_only_gives_a_finite_model() {
        let rows = vec![vec![1.0], vec![2.0]];
        let f = fit(&rows, &[true, true], DEFAULT_L2);
        assert!(f.intercept.is_finite() && f.weights[0].is_finite());
    }
}
