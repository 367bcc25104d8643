//! Parse, don't validate: each standard attribute of a contact as a type that
//! can only hold a valid value.

use std::borrow::Cow;
use std::str::FromStr;

use phonenumber::country::Id as CountryId;
use phonenumber::Mode;
use validator::ValidateEmail;

pub const MAX_TEXT: usize = 255;

/// Control characters (NUL, line breaks, escapes) never belong in a
/// one-line attribute; PostgreSQL refuses NUL outright.
pub fn check_plain(text: &str) -> Result<(), String> {
    if text.chars().any(char::is_control) {
        Err("contains characters that are not allowed (control characters)".into())
    } else {
        Ok(())
    }
}

/// A contact's name: trimmed, 1–255 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactName(String);

impl ContactName {
    pub fn parse(input: &str) -> Result<Self, String> {
        let name = input.trim();
        if name.is_empty() {
            return Err("is required".into());
        }
        check_plain(name)?;
        let len = name.chars().count();
        if len > MAX_TEXT {
            return Err(format!("is too long ({len} characters; at most {MAX_TEXT})"));
        }
        Ok(Self(name.to_string()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An e-mail address, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, String> {
        let email = input.trim().to_lowercase();
        check_plain(&email)?;
        if email.chars().count() > MAX_TEXT {
            return Err(format!("is too long (at most {MAX_TEXT} characters)"));
        }
        if !email.validate_email() {
            return Err("is not a valid address".into());
        }
        // The validator accepts a bare host (`siti@example`), which no
        // customer's mailbox has: the domain needs a dot, not at either end.
        let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err("needs a domain with a dot, such as siti@example.com".into());
        }
        Ok(Self(email))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// What a refused phone number is told: the format expected, by example.
pub const PHONE_EXPECTED: &str =
    "is not a phone number we can read: write a mobile or landline number, e.g. 012-345 6789 or +60 12-345 6789";

/// A phone number in E.164 (`+60123456789`). Numbers written without `+`
/// are read in the configured default country.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(input: &str, default_country: CountryId) -> Result<Self, String> {
        let text = input.trim();
        if text.chars().count() > 40 {
            return Err(PHONE_EXPECTED.into());
        }
        // Written with its `+`, a number carries its country; without, it is
        // read in the default country first and then, since exports often
        // drop the `+` (`60198765432`), as international.
        //
        // An international reading is tried in Spain first, then with no
        // country. The phonenumber crate strips a trunk prefix after the
        // country code, and which one depends on the country it reads in:
        // with none, `+7 812 945 6789` (St Petersburg) loses its `8`; in
        // Malaysia, `+39 06 6981 2345` (Rome) loses its `0`; in the US,
        // `+60 12 345 6789` loses its `1`. Spain has no trunk prefix, so its
        // reading keeps every digit; with no country still serves
        // `+44 (0)20 7946 0958`, whose `(0)` must go. So the result never
        // depends on the team's country. Found by fuzzing. Parsed lazily:
        // this runs for every phone cell of an import.
        let with_plus: Cow<str> = if text.starts_with('+') {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(format!("+{text}"))
        };
        let national = [(Some(default_country), text)];
        let international = [(Some(CountryId::ES), &*with_plus), (None, &*with_plus)];
        let attempts = if text.starts_with('+') { &[][..] } else { &national[..] }
            .iter()
            .chain(&international)
            .filter_map(|&(country, text)| phonenumber::parse(country, text).ok())
            .filter(phonenumber::is_valid);
        let mut too_long = false;
        for number in attempts {
            let e164 = number.format().mode(Mode::E164).to_string();
            // libphonenumber calls some German numbers of up to 17 digits
            // valid; E.164, which this type promises (and WhatsApp needs),
            // stops at 15. Found by fuzzing.
            if e164.len() > 16 {
                too_long = true;
                continue;
            }
            return Ok(Self(e164));
        }
        Err(if too_long {
            "is too long for a phone number (at most 15 digits with the country code)".into()
        } else {
            PHONE_EXPECTED.into()
        })
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An ISO 3166-1 alpha-2 country code, upper-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Country(String);

impl Country {
    pub fn parse(input: &str) -> Result<Self, String> {
        let code = input.trim().to_uppercase();
        // The phone-number metadata lists every region that has numbers,
        // which is the ISO 3166-1 alpha-2 list we need.
        if code.len() == 2 && CountryId::from_str(&code).is_ok() {
            Ok(Self(code))
        } else {
            Err("must be a two-letter country code such as MY or SG".into())
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Free text such as company or city: trimmed, at most 255 characters, blank
/// meaning "none".
pub fn optional_text(input: &str) -> Result<Option<String>, String> {
    let text = input.trim();
    if text.is_empty() {
        return Ok(None);
    }
    check_plain(text)?;
    let len = text.chars().count();
    if len > MAX_TEXT {
        return Err(format!("is too long ({len} characters; at most {MAX_TEXT})"));
    }
    Ok(Some(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(ContactName::parse("  Aisyah ").unwrap().into_inner(), "Aisyah");
        assert!(ContactName::parse("   ").is_err());
        assert!(ContactName::parse(&"a".repeat(256)).unwrap_err().contains("too long"));
        assert!(ContactName::parse(&"é".repeat(255)).is_ok());
        assert!(ContactName::parse("Ali\0").is_err());
        assert!(optional_text("Kedai\nSiti").is_err());
        assert!(Email::parse("a\0@example.com").is_err());
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        let e = Email::parse(" WEIMING.TAN@Example.com ").unwrap();
        assert_eq!(e.into_inner(), "weiming.tan@example.com");
        assert!(Email::parse("not-an-email").is_err());
        assert!(Email::parse("chong@@example").is_err());
        assert!(Email::parse("siti@example").unwrap_err().contains("dot"));
        assert!(Email::parse("siti@example.").is_err());
        assert!(Email::parse("siti@.example").is_err());
        assert!(Email::parse("siti@example.com.my").is_ok());
    }

    #[test]
    fn phones_longer_than_e164_are_refused() {
        // libphonenumber calls this German number valid; it has 17 digits.
        let err = Phone::parse("+494404944056678 89", CountryId::MY).unwrap_err();
        assert!(err.contains("too long"), "{err}");
        assert_eq!(
            Phone::parse("+49 30 901820", CountryId::MY).unwrap().into_inner(),
            "+4930901820"
        );
    }

    #[test]
    fn a_number_with_its_plus_does_not_depend_on_the_default_country() {
        assert_eq!(
            Phone::parse("+44 (0)20 7946 0958", CountryId::MY).unwrap().into_inner(),
            "+442079460958"
        );
        assert_eq!(
            Phone::parse("78129456789", CountryId::MY).unwrap().into_inner(),
            "+78129456789"
        );
        for country in [CountryId::MY, CountryId::US, CountryId::GB, CountryId::DE] {
            for number in ["+60123456789", "+88802010232516", "+78129456789", "+390669812345"] {
                let parsed = Phone::parse(number, country).map(Phone::into_inner);
                assert_eq!(parsed.as_deref(), Ok(number), "{country:?}");
            }
        }
    }

    #[test]
    fn phones_become_e164_in_the_default_country() {
        let my = CountryId::MY;
        let cases = [
            ("012-345 6780", "+60123456780"),
            ("+60 11-3777 7777", "+601137777777"),
            ("60198765432", "+60198765432"),
            ("+60123456789", "+60123456789"),
        ];
        for (input, want) in cases {
            assert_eq!(Phone::parse(input, my).unwrap().into_inner(), want, "{input}");
        }
        assert!(Phone::parse("12", my).is_err());
        assert!(Phone::parse("call me", my).is_err());
    }

    #[test]
    fn countries_are_iso_codes() {
        assert_eq!(Country::parse("my").unwrap().into_inner(), "MY");
        assert!(Country::parse("Malaysia").is_err());
        assert!(Country::parse("ZZ").is_err());
    }
}
