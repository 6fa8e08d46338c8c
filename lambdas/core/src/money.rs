//! Money in integer minor units. Never floats.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// ISO 4217 codes Stripe accepts for card payments (Stripe's "supported currencies").
const STRIPE_CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHF", "CLP", "CNY", "COP", "CRC", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ETB",
    "EUR", "FJD", "FKP", "GBP", "GEL", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG",
    "HUF", "IDR", "ILS", "INR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK",
    "MNT", "MOP", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR",
    "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB",
    "RWF", "SAR", "SBD", "SCR", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "STD", "SZL", "THB",
    "TJS", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VND",
    "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW",
];

/// Currencies Stripe charges in whole units (no minor unit).
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

/// Currencies with three decimal places.
const THREE_DECIMAL: &[&str] = &["BHD", "JOD", "KWD", "OMR", "TND"];

/// Stripe's smallest card payment in the currencies its "minimum and maximum charge amounts"
/// list names, in minor units. In any other currency it is the equivalent of 0.50 USD at the
/// day's rate, which nothing here knows: Stripe then judges.
const MINIMUM_CHARGES: &[(&str, i64)] = &[
    ("AED", 200),
    ("AUD", 50),
    ("BGN", 100),
    ("BRL", 50),
    ("CAD", 50),
    ("CHF", 50),
    ("CZK", 1500),
    ("DKK", 250),
    ("EUR", 50),
    ("GBP", 30),
    ("HKD", 400),
    ("HUF", 17500),
    ("INR", 50),
    ("JPY", 50),
    ("MXN", 1000),
    ("MYR", 200),
    ("NOK", 300),
    ("NZD", 50),
    ("PLN", 200),
    ("RON", 200),
    ("SEK", 300),
    ("SGD", 50),
    ("THB", 1000),
    ("USD", 50),
];

/// The largest amount Stripe accepts in one charge, in minor units (eight digits).
pub const MAX_AMOUNT_MINOR: i64 = 99_999_999;

/// An upper-case ISO 4217 code that Stripe supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a 3-letter ISO 4217 currency code that Stripe supports, such as EUR or USD")]
pub struct UnsupportedCurrency;

impl Currency {
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).expect("currency codes are ASCII")
    }

    /// The smallest card payment Stripe takes in this currency, where its list names one.
    pub fn minimum_charge_minor(&self) -> Option<i64> {
        MINIMUM_CHARGES
            .iter()
            .find(|(code, _)| *code == self.code())
            .map(|&(_, minimum)| minimum)
    }

    /// Digits after the decimal point: 0 for JPY, 3 for KWD, 2 for most.
    pub fn minor_unit_digits(&self) -> u32 {
        if ZERO_DECIMAL.contains(&self.code()) {
            0
        } else if THREE_DECIMAL.contains(&self.code()) {
            3
        } else {
            2
        }
    }
}

impl FromStr for Currency {
    type Err = UnsupportedCurrency;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let upper = text.trim().to_ascii_uppercase();
        let bytes: [u8; 3] = upper
            .as_bytes()
            .try_into()
            .map_err(|_| UnsupportedCurrency)?;
        if STRIPE_CURRENCIES.contains(&upper.as_str()) {
            Ok(Self(bytes))
        } else {
            Err(UnsupportedCurrency)
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = UnsupportedCurrency;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount in the currency's minor unit (cents for EUR, yen for JPY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn is_free(&self) -> bool {
        self.amount_minor == 0
    }
}

impl fmt::Display for Money {
    /// `12.50 EUR`, `500 JPY`: exact decimal text, computed with integers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.currency.minor_unit_digits();
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let magnitude = self.amount_minor.unsigned_abs();
        if digits == 0 {
            return write!(f, "{sign}{magnitude} {}", self.currency);
        }
        let scale = 10u64.pow(digits);
        let (whole, fraction) = (magnitude / scale, magnitude % scale);
        write!(
            f,
            "{sign}{whole}.{fraction:0width$} {}",
            self.currency,
            width = digits as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_normalised_and_checked() {
        assert_eq!("eur".parse::<Currency>().unwrap().code(), "EUR");
        assert!("XXX".parse::<Currency>().is_err());
        assert!("EURO".parse::<Currency>().is_err());
        assert!("".parse::<Currency>().is_err());
    }

    #[test]
    fn money_displays_exact_decimals() {
        let eur = "EUR".parse().unwrap();
        let jpy = "JPY".parse().unwrap();
        let kwd = "KWD".parse().unwrap();
        let show = |amount_minor, currency| {
            Money {
                amount_minor,
                currency,
            }
            .to_string()
        };
        assert_eq!(show(1250, eur), "12.50 EUR");
        assert_eq!(show(5, eur), "0.05 EUR");
        assert_eq!(show(500, jpy), "500 JPY");
        assert_eq!(show(1005, kwd), "1.005 KWD");
    }

    #[test]
    fn stripes_minimum_charge_is_known_for_the_currencies_it_lists() {
        let minimum = |code: &str| code.parse::<Currency>().unwrap().minimum_charge_minor();
        assert_eq!(minimum("eur"), Some(50));
        assert_eq!(minimum("GBP"), Some(30));
        assert_eq!(minimum("JPY"), Some(50));
        assert_eq!(minimum("KWD"), None);
    }
}
