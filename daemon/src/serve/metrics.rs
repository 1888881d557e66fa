//! The service's counters, rendered in the Prometheus text format.
//!
//! In: events of the service (a grade finished with its outcome and seconds, a request refused,
//! a worker started or replaced) and the live gauges (queue depth, grades running, workers).
//! Out: `# HELP` / `# TYPE` lines and samples, as `GET /metrics` serves them. Grades per second
//! are `rate(socratic_grades_total[1m])` on the scraper's side.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds of the latency histogram, seconds.
pub const BUCKETS: [f64; 12] = [0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];
/// Outcomes a grade is counted under (`EvalReport::outcome`).
pub const OUTCOMES: [&str; 4] = ["resolved", "partial", "unresolved", "no-patch"];

#[derive(Debug, Default)]
pub struct Metrics {
    grades: [AtomicU64; 4],
    buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    /// Requests answered 429 (queue full).
    pub rejected: AtomicU64,
    /// Requests answered with another 4xx.
    pub bad_requests: AtomicU64,
    /// Grades that failed (5xx): the worker could not be started or died twice.
    pub errors: AtomicU64,
    /// Worker containers started, and those started to replace one that died.
    pub workers_started: AtomicU64,
    pub worker_restarts: AtomicU64,
    /// Gauges: requests admitted and waiting for a worker, grades running, live workers.
    pub queue_depth: AtomicU64,
    pub running: AtomicU64,
    pub workers: AtomicU64,
}

impl Metrics {
    /// Count a finished grade.
    pub fn graded(&self, outcome: &str, seconds: f64) {
        if let Some(i) = OUTCOMES.iter().position(|o| *o == outcome) {
            self.grades[i].fetch_add(1, Relaxed);
        }
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_us.fetch_add((seconds * 1e6) as u64, Relaxed);
    }

    /// Mean grade latency so far (seconds), if any grade finished.
    pub fn mean_latency(&self) -> Option<f64> {
        let n = self.latency_count.load(Relaxed);
        (n > 0).then(|| self.latency_sum_us.load(Relaxed) as f64 / 1e6 / n as f64)
    }

    /// Grades finished so far.
    pub fn grades_total(&self) -> u64 {
        self.grades.iter().map(|g| g.load(Relaxed)).sum()
    }

    /// Everything in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP socratic_grades_total Grades answered, by outcome.\n# TYPE socratic_grades_total counter"
        );
        for (i, outcome) in OUTCOMES.iter().enumerate() {
            let _ = writeln!(out, "socratic_grades_total{{outcome=\"{outcome}\"}} {}", self.grades[i].load(Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP socratic_grade_duration_seconds Time from admission to answer of a grade.\n# TYPE socratic_grade_duration_seconds histogram"
        );
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "socratic_grade_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                self.buckets[i].load(Relaxed)
            );
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(out, "socratic_grade_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "socratic_grade_duration_seconds_sum {}", self.latency_sum_us.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "socratic_grade_duration_seconds_count {count}");
        let scalars: [(&str, &str, &str, &AtomicU64); 8] = [
            (
                "socratic_requests_rejected_total",
                "counter",
                "Requests refused with 429: the queue was full.",
                &self.rejected,
            ),
            ("socratic_bad_requests_total", "counter", "Requests answered with another 4xx.", &self.bad_requests),
            ("socratic_grade_errors_total", "counter", "Grades that failed (5xx).", &self.errors),
            ("socratic_workers_started_total", "counter", "Worker containers started.", &self.workers_started),
            (
                "socratic_worker_restarts_total",
                "counter",
                "Workers replaced after their container died.",
                &self.worker_restarts,
            ),
            ("socratic_queue_depth", "gauge", "Grades admitted and waiting for a worker.", &self.queue_depth),
            ("socratic_grades_running", "gauge", "Grades running in a worker now.", &self.running),
            ("socratic_workers", "gauge", "Live worker containers.", &self.workers),
        ];
        for (name, kind, help, value) in scalars {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}", value.load(Relaxed));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_counts_and_buckets() {
        let m = Metrics::default();
        m.graded("resolved", 0.04);
        m.graded("unresolved", 2.0);
        m.worker_restarts.fetch_add(1, Relaxed);
        let text = m.render();
        assert!(text.contains("socratic_grades_total{outcome=\"resolved\"} 1\n"), "{text}");
        assert!(text.contains("socratic_grades_total{outcome=\"unresolved\"} 1\n"), "{text}");
        assert!(text.contains("socratic_grade_duration_seconds_bucket{le=\"0.05\"} 1\n"), "{text}");
        assert!(text.contains("socratic_grade_duration_seconds_bucket{le=\"2.5\"} 2\n"), "{text}");
        assert!(text.contains("socratic_grade_duration_seconds_bucket{le=\"+Inf\"} 2\n"), "{text}");
        assert!(text.contains("socratic_grade_duration_seconds_count 2\n"), "{text}");
        assert!(text.contains("socratic_worker_restarts_total 1\n"), "{text}");
        // Every sample line is `name{labels} number` under a TYPE line of its family.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let family = name.split('{').next().unwrap();
            let base = family.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count");
            assert!(text.contains(&format!("# TYPE {base} ")), "{line}");
        }
        assert_eq!(m.grades_total(), 2);
        assert!((m.mean_latency().unwrap() - 1.02).abs() < 1e-6);
    }
}
