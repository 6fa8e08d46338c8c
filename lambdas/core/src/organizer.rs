//! An organizer's public profile: the name their tickets and event pages show, and an email
//! address attendees may write to.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::registration::TICKET_ISSUER;
use crate::time::to_millis;
use crate::validation::{ValidationErrors, single_line};

pub const MAX_DISPLAY_NAME_CHARS: usize = 100;
/// RFC 5321's limit on a forward path.
pub const MAX_EMAIL_CHARS: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizerProfile {
    pub user_id: UserId,
    pub display_name: String,
    pub contact_email: String,
    pub updated_at: DateTime<Utc>,
}

impl OrganizerProfile {
    /// Who a ticket names as its issuer: the organizer's display name, or the platform's name
    /// for an organizer without a profile.
    pub fn issuer(profile: Option<&Self>) -> &str {
        profile.map_or(TICKET_ISSUER, |profile| profile.display_name.as_str())
    }
}

/// What an organizer submits; checked by [`NewOrganizerProfile::validate`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewOrganizerProfile {
    pub display_name: String,
    pub contact_email: String,
}

impl NewOrganizerProfile {
    pub fn validate(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<OrganizerProfile, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let display_name = single_line(
            &mut errors,
            "displayName",
            &self.display_name,
            MAX_DISPLAY_NAME_CHARS,
        );
        let contact_email = self.contact_email.trim().to_owned();
        if !is_email(&contact_email) {
            errors.add(
                "contactEmail",
                format!(
                    "must be an email address such as tickets@example.org (at most \
                     {MAX_EMAIL_CHARS} characters)"
                ),
            );
        }
        errors.into_result(|| OrganizerProfile {
            user_id,
            display_name,
            contact_email,
            updated_at: to_millis(now),
        })
    }
}

/// A plausible address: something on each side of one `@`, a dot in the domain, nothing
/// blank or invisible. Whether it receives mail only sending tells.
fn is_email(text: &str) -> bool {
    text.chars().count() <= MAX_EMAIL_CHARS
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || crate::validation::is_bidi_control(c))
        && text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.split('.').count() >= 2
                && domain.split('.').all(|label| !label.is_empty())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_needs_a_name_and_an_address() {
        let now = Utc::now();
        let profile = NewOrganizerProfile {
            display_name: "  Harbour Arts  ".into(),
            contact_email: " tickets@harbour.example ".into(),
        }
        .validate(UserId::from("org"), now)
        .unwrap();
        assert_eq!(profile.display_name, "Harbour Arts");
        assert_eq!(profile.contact_email, "tickets@harbour.example");
        assert_eq!(OrganizerProfile::issuer(Some(&profile)), "Harbour Arts");
        assert_eq!(OrganizerProfile::issuer(None), TICKET_ISSUER);

        for (name, email, fields) in [
            ("", "a@b.org", vec!["displayName"]),
            ("Line\nbreak", "a@b.org", vec!["displayName"]),
            (&"x".repeat(101), "a@b.org", vec!["displayName"]),
            ("Arts", "no-at-sign", vec!["contactEmail"]),
            ("Arts", "a@b", vec!["contactEmail"]),
            ("Arts", "a@@b.org", vec!["contactEmail"]),
            ("Arts", "a b@c.org", vec!["contactEmail"]),
            ("Arts", "a@b..org", vec!["contactEmail"]),
            (
                "Arts",
                &format!("{}@b.org", "a".repeat(250)),
                vec!["contactEmail"],
            ),
            ("", "", vec!["displayName", "contactEmail"]),
        ] {
            let input = NewOrganizerProfile {
                display_name: name.to_owned(),
                contact_email: email.to_owned(),
            };
            let errors = input.validate(UserId::from("org"), now).unwrap_err();
            assert_eq!(errors.fields(), fields, "{name:?} {email:?}");
        }
    }
}
