//! Time series for the flood forcing: hyetographs (step), hydrographs and stages (linear).

use crate::error::{Result, ScenarioError};
use serde::Serialize;

/// How a [`TimeSeries`] is read between its points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interp {
    /// Each value holds from its time until the next point (a hyetograph of intensities).
    Step,
    /// Values are joined by straight lines (a hydrograph or a stage record).
    Linear,
}

/// A series of (time in seconds from the start of the run, value) points with increasing times.
/// Before the first point the first value holds, after the last point the last value holds
/// (end a hyetograph with a zero intensity).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeSeries {
    /// Times (s), strictly increasing.
    pub t: Vec<f64>,
    /// Values, one per time.
    pub v: Vec<f64>,
    /// How values are read between points.
    pub interp: Interp,
}

impl TimeSeries {
    /// A checked series; `what` names it in errors (e.g. "rain zone 2").
    pub fn new(points: &[(f64, f64)], interp: Interp, what: &str) -> Result<TimeSeries> {
        if points.is_empty() {
            return Err(ScenarioError::invalid(
                what,
                "a time series needs at least one point",
            ));
        }
        for (k, &(t, v)) in points.iter().enumerate() {
            if !t.is_finite() || !v.is_finite() {
                return Err(ScenarioError::invalid(
                    what,
                    format!("point {k} ({t}, {v}) is not finite"),
                ));
            }
            if k > 0 && t <= points[k - 1].0 {
                return Err(ScenarioError::invalid(
                    what,
                    format!(
                        "times must increase: point {k} at {t} s follows {} s",
                        points[k - 1].0
                    ),
                ));
            }
        }
        Ok(TimeSeries {
            t: points.iter().map(|p| p.0).collect(),
            v: points.iter().map(|p| p.1).collect(),
            interp,
        })
    }

    /// A constant series.
    pub fn constant(v: f64, interp: Interp) -> TimeSeries {
        TimeSeries {
            t: vec![0.0],
            v: vec![v],
            interp,
        }
    }

    /// Every value multiplied by `k` (unit conversions).
    pub fn scaled(&self, k: f64) -> TimeSeries {
        TimeSeries {
            t: self.t.clone(),
            v: self.v.iter().map(|v| v * k).collect(),
            interp: self.interp,
        }
    }

    /// The value at time `t`.
    pub fn value(&self, t: f64) -> f64 {
        let n = self.t.len();
        if t <= self.t[0] {
            return self.v[0];
        }
        if t >= self.t[n - 1] {
            return self.v[n - 1];
        }
        // Last point with time <= t.
        let k = self.t.partition_point(|&x| x <= t) - 1;
        match self.interp {
            Interp::Step => self.v[k],
            Interp::Linear => {
                let f = (t - self.t[k]) / (self.t[k + 1] - self.t[k]);
                self.v[k] + f * (self.v[k + 1] - self.v[k])
            }
        }
    }

    /// The largest value over [a, b] (a <= b): the ends and the points in between.
    pub fn max_over(&self, a: f64, b: f64) -> f64 {
        let inner = self
            .t
            .iter()
            .zip(&self.v)
            .filter(|(&t, _)| t > a && t < b)
            .map(|(_, &v)| v);
        inner.fold(self.value(a).max(self.value(b)), f64::max)
    }

    /// The exact integral of the series over [a, b] (a <= b).
    pub fn integral(&self, a: f64, b: f64) -> f64 {
        if b <= a {
            return 0.0;
        }
        let n = self.t.len();
        let mut sum = 0.0;
        // Pieces: (-inf, t0], [t_k, t_k+1], [t_last, inf).
        let mut lo = a;
        // Before the first point: constant v0.
        if lo < self.t[0] {
            let hi = b.min(self.t[0]);
            sum += self.v[0] * (hi - lo);
            lo = hi;
        }
        if lo >= b {
            return sum;
        }
        let mut k = if lo >= self.t[n - 1] {
            n - 1
        } else {
            self.t.partition_point(|&x| x <= lo) - 1
        };
        while lo < b {
            if k + 1 >= n {
                sum += self.v[n - 1] * (b - lo);
                break;
            }
            let hi = b.min(self.t[k + 1]);
            if hi > lo {
                sum += match self.interp {
                    Interp::Step => self.v[k] * (hi - lo),
                    Interp::Linear => 0.5 * (self.value(lo) + self.value(hi)) * (hi - lo),
                };
            }
            lo = hi;
            k += 1;
        }
        sum
    }

    /// The pointwise sum of two linear series (on the union of their times).
    pub fn sum_linear(&self, other: &TimeSeries) -> TimeSeries {
        let mut t: Vec<f64> = self.t.iter().chain(&other.t).copied().collect();
        t.sort_by(f64::total_cmp);
        t.dedup();
        let v = t.iter().map(|&x| self.value(x) + other.value(x)).collect();
        TimeSeries {
            t,
            v,
            interp: Interp::Linear,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_and_linear_integrals() {
        let s =
            TimeSeries::new(&[(0.0, 2.0), (10.0, 4.0), (20.0, 0.0)], Interp::Step, "s").unwrap();
        assert_eq!(s.integral(0.0, 20.0), 2.0 * 10.0 + 4.0 * 10.0);
        assert_eq!(s.integral(5.0, 15.0), 2.0 * 5.0 + 4.0 * 5.0);
        assert_eq!(s.integral(25.0, 30.0), 0.0);
        assert_eq!(s.value(10.0), 4.0);
        let l = TimeSeries::new(&[(0.0, 0.0), (10.0, 10.0)], Interp::Linear, "l").unwrap();
        // ∫_0^10 t dt = 50, then 10 per second after the last point.
        assert!((l.integral(0.0, 10.0) - 50.0).abs() < 1e-12);
        assert!((l.integral(5.0, 12.0) - (37.5 + 20.0)).abs() < 1e-12);
        assert!((l.integral(-2.0, 0.0)).abs() < 1e-12);
        let sum = l.sum_linear(&TimeSeries::new(&[(5.0, 1.0)], Interp::Linear, "c").unwrap());
        assert_eq!(sum.t, vec![0.0, 5.0, 10.0]);
        assert_eq!(sum.v, vec![1.0, 6.0, 11.0]);
        assert!(TimeSeries::new(&[(1.0, 0.0), (1.0, 2.0)], Interp::Step, "x").is_err());
    }
}
