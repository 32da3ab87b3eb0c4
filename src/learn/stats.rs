//! Statistical tests used by the learning modules, on summary statistics.
//!
//! Every test takes the control arm first and the treatment arm second and reports the
//! difference as `treatment − control`. Distribution functions (Student's t, normal,
//! chi-square, beta, hypergeometric) come from `statrs`; nothing here re-implements a
//! special function. Reference values in the tests were computed with scipy 1.17.
//!
//! A function returns `None` when its statistic is undefined for the data (too few
//! observations, zero variance): callers report that as `null` with a reason, never NaN.

use serde::Serialize;
use statrs::distribution::{
    Beta, ChiSquared, ContinuousCDF, Discrete, Hypergeometric, Normal, StudentsT,
};

/// Count, mean and sample variance (n − 1) of a set of observations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Moments {
    /// Number of observations.
    pub n: u64,
    /// Mean (0 when `n` is 0).
    pub mean: f64,
    /// Sample variance with the n − 1 denominator (0 when `n` < 2).
    pub var: f64,
}

impl Moments {
    /// Moments of `values` (two-pass, so exact to rounding).
    pub fn from_slice(values: &[f64]) -> Moments {
        let n = values.len();
        if n == 0 {
            return Moments::default();
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Moments {
            n: n as u64,
            mean,
            var,
        }
    }

    /// Moments of `n` observations from their sum and sum of squares:
    /// `var = (Σx² − Σx·mean) / (n − 1)`, the product and difference rounded once (fused
    /// multiply-add), floored at 0. With exact sums (see
    /// [`ExactSum`](crate::learn::mergeable::ExactSum)) this is what merged statistics
    /// give; it agrees with [`Moments::from_slice`] to rounding unless the variance is
    /// tiny against the squared mean.
    pub fn from_sums(n: u64, sum: f64, sum_sq: f64) -> Moments {
        if n == 0 {
            return Moments::default();
        }
        let mean = sum / n as f64;
        let var = if n > 1 {
            ((-sum).mul_add(mean, sum_sq) / (n - 1) as f64).max(0.0)
        } else {
            0.0
        };
        Moments { n, mean, var }
    }

    /// Moments of `successes` ones among `n` zero-one observations.
    pub fn from_proportion(successes: u64, n: u64) -> Moments {
        if n == 0 {
            return Moments::default();
        }
        let p = successes as f64 / n as f64;
        let var = if n > 1 {
            // Σ(x − p)² = n·p·(1 − p) for zero-one data.
            n as f64 * p * (1.0 - p) / (n - 1) as f64
        } else {
            0.0
        };
        Moments { n, mean: p, var }
    }

    /// Sample standard deviation.
    pub fn std(&self) -> f64 {
        self.var.sqrt()
    }
}

/// A streaming accumulator of [`Moments`] (Welford 1962).
#[derive(Clone, Copy, Debug, Default)]
pub struct MomentsAccumulator {
    n: u64,
    mean: f64,
    m2: f64,
}

impl MomentsAccumulator {
    /// Adds one observation.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// The moments so far.
    pub fn moments(&self) -> Moments {
        Moments {
            n: self.n,
            mean: if self.n > 0 { self.mean } else { 0.0 },
            var: if self.n > 1 {
                self.m2 / (self.n - 1) as f64
            } else {
                0.0
            },
        }
    }
}

/// The result of a two-sample t-test of `treatment − control`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TTest {
    /// The t statistic.
    pub statistic: f64,
    /// Degrees of freedom (Welch–Satterthwaite for Welch's test, n₁ + n₂ − 2 pooled).
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// `treatment mean − control mean`.
    pub diff: f64,
    /// Standard error of `diff`.
    pub std_error: f64,
    /// Lower end of the two-sided confidence interval of `diff`.
    pub ci_low: f64,
    /// Upper end of the two-sided confidence interval of `diff`.
    pub ci_high: f64,
}

fn t_result(diff: f64, se: f64, df: f64, level: f64) -> Option<TTest> {
    // statrs' incomplete beta panics on NaN, so non-finite input stops here.
    if !(diff.is_finite() && se > 0.0 && se.is_finite() && df > 0.0 && df.is_finite()) {
        return None;
    }
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let statistic = diff / se;
    let p_value = (2.0 * dist.sf(statistic.abs())).min(1.0);
    let q = dist.inverse_cdf(0.5 + level / 2.0);
    Some(TTest {
        statistic,
        df,
        p_value,
        diff,
        std_error: se,
        ci_low: diff - q * se,
        ci_high: diff + q * se,
    })
}

/// Welch's unequal-variance t-test (Welch 1947), as `scipy.stats.ttest_ind(treatment,
/// control, equal_var=False)`, with a `level` (e.g. 0.95) confidence interval of the
/// difference on the Welch–Satterthwaite degrees of freedom.
///
/// `None` when either arm has fewer than 2 observations or both variances are 0.
pub fn welch_t_test(control: &Moments, treatment: &Moments, level: f64) -> Option<TTest> {
    if control.n < 2 || treatment.n < 2 {
        return None;
    }
    let (na, nb) = (control.n as f64, treatment.n as f64);
    let (va, vb) = (control.var / na, treatment.var / nb);
    let se2 = va + vb;
    let df = se2 * se2 / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
    t_result(treatment.mean - control.mean, se2.sqrt(), df, level)
}

/// Student's pooled-variance t-test, as `scipy.stats.ttest_ind(treatment, control)`
/// (the seed's test). `None` when n₁ + n₂ < 3 or the pooled variance is 0.
pub fn pooled_t_test(control: &Moments, treatment: &Moments, level: f64) -> Option<TTest> {
    let sp2 = pooled_variance(control, treatment)?;
    let (na, nb) = (control.n as f64, treatment.n as f64);
    let se = (sp2 * (1.0 / na + 1.0 / nb)).sqrt();
    t_result(treatment.mean - control.mean, se, na + nb - 2.0, level)
}

fn pooled_variance(a: &Moments, b: &Moments) -> Option<f64> {
    if a.n == 0 || b.n == 0 || a.n + b.n < 3 {
        return None;
    }
    let (na, nb) = (a.n as f64, b.n as f64);
    Some(((na - 1.0) * a.var + (nb - 1.0) * b.var) / (na + nb - 2.0))
}

/// Cohen's d of `treatment − control` with the pooled *sample* standard deviation
/// (Cohen 1988, eq. 2.5.2). The seed pooled numpy's population variances (`np.var`,
/// ddof 0) with n − 1 weights; fixloop uses sample variances throughout.
/// `None` when the pooled variance is 0 or undefined.
pub fn cohens_d(control: &Moments, treatment: &Moments) -> Option<f64> {
    let sp2 = pooled_variance(control, treatment)?;
    let d = (treatment.mean - control.mean) / sp2.sqrt();
    (sp2 > 0.0 && d.is_finite()).then_some(d)
}

/// The result of a two-proportion z-test of `treatment − control`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ProportionTest {
    /// The z statistic with the pooled standard error.
    pub statistic: f64,
    /// Two-sided p-value from the normal distribution.
    pub p_value: f64,
    /// `treatment rate − control rate`.
    pub diff: f64,
    /// Lower end of the Wald (unpooled) confidence interval of `diff`.
    pub ci_low: f64,
    /// Upper end of the Wald (unpooled) confidence interval of `diff`.
    pub ci_high: f64,
}

/// Two-proportion z-test with the pooled proportion under H₀ (equivalent to Pearson's
/// chi-square on the 2×2 table without continuity correction:
/// `scipy.stats.chi2_contingency(table, correction=False)`), plus a Wald interval.
///
/// A normal approximation: with fewer than 5 expected successes or failures in an arm
/// prefer [`fisher_exact`]. `None` when an arm is empty or all outcomes are equal.
pub fn two_proportion_z_test(
    control_successes: u64,
    control_n: u64,
    treatment_successes: u64,
    treatment_n: u64,
    level: f64,
) -> Option<ProportionTest> {
    if control_n == 0 || treatment_n == 0 {
        return None;
    }
    let (na, nb) = (control_n as f64, treatment_n as f64);
    let (pa, pb) = (
        control_successes as f64 / na,
        treatment_successes as f64 / nb,
    );
    let pooled = (control_successes + treatment_successes) as f64 / (na + nb);
    let se0 = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    if se0 <= 0.0 || !se0.is_finite() {
        return None;
    }
    let normal = Normal::standard();
    let diff = pb - pa;
    let statistic = diff / se0;
    let p_value = (2.0 * normal.sf(statistic.abs())).min(1.0);
    let se = (pa * (1.0 - pa) / na + pb * (1.0 - pb) / nb).sqrt();
    let q = normal.inverse_cdf(0.5 + level / 2.0);
    Some(ProportionTest {
        statistic,
        p_value,
        diff,
        ci_low: diff - q * se,
        ci_high: diff + q * se,
    })
}

/// Fisher's exact test on the 2×2 table (successes and failures per arm), two-sided by
/// summing the probabilities of all tables no more likely than the observed one, as
/// `scipy.stats.fisher_exact(table)` (with the same relative tolerance of 1e-7).
/// `None` when an arm is empty or the table is larger than `limit` observations in all
/// (the sum runs over every table with the same margins).
pub fn fisher_exact(
    control_successes: u64,
    control_n: u64,
    treatment_successes: u64,
    treatment_n: u64,
    limit: u64,
) -> Option<f64> {
    let total = control_n + treatment_n;
    if control_n == 0 || treatment_n == 0 || total > limit {
        return None;
    }
    let successes = control_successes + treatment_successes;
    // The count of successes in the treatment arm is hypergeometric given the margins.
    let dist = Hypergeometric::new(total, successes, treatment_n).ok()?;
    let lo = successes.saturating_sub(control_n);
    let hi = successes.min(treatment_n);
    let observed = dist.pmf(treatment_successes);
    let threshold = observed * (1.0 + 1e-7);
    let p: f64 = (lo..=hi)
        .map(|k| dist.pmf(k))
        .filter(|&pk| pk <= threshold)
        .sum();
    Some(p.min(1.0))
}

/// The result of a chi-square goodness-of-fit test.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ChiSquareTest {
    /// The chi-square statistic.
    pub statistic: f64,
    /// Degrees of freedom.
    pub df: f64,
    /// Upper-tail p-value.
    pub p_value: f64,
}

/// Sample-ratio-mismatch check: Pearson's chi-square goodness of fit of the counts of
/// sessions in each arm against the intended `treatment_ratio`, one degree of freedom, as
/// `scipy.stats.chisquare([control, treatment], f_exp=[N(1 − r), N·r])`.
/// `None` when there are no sessions or the ratio is not in (0, 1).
pub fn srm_chi_square(control: u64, treatment: u64, treatment_ratio: f64) -> Option<ChiSquareTest> {
    let total = (control + treatment) as f64;
    if total == 0.0 || !(treatment_ratio > 0.0 && treatment_ratio < 1.0) {
        return None;
    }
    let expected = [total * (1.0 - treatment_ratio), total * treatment_ratio];
    let observed = [control as f64, treatment as f64];
    let statistic: f64 = observed
        .iter()
        .zip(expected)
        .map(|(o, e)| (o - e) * (o - e) / e)
        .sum();
    let dist = ChiSquared::new(1.0).ok()?;
    Some(ChiSquareTest {
        statistic,
        df: 1.0,
        p_value: dist.sf(statistic),
    })
}

/// A beta distribution summarised: its parameters, mean and an equal-tailed interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BetaSummary {
    /// First shape parameter (prior + successes).
    pub alpha: f64,
    /// Second shape parameter (prior + failures).
    pub beta: f64,
    /// Mean α / (α + β).
    pub mean: f64,
    /// Lower end of the equal-tailed credible interval.
    pub low: f64,
    /// Upper end of the equal-tailed credible interval.
    pub high: f64,
}

/// Mean and equal-tailed `level` interval (e.g. 0.9) of Beta(α, β), from statrs'
/// inverse regularised incomplete beta. `None` unless α, β > 0 and finite.
pub fn beta_summary(alpha: f64, beta: f64, level: f64) -> Option<BetaSummary> {
    let dist = Beta::new(alpha, beta).ok()?;
    let tail = (1.0 - level) / 2.0;
    Some(BetaSummary {
        alpha,
        beta,
        mean: alpha / (alpha + beta),
        low: dist.inverse_cdf(tail),
        high: dist.inverse_cdf(1.0 - tail),
    })
}

/// The posterior of a rate after `successes` in `n` trials under the uniform prior
/// Beta(1, 1), with a 90 % equal-tailed interval: the evidence behind a rate.
pub fn rate_posterior(successes: u64, n: u64) -> Option<BetaSummary> {
    beta_summary(
        1.0 + successes as f64,
        1.0 + n.saturating_sub(successes) as f64,
        0.9,
    )
}

/// The default tuning sample size N* of the anytime-valid confidence sequence
/// (GrowthBook's default).
pub const DEFAULT_TUNING_N: f64 = 5000.0;

/// An anytime-valid test of `treatment − control`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AnytimeTest {
    /// Anytime-valid p-value: the probability bound that holds however often one looks.
    pub p_value: f64,
    /// Lower end of the confidence sequence at the chosen α.
    pub ci_low: f64,
    /// Upper end of the confidence sequence at the chosen α.
    pub ci_high: f64,
    /// The mixing parameter ρ derived from α and N*.
    pub rho: f64,
}

/// Asymptotic confidence sequence for a difference of means (Waudby-Smith, Arnold, Wu,
/// Howard, Ramdas & Wang 2023, "Time-uniform central limit theory and asymptotic
/// confidence sequences", eq. 9 with ρ from their eq. 161), parametrised as GrowthBook's
/// `SequentialTwoSidedTTest`:
///
/// ```text
/// N  = n_control + n_treatment,   V = s²_c/n_c + s²_t/n_t (variance of the difference)
/// ρ  = sqrt((−2 ln α + ln(−2 ln α + 1)) / N*)
/// half-width = sqrt(V·N) · sqrt(2(Nρ² + 1) / (N²ρ²) · ln(sqrt(Nρ² + 1) / α))
/// p = min(1, sqrt(Nρ² + 1) · exp(−Nρ² · (diff² / V) / (2(Nρ² + 1))))
/// ```
///
/// The p-value inverts the sequence with ρ held at the value tuned for α, so `p < α`
/// exactly when the sequence excludes 0. `None` when an arm has fewer than 2
/// observations or `V` is 0.
pub fn anytime_test(
    control: &Moments,
    treatment: &Moments,
    alpha: f64,
    tuning_n: f64,
) -> Option<AnytimeTest> {
    if control.n < 2 || treatment.n < 2 || !(alpha > 0.0 && alpha < 1.0) || tuning_n <= 0.0 {
        return None;
    }
    let v = control.var / control.n as f64 + treatment.var / treatment.n as f64;
    if v <= 0.0 || !v.is_finite() {
        return None;
    }
    let n = (control.n + treatment.n) as f64;
    let l = -2.0 * alpha.ln();
    let rho2 = (l + (l + 1.0).ln()) / tuning_n;
    let nr = n * rho2 + 1.0;
    let diff = treatment.mean - control.mean;
    if !diff.is_finite() {
        return None;
    }
    let half = (v * n).sqrt() * (2.0 * nr / (n * n * rho2) * (nr.sqrt() / alpha).ln()).sqrt();
    let z2 = diff * diff / v;
    let p_value = (nr.sqrt() * (-(n * rho2) * z2 / (2.0 * nr)).exp()).min(1.0);
    Some(AnytimeTest {
        p_value,
        ci_low: diff - half,
        ci_high: diff + half,
        rho: rho2.sqrt(),
    })
}

/// One session's contribution to a ratio metric: the sum of the metric over the session's
/// events (`numerator`) and the number of those events (`denominator`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RatioSession {
    /// Σ of the metric over the session's events.
    pub numerator: f64,
    /// The number of events measuring it.
    pub denominator: f64,
}

/// The delta-method linearisation of a ratio metric `R = Σ numerator / Σ denominator`
/// over sessions (Deng, Knoblich & Lu 2018, "Applying the delta method in metric
/// analytics", §3; GrowthBook's ratio metrics): session `s` becomes
///
/// ```text
/// ℓ_s = R + (y_s − R·n_s) / n̄
/// ```
///
/// so that the mean of the ℓ is exactly `R` and their sample variance over `k` is the
/// delta-method variance of `R`:
///
/// ```text
/// Var(R) ≈ (s²_y − 2R·s_yn + R²·s²_n) / (k·n̄²)
/// ```
///
/// Every session-level test (Welch, the confidence sequence, the covariate adjustment)
/// then runs unchanged on the ℓ, weighting sessions by their events as the ratio does.
/// Empty when `sessions` is empty or has no events.
pub fn linearize_ratio(sessions: &[RatioSession]) -> Vec<f64> {
    let k = sessions.len() as f64;
    let (sy, sn) = sessions
        .iter()
        .fold((0.0, 0.0), |(y, n), s| (y + s.numerator, n + s.denominator));
    if sessions.is_empty() || sn <= 0.0 {
        return Vec::new();
    }
    let r = sy / sn;
    let n_bar = sn / k;
    sessions
        .iter()
        .map(|s| r + (s.numerator - r * s.denominator) / n_bar)
        .collect()
}

/// The delta-method variance of the ratio `Σy / Σn` over sessions, in its closed form
/// `(s²_y − 2R·s_yn + R²·s²_n) / (k·n̄²)` with sample (k − 1) moments; the same number
/// as the variance of [`linearize_ratio`]'s values over `k`. `None` with fewer than 2
/// sessions or no events.
pub fn ratio_variance(sessions: &[RatioSession]) -> Option<f64> {
    let k = sessions.len();
    if k < 2 {
        return None;
    }
    let kf = k as f64;
    let my = sessions.iter().map(|s| s.numerator).sum::<f64>() / kf;
    let mn = sessions.iter().map(|s| s.denominator).sum::<f64>() / kf;
    if mn <= 0.0 {
        return None;
    }
    let (mut vy, mut vn, mut cyn) = (0.0, 0.0, 0.0);
    for s in sessions {
        let (dy, dn) = (s.numerator - my, s.denominator - mn);
        vy += dy * dy;
        vn += dn * dn;
        cyn += dy * dn;
    }
    let (vy, vn, cyn) = (vy / (kf - 1.0), vn / (kf - 1.0), cyn / (kf - 1.0));
    let r = my / mn;
    Some((vy - 2.0 * r * cyn + r * r * vn) / (kf * mn * mn))
}

/// The covariate-adjusted (CUPED / ANCOVA) comparison of `treatment − control`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Adjusted {
    /// θ: the slope of the outcome on the covariate, pooled within the arms.
    pub theta: f64,
    /// The adjusted difference `(ȳ_t − ȳ_c) − θ·(x̄_t − x̄_c)`.
    pub diff: f64,
    /// Its standard error.
    pub std_error: f64,
    /// Residual degrees of freedom, `n − 3`.
    pub df: f64,
    /// The t statistic.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Lower end of the confidence interval of `diff`.
    pub ci_low: f64,
    /// Upper end of the confidence interval of `diff`.
    pub ci_high: f64,
    /// The share of the outcome's within-arm variance the covariate explains,
    /// `1 − RSS / S_yy` (CUPED's ρ²): the variance reduction achieved.
    pub variance_reduction: f64,
    /// Each arm's adjusted values `y − θ·(x − x̄)` (x̄ pooled over both arms) as moments:
    /// their difference of means is `diff`; the confidence sequence runs on them.
    pub moments: [Moments; 2],
}

/// The regression adjustment of Deng, Xu, Kohavi & Walker (2013, CUPED) in its ANCOVA
/// form: the ordinary least-squares fit of `y ~ 1 + treatment + x` over both arms'
/// `(y, x)` pairs, whose treatment coefficient is the adjusted difference and whose
/// classical standard error is
///
/// ```text
/// θ   = Σ_arms Σ (x − x̄_arm)(y − ȳ_arm) / Σ_arms Σ (x − x̄_arm)²
/// RSS = S_yy − θ·S_xy (within arms),   σ² = RSS / (n − 3)
/// SE² = σ² · (1/n_c + 1/n_t + (x̄_t − x̄_c)² / S_xx)
/// ```
///
/// (statsmodels' `OLS(y, [1, treatment, x])`; checked against it in this module's tests). The covariate must be measured before assignment, so it
/// cannot differ between the arms except by chance; then the adjustment removes the
/// part of the outcome's noise it predicts and nothing else. `None` with fewer than 4
/// pairs, fewer than 2 in an arm, a covariate that does not vary within the arms, or no
/// residual variance.
pub fn ancova(control: &[(f64, f64)], treatment: &[(f64, f64)], level: f64) -> Option<Adjusted> {
    let (nc, nt) = (control.len(), treatment.len());
    if nc < 2 || nt < 2 || nc + nt < 4 {
        return None;
    }
    let means = |d: &[(f64, f64)]| {
        let n = d.len() as f64;
        let (y, x) = d.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
        (y / n, x / n)
    };
    let (yc, xc) = means(control);
    let (yt, xt) = means(treatment);
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (d, (my, mx)) in [(control, (yc, xc)), (treatment, (yt, xt))] {
        for &(y, x) in d {
            let (dy, dx) = (y - my, x - mx);
            sxx += dx * dx;
            sxy += dx * dy;
            syy += dy * dy;
        }
    }
    if !(sxx > 0.0 && syy > 0.0 && sxx.is_finite() && syy.is_finite()) {
        return None;
    }
    let theta = sxy / sxx;
    let rss = (syy - theta * sxy).max(0.0);
    let df = (nc + nt) as f64 - 3.0;
    let sigma2 = rss / df;
    let se = (sigma2 * (1.0 / nc as f64 + 1.0 / nt as f64 + (xt - xc).powi(2) / sxx)).sqrt();
    let diff = (yt - yc) - theta * (xt - xc);
    let t = t_result(diff, se, df, level)?;
    let x_bar = (xc * nc as f64 + xt * nt as f64) / (nc + nt) as f64;
    let adjusted = |d: &[(f64, f64)]| {
        let mut acc = MomentsAccumulator::default();
        for &(y, x) in d {
            acc.push(y - theta * (x - x_bar));
        }
        acc.moments()
    };
    Some(Adjusted {
        theta,
        diff,
        std_error: se,
        df,
        statistic: t.statistic,
        p_value: t.p_value,
        ci_low: t.ci_low,
        ci_high: t.ci_high,
        variance_reduction: 1.0 - rss / syy,
        moments: [adjusted(control), adjusted(treatment)],
    })
}

/// The normal quantile `z` with `P(Z ≤ z) = p`.
fn normal_quantile(p: f64) -> f64 {
    Normal::new(0.0, 1.0)
        .map(|n| n.inverse_cdf(p))
        .unwrap_or(f64::NAN)
}

/// The smallest standardised effect (Cohen's d, in units of the per-session standard
/// deviation) a two-sided fixed-horizon test at `alpha` detects with probability `power`
/// with `n_control` and `n_treatment` sessions, by the normal approximation:
/// `d = (z₁₋α/₂ + z_power) · sqrt(1/n_c + 1/n_t)` (Cohen 1988, ch. 2; at α 0.05, power
/// 0.8 and 60 + 60 sessions, 0.511). `None` when an arm has no session.
pub fn minimum_detectable_d(
    n_control: f64,
    n_treatment: f64,
    alpha: f64,
    power: f64,
) -> Option<f64> {
    if !(n_control > 0.0 && n_treatment > 0.0) {
        return None;
    }
    let z = normal_quantile(1.0 - alpha / 2.0) + normal_quantile(power);
    Some(z * (1.0 / n_control + 1.0 / n_treatment).sqrt())
}

/// The sessions of both arms together a two-sided fixed-horizon test at `alpha` needs to
/// detect a standardised effect `d` with probability `power`, with a share
/// `treatment_share` of the sessions in treatment (the inverse of
/// [`minimum_detectable_d`]). `None` for `d` = 0 or a share outside (0, 1).
pub fn sessions_needed(d: f64, treatment_share: f64, alpha: f64, power: f64) -> Option<f64> {
    if d == 0.0 || !d.is_finite() || !(treatment_share > 0.0 && treatment_share < 1.0) {
        return None;
    }
    let z = normal_quantile(1.0 - alpha / 2.0) + normal_quantile(power);
    Some((z / d).powi(2) * (1.0 / (1.0 - treatment_share) + 1.0 / treatment_share))
}

/// Holm's step-down adjustment of `p_values` for the family-wise error rate (Holm 1979),
/// in the input's order: sorted ascending, the i-th (from 0) of `m` becomes
/// `max over j ≤ i of min(1, (m − j)·p_(j))` (statsmodels' `multipletests(method="holm")`).
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut out = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        out[i] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tolerance for comparisons with scipy: relative 1e-9 on statistics, absolute 1e-9
    /// on p-values (statrs' incomplete beta and gamma are accurate to about 1e-12 here).
    const TOL: f64 = 1e-9;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    const A: [f64; 8] = [0.61, 0.42, 0.58, 0.77, 0.35, 0.66, 0.49, 0.71];
    const B: [f64; 6] = [0.72, 0.81, 0.55, 0.9, 0.68, 0.77];

    #[test]
    fn welch_matches_scipy() {
        // scipy.stats.ttest_ind(B, A, equal_var=False)
        //   -> statistic 2.327464000207544, pvalue 0.038536837442737726, df 11.8257...
        let t = welch_t_test(&Moments::from_slice(&A), &Moments::from_slice(&B), 0.95).unwrap();
        assert!(close(t.statistic, 2.327464000207544, TOL), "{t:?}");
        assert!(close(t.p_value, 0.038536837442737726, TOL), "{t:?}");
        // ...confidence_interval(0.95) -> (0.010259450201182269, 0.31890721646548437)
        assert!(close(t.ci_low, 0.010259450201182269, TOL), "{t:?}");
        assert!(close(t.ci_high, 0.31890721646548437, TOL), "{t:?}");
    }

    #[test]
    fn pooled_matches_scipy() {
        // scipy.stats.ttest_ind(B, A) -> statistic 2.260654983076438, pvalue 0.04315986592133089
        let t = pooled_t_test(&Moments::from_slice(&A), &Moments::from_slice(&B), 0.95).unwrap();
        assert!(close(t.statistic, 2.260654983076438, TOL), "{t:?}");
        assert!(close(t.p_value, 0.04315986592133089, TOL), "{t:?}");
        assert_eq!(t.df, 12.0);
    }

    #[test]
    fn proportions_match_scipy() {
        // scipy.stats.chi2_contingency([[45, 55], [60, 40]], correction=False)
        //   -> statistic 4.511278195488721, pvalue 0.033672068856345896  (z² = χ²)
        let z = two_proportion_z_test(45, 100, 60, 100, 0.95).unwrap();
        assert!(
            close(z.statistic * z.statistic, 4.511278195488721, TOL),
            "{z:?}"
        );
        assert!(close(z.p_value, 0.033672068856345896, TOL), "{z:?}");
        assert!(close(z.diff, 0.15, 1e-12));
        // scipy.stats.fisher_exact([[45, 55], [60, 40]]) -> pvalue 0.04716548538301931
        let f = fisher_exact(45, 100, 60, 100, 100_000).unwrap();
        assert!(close(f, 0.04716548538301931, 1e-9), "{f}");
        // scipy.stats.fisher_exact([[1, 9], [6, 4]]) -> pvalue 0.057275541795665644
        let f = fisher_exact(1, 10, 6, 10, 100_000).unwrap();
        assert!(close(f, 0.057275541795665644, 1e-9), "{f}");
    }

    #[test]
    fn srm_matches_scipy() {
        // scipy.stats.chisquare([480, 520], f_exp=[500, 500])
        //   -> statistic 1.6, pvalue 0.20590321073206466
        let c = srm_chi_square(480, 520, 0.5).unwrap();
        assert!(close(c.statistic, 1.6, TOL));
        assert!(close(c.p_value, 0.20590321073206466, TOL), "{c:?}");
        // scipy.stats.chisquare([60, 40], f_exp=[70, 30]) -> statistic 4.761904761904762,
        //   pvalue 0.029096331741252267
        let c = srm_chi_square(60, 40, 0.3).unwrap();
        assert!(close(c.statistic, 4.761904761904762, TOL));
        assert!(close(c.p_value, 0.029096331741252267, TOL), "{c:?}");
    }

    #[test]
    fn beta_interval_matches_scipy() {
        // scipy.stats.beta(8, 4).ppf([0.05, 0.95]) -> [0.43562581171077036, 0.8649245270803587]
        let b = beta_summary(8.0, 4.0, 0.9).unwrap();
        assert!(close(b.low, 0.43562581171077036, TOL), "{b:?}");
        assert!(close(b.high, 0.8649245270803587, TOL), "{b:?}");
        assert!(close(b.mean, 8.0 / 12.0, 1e-15));
    }

    #[test]
    fn undefined_statistics_are_none() {
        let one = Moments::from_slice(&[1.0]);
        let flat = Moments::from_slice(&[1.0, 1.0, 1.0]);
        assert!(welch_t_test(&one, &flat, 0.95).is_none());
        assert!(welch_t_test(&flat, &flat, 0.95).is_none());
        assert!(cohens_d(&flat, &flat).is_none());
        assert!(two_proportion_z_test(0, 0, 3, 5, 0.95).is_none());
        assert!(srm_chi_square(0, 0, 0.5).is_none());
        assert!(anytime_test(&flat, &flat, 0.05, DEFAULT_TUNING_N).is_none());
        // Regression: NaN data must not reach statrs' incomplete beta, which panics.
        let nan = Moments::from_slice(&[1.0, f64::NAN, 2.0]);
        let ok = Moments::from_slice(&[1.0, 2.0, 3.0]);
        assert!(welch_t_test(&nan, &ok, 0.95).is_none());
        assert!(pooled_t_test(&nan, &ok, 0.95).is_none());
        assert!(cohens_d(&nan, &ok).is_none());
        assert!(anytime_test(&nan, &ok, 0.05, DEFAULT_TUNING_N).is_none());
    }

    #[test]
    fn proportion_moments_equal_zero_one_data() {
        let data = [1.0, 0.0, 1.0, 1.0, 0.0];
        let a = Moments::from_slice(&data);
        let b = Moments::from_proportion(3, 5);
        assert!(close(a.mean, b.mean, 1e-15) && close(a.var, b.var, 1e-15));
        let mut acc = MomentsAccumulator::default();
        data.iter().for_each(|&x| acc.push(x));
        assert!(close(acc.moments().var, a.var, 1e-14));
    }

    #[test]
    fn anytime_p_agrees_with_its_sequence() {
        let a = Moments {
            n: 400,
            mean: 0.5,
            var: 0.04,
        };
        let b = Moments {
            n: 400,
            mean: 0.56,
            var: 0.04,
        };
        let t = anytime_test(&a, &b, 0.05, DEFAULT_TUNING_N).unwrap();
        assert_eq!(t.p_value < 0.05, t.ci_low > 0.0 || t.ci_high < 0.0, "{t:?}");
        // The sequence is wider than the fixed-horizon interval.
        let w = welch_t_test(&a, &b, 0.95).unwrap();
        assert!(t.ci_high - t.ci_low > w.ci_high - w.ci_low);
        assert!(t.p_value > w.p_value);
    }

    #[test]
    fn ancova_equals_ordinary_least_squares() {
        // A fixed data set of (session metric, covariate) pairs. statsmodels 0.15.0:
        // sm.OLS(y, sm.add_constant(np.column_stack([treatment, x]))).fit()
        //   params[1] 0.14682718439373077, bse[1] 0.013234546424553047,
        //   pvalues[1] 2.595087267736486e-07, params[2] (θ) -0.27493391906481474,
        //   df_resid 11, conf_int(0.05)[1] [0.11769814, 0.17595622]
        let c = [
            (0.61, 1.20),
            (0.42, 1.85),
            (0.58, 1.10),
            (0.77, 0.70),
            (0.35, 2.05),
            (0.66, 0.95),
            (0.49, 1.60),
            (0.71, 0.80),
        ];
        let t = [
            (0.72, 1.40),
            (0.81, 0.90),
            (0.55, 1.95),
            (0.90, 0.60),
            (0.68, 1.30),
            (0.77, 1.15),
        ];
        let a = ancova(&c, &t, 0.95).unwrap();
        assert!(close(a.diff, 0.14682718439373077, TOL), "{a:?}");
        assert!(close(a.std_error, 0.013234546424553047, TOL), "{a:?}");
        assert!(close(a.p_value, 2.595087267736486e-07, TOL), "{a:?}");
        assert!(close(a.theta, -0.27493391906481474, TOL), "{a:?}");
        assert_eq!(a.df, 11.0);
        assert!(close(a.ci_low, 0.11769814, 1e-8) && close(a.ci_high, 0.17595622, 1e-8));
        // The adjusted values' difference of means is the adjusted difference.
        assert!(close(a.moments[1].mean - a.moments[0].mean, a.diff, 1e-12));
        // Unadjusted, the same data give Welch's 0.149 ± a far wider interval.
        let ys = |d: &[(f64, f64)]| Moments::from_slice(&d.iter().map(|p| p.0).collect::<Vec<_>>());
        let w = welch_t_test(&ys(&c), &ys(&t), 0.95).unwrap();
        assert!(a.std_error < 0.25 * w.std_error, "{a:?} {w:?}");
        assert!(a.variance_reduction > 0.9 && a.variance_reduction < 1.0);
        // Too little data or a constant covariate: no adjustment.
        assert!(ancova(&c[..1], &t, 0.95).is_none());
        let flat: Vec<(f64, f64)> = c.iter().map(|p| (p.0, 1.0)).collect();
        let flat_t: Vec<(f64, f64)> = t.iter().map(|p| (p.0, 1.0)).collect();
        assert!(ancova(&flat, &flat_t, 0.95).is_none());
    }

    #[test]
    fn delta_method_variance_equals_the_closed_form() {
        // By hand: y = [1, 3, 2], n = [2, 4, 2]; R = 6/8 = 0.75, n̄ = 8/3, s²_y = 1,
        // s²_n = 4/3, s_yn = 1, so Var(R) = (1 − 2·0.75·1 + 0.75²·4/3) / (3·(8/3)²)
        // = 0.25 / (64/3) = 0.01171875; ℓ = [0.5625, 0.75, 0.9375].
        let s = [(1.0, 2.0), (3.0, 4.0), (2.0, 2.0)].map(|(y, n)| RatioSession {
            numerator: y,
            denominator: n,
        });
        let l = linearize_ratio(&s);
        for (got, want) in l.iter().zip([0.5625, 0.75, 0.9375]) {
            assert!(close(*got, want, 1e-15), "{l:?}");
        }
        let m = Moments::from_slice(&l);
        assert!(close(m.mean, 0.75, 1e-15));
        assert!(close(m.var / 3.0, 0.01171875, 1e-15), "{m:?}");
        assert!(close(ratio_variance(&s).unwrap(), 0.01171875, 1e-15));
        // With equal events per session the ratio is the mean of the session means.
        let eq = [(1.0, 4.0), (3.0, 4.0), (2.0, 4.0)].map(|(y, n)| RatioSession {
            numerator: y,
            denominator: n,
        });
        let l = linearize_ratio(&eq);
        assert_eq!(l, vec![0.25, 0.75, 0.5]);
        assert!(linearize_ratio(&[]).is_empty());
        assert!(ratio_variance(&eq[..1]).is_none());
    }

    #[test]
    fn power_and_holm_match_statsmodels() {
        // (norm.ppf(0.975) + norm.ppf(0.8)) * sqrt(2/60) = 0.5114971402445012 (scipy)
        let d = minimum_detectable_d(60.0, 60.0, 0.05, 0.8).unwrap();
        assert!(close(d, 0.5114971402445012, TOL), "{d}");
        // The inverse: that effect needs 120 sessions at an even split.
        let n = sessions_needed(d, 0.5, 0.05, 0.8).unwrap();
        assert!(close(n, 120.0, 1e-9), "{n}");
        assert!(sessions_needed(0.0, 0.5, 0.05, 0.8).is_none());
        assert!(minimum_detectable_d(0.0, 60.0, 0.05, 0.8).is_none());
        // statsmodels multipletests([0.01, 0.04, 0.03, 0.2], method="holm")[1]
        //   -> [0.04, 0.09, 0.09, 0.2]
        let h = holm(&[0.01, 0.04, 0.03, 0.2]);
        for (got, want) in h.iter().zip([0.04, 0.09, 0.09, 0.2]) {
            assert!(close(*got, want, 1e-15), "{h:?}");
        }
        assert!(holm(&[]).is_empty());
    }
}
