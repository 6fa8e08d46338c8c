//! Retry delays and error-name matching.

use std::time::Duration;

/// The error names Step Functions itself raises (`States.*`). A definition naming another
/// `States.` error is refused: it would never match anything.
pub(crate) const STATES_ERRORS: &[&str] = &[
    "States.ALL",
    "States.DataLimitExceeded",
    "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout",
    "States.Http.Socket",
    "States.IntrinsicFailure",
    "States.ItemReaderFailed",
    "States.NoChoiceMatched",
    "States.ParameterPathFailure",
    "States.Permissions",
    "States.QueryEvaluationError",
    "States.ResultPathMatchFailure",
    "States.ResultWriterFailed",
    "States.Runtime",
    "States.TaskFailed",
    "States.Timeout",
    "States.BranchFailed",
];

pub(crate) const ALL: &str = "States.ALL";
pub(crate) const TASK_FAILED: &str = "States.TaskFailed";
pub(crate) const TIMEOUT: &str = "States.Timeout";
pub(crate) const RUNTIME: &str = "States.Runtime";
pub(crate) const DATA_LIMIT: &str = "States.DataLimitExceeded";
pub(crate) const RESULT_PATH: &str = "States.ResultPathMatchFailure";
pub(crate) const NO_CHOICE: &str = "States.NoChoiceMatched";
pub(crate) const TOLERATED_FAILURE: &str = "States.ExceedToleratedFailureThreshold";

/// The longest delay computed (AWS's ceiling for MaxDelaySeconds: one leap year).
pub const MAX_DELAY_SECONDS: f64 = 31_622_400.0;

/// How a retrier spreads its delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JitterStrategy {
    /// The computed delay as is.
    #[default]
    None,
    /// A uniformly random delay between 0 and the computed one.
    Full,
}

/// Seconds to wait before retry number `retries_so_far + 1` of a retrier, as Step Functions
/// computes it: `IntervalSeconds × BackoffRate^retries_so_far`, capped by `MaxDelaySeconds`,
/// then, with FULL jitter, scaled by `unit_random` (a number in `[0, 1)`).
pub fn retry_delay_seconds(
    interval_seconds: u64,
    backoff_rate: f64,
    max_delay_seconds: Option<u64>,
    retries_so_far: u32,
    jitter: JitterStrategy,
    unit_random: f64,
) -> f64 {
    let exponent = i32::try_from(retries_so_far).unwrap_or(i32::MAX);
    let mut delay = interval_seconds as f64 * backoff_rate.powi(exponent);
    if let Some(max) = max_delay_seconds {
        delay = delay.min(max as f64);
    }
    // NaN (0 × inf cannot happen: interval ≥ 1) and inf both end at the ceiling.
    delay = delay.min(MAX_DELAY_SECONDS);
    match jitter {
        JitterStrategy::None => delay,
        JitterStrategy::Full => delay * unit_random.clamp(0.0, 1.0),
    }
}

/// How long to really wait for `seconds` of the definition under `time_scale`.
pub fn scaled(seconds: f64, time_scale: f64) -> Duration {
    Duration::try_from_secs_f64(seconds * time_scale).unwrap_or(Duration::ZERO)
}

/// Whether a Retrier's or Catcher's ErrorEquals list matches `error`.
///
/// `States.ALL` matches everything but States.Runtime and States.DataLimitExceeded, which end
/// the execution; `States.TaskFailed` matches the same less States.Timeout.
pub(crate) fn error_matches(names: &[String], error: &str) -> bool {
    let terminal = error == RUNTIME || error == DATA_LIMIT;
    names.iter().any(|name| match name.as_str() {
        ALL => !terminal,
        TASK_FAILED => !terminal && error != TIMEOUT,
        name => name == error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn delays_grow_by_the_backoff_rate() {
        let delays: Vec<f64> = (0..4)
            .map(|n| retry_delay_seconds(3, 2.0, None, n, JitterStrategy::None, 0.5))
            .collect();
        assert_eq!(delays, vec![3.0, 6.0, 12.0, 24.0]);
        assert_eq!(
            retry_delay_seconds(1, 1.5, None, 2, JitterStrategy::None, 0.0),
            2.25
        );
    }

    #[test]
    fn max_delay_caps_the_delay() {
        assert_eq!(
            retry_delay_seconds(3, 2.0, Some(10), 3, JitterStrategy::None, 0.0),
            10.0
        );
        assert_eq!(
            retry_delay_seconds(3, 2.0, Some(10), 1, JitterStrategy::None, 0.0),
            6.0
        );
        assert_eq!(
            retry_delay_seconds(1, 2.0, None, 10_000, JitterStrategy::None, 0.0),
            MAX_DELAY_SECONDS
        );
    }

    #[test]
    fn full_jitter_scales_the_capped_delay() {
        assert_eq!(
            retry_delay_seconds(4, 2.0, Some(10), 2, JitterStrategy::Full, 0.25),
            2.5
        );
        assert_eq!(
            retry_delay_seconds(4, 2.0, None, 0, JitterStrategy::Full, 0.0),
            0.0
        );
    }

    #[test]
    fn scaled_multiplies_and_zero_means_no_wait() {
        assert_eq!(scaled(2.0, 0.5), Duration::from_secs(1));
        assert_eq!(scaled(2.0, 0.0), Duration::ZERO);
    }

    #[test]
    fn wildcards_match_as_aws_documents() {
        let all = names(&[ALL]);
        let task_failed = names(&[TASK_FAILED]);
        assert!(error_matches(&all, "Custom.Error"));
        assert!(error_matches(&all, TIMEOUT));
        assert!(!error_matches(&all, RUNTIME));
        assert!(!error_matches(&all, DATA_LIMIT));
        assert!(error_matches(&task_failed, "Custom.Error"));
        assert!(error_matches(&task_failed, RESULT_PATH));
        assert!(!error_matches(&task_failed, TIMEOUT));
        assert!(!error_matches(&task_failed, RUNTIME));
        assert!(error_matches(&names(&["A", "B"]), "B"));
        assert!(!error_matches(&names(&["A"]), "a"));
    }
}
