//! One text form for instants, shared by every adapter: RFC 3339 in UTC with exactly three
//! fractional digits. Fixed width, so strings sort in time order (DynamoDB sort keys, SQLite).

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};

const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// Formats an instant as a sortable key (`2026-11-24T18:30:00.000Z`). Only years 0000 to 9999
/// give RFC 3339 and sort in time order; chrono writes others with a sign and more digits
/// (`+10000-…`), which is why every instant that enters from outside is kept to a window.
pub fn to_key(at: DateTime<Utc>) -> String {
    at.format(FORMAT).to_string()
}

/// Parses what [`to_key`] wrote (any RFC 3339 instant is accepted). The signed form of a year
/// outside 0000 to 9999 is read too, so a row written before inputs were kept to a window still
/// reads.
pub fn from_key(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(text, FORMAT).map(|at| at.and_utc()))
        .ok()
}

/// Drops sub-millisecond precision, which the stored form does not keep. Works on the
/// nanosecond field, so it holds for every year (chrono's `duration_trunc` only within
/// 1677 to 2262) and keeps a leap second a leap second.
pub fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = at.nanosecond();
    at.with_nanosecond(nanos - nanos % 1_000_000).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

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
        let far = from_key("2999-01-02T03:04:05.006789Z").unwrap();
        assert_eq!(to_key(to_millis(far)), "2999-01-02T03:04:05.006Z");
    }

    #[test]
    fn the_four_digit_range_round_trips_and_so_does_what_lies_beyond() {
        for text in ["0000-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"] {
            assert_eq!(to_key(from_key(text).unwrap()), text);
        }
        // What an unchecked `startsAt` once stored: readable again, though not sortable.
        let beyond = from_key("+10000-01-01T00:00:00.000Z").unwrap();
        assert_eq!(to_key(beyond), "+10000-01-01T00:00:00.000Z");
        for at in [
            DateTime::<Utc>::MIN_UTC,
            to_millis(DateTime::<Utc>::MAX_UTC),
        ] {
            assert_eq!(from_key(&to_key(at)), Some(at));
        }
    }
}
