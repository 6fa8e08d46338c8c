//! An event's times as its venue sees them: the venue's time zone (an IANA name, checked
//! against the tz database chrono-tz carries) and the start and end in local time, worded as a
//! ticket prints them.

use std::fmt;

use chrono::{DateTime, Utc};
pub use chrono_tz::Tz;

/// The zone of an event made without one, and of every event from before zones.
pub const DEFAULT_TIME_ZONE: Tz = Tz::UTC;

/// The venue's zone from its IANA name (`Europe/Zurich`); names are matched exactly, as the
/// database spells them.
pub fn parse_time_zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("must be an IANA time zone name such as Europe/Zurich (not {name:?})"))
}

/// An event's start and optional end in its venue's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTimes {
    pub starts_at: DateTime<Tz>,
    pub ends_at: Option<DateTime<Tz>>,
}

impl LocalTimes {
    pub fn new(zone: Tz, starts_at: DateTime<Utc>, ends_at: Option<DateTime<Utc>>) -> Self {
        Self {
            starts_at: starts_at.with_timezone(&zone),
            ends_at: ends_at.map(|end| end.with_timezone(&zone)),
        }
    }

    /// The start alone, for where the whole range does not fit.
    pub fn start(&self) -> Self {
        Self {
            ends_at: None,
            ..*self
        }
    }

    /// The end alone, worded like a start.
    pub fn end(&self) -> Option<Self> {
        self.ends_at.map(|end| Self {
            starts_at: end,
            ends_at: None,
        })
    }
}

const FULL: &str = "%a %-d %b %Y, %H:%M %Z";
const DAY_AND_CLOCK: &str = "%a %-d %b %Y, %H:%M";
const CLOCK_AND_ZONE: &str = "%H:%M %Z";

/// "Sat 1 Jul 2030, 19:30 CEST"; with an end the same day and zone abbreviation
/// "Sat 1 Jul 2030, 19:30 – 23:00 CEST", else both in full. The abbreviation is the tz
/// database's: a letter form where the zone has one (CEST, EST, IST), else the offset (+04).
impl fmt::Display for LocalTimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let start = self.starts_at;
        match self.ends_at {
            None => write!(f, "{}", start.format(FULL)),
            Some(end)
                if end.date_naive() == start.date_naive() && end.offset() == start.offset() =>
            {
                let (day, clock) = (start.format(DAY_AND_CLOCK), end.format(CLOCK_AND_ZONE));
                write!(f, "{day} – {clock}")
            }
            Some(end) => write!(f, "{} – {}", start.format(FULL), end.format(FULL)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::from_key;

    fn at(text: &str) -> DateTime<Utc> {
        from_key(text).unwrap()
    }

    #[test]
    fn zone_names_are_checked_against_the_database() {
        assert_eq!(parse_time_zone("Europe/Zurich"), Ok(Tz::Europe__Zurich));
        assert_eq!(parse_time_zone("UTC"), Ok(Tz::UTC));
        for bad in [
            "Europe/Atlantis",
            "europe/zurich",
            "",
            "+02:00",
            "Europe/Zurich\n",
        ] {
            let error = parse_time_zone(bad).unwrap_err();
            assert!(error.contains("IANA time zone"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn times_are_local_with_the_zone_abbreviation() {
        let zurich = Tz::Europe__Zurich;
        let summer = LocalTimes::new(zurich, at("2030-07-01T17:30:00.000Z"), None);
        assert_eq!(summer.to_string(), "Mon 1 Jul 2030, 19:30 CEST");
        let winter = LocalTimes::new(zurich, at("2030-01-07T09:30:00.000Z"), None);
        assert_eq!(winter.to_string(), "Mon 7 Jan 2030, 10:30 CET");
        let kolkata = LocalTimes::new(Tz::Asia__Kolkata, at("2030-01-07T09:30:00.000Z"), None);
        assert_eq!(kolkata.to_string(), "Mon 7 Jan 2030, 15:00 IST");
        let utc = LocalTimes::new(Tz::UTC, at("2026-12-12T18:30:00.000Z"), None);
        assert_eq!(utc.to_string(), "Sat 12 Dec 2026, 18:30 UTC");
    }

    #[test]
    fn an_end_the_same_day_shows_its_time_only() {
        let zurich = Tz::Europe__Zurich;
        let evening = LocalTimes::new(
            zurich,
            at("2030-07-01T17:30:00.000Z"),
            Some(at("2030-07-01T21:00:00.000Z")),
        );
        assert_eq!(evening.to_string(), "Mon 1 Jul 2030, 19:30 – 23:00 CEST");
        // 23:00 UTC is past midnight in Zurich: another local day.
        let late = LocalTimes::new(
            zurich,
            at("2030-07-01T17:30:00.000Z"),
            Some(at("2030-07-01T23:00:00.000Z")),
        );
        assert_eq!(
            late.to_string(),
            "Mon 1 Jul 2030, 19:30 CEST – Tue 2 Jul 2030, 01:00 CEST"
        );
        // The night the clocks go back: same day, another abbreviation.
        let fall_back = LocalTimes::new(
            zurich,
            at("2030-10-26T22:30:00.000Z"),
            Some(at("2030-10-27T02:00:00.000Z")),
        );
        assert_eq!(
            fall_back.to_string(),
            "Sun 27 Oct 2030, 00:30 CEST – Sun 27 Oct 2030, 03:00 CET"
        );
    }
}
