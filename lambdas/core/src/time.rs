//! One text form for instants, shared by every adapter: RFC 3339 in UTC with exactly three
//! fractional digits. Fixed width, so strings sort in time order (DynamoDB sort keys, SQLite).

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// Formats an instant as a sortable key (`2026-11-24T18:30:00.000Z`).
pub fn to_key(at: DateTime<Utc>) -> String {
    at.format(FORMAT).to_string()
}

/// Parses what [`to_key`] wrote (any RFC 3339 instant is accepted).
pub fn from_key(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// Drops sub-millisecond precision, which the stored form does not keep.
pub fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::milliseconds(1)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort_in_time_order() {
        let early = from_key("2026-01-02T03:04:05.006Z").unwrap();
        let late = early + TimeDelta::milliseconds(994);
        assert_eq!(to_key(early), "2026-01-02T03:04:05.006Z");
        assert_eq!(from_key(&to_key(late)), Some(late));
        assert!(to_key(early) < to_key(late));
    }

    #[test]
    fn to_millis_truncates() {
        let at = from_key("2026-01-02T03:04:05.006789Z").unwrap();
        assert_eq!(to_key(to_millis(at)), "2026-01-02T03:04:05.006Z");
        assert_eq!(from_key("yesterday"), None);
    }
}
