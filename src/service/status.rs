//! Lead status: a contact's stage in the buying journey, stored as its ID 1–7.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeadStatus {
    New = 1,
    Reach = 2,
    Qualified = 3,
    Unqualified = 4,
    Negotiating = 5,
    Won = 6,
    Lost = 7,
}

/// Where a status change came from, as recorded in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusSource {
    Manual,
    Automation,
    Chatbot,
    Api,
    Import,
    Merge,
}

impl LeadStatus {
    pub const ALL: [LeadStatus; 7] = [
        Self::New,
        Self::Reach,
        Self::Qualified,
        Self::Unqualified,
        Self::Negotiating,
        Self::Won,
        Self::Lost,
    ];

    /// The statuses in pipeline order: the stages New → Won, then the exits
    /// Unqualified and Lost (as `pipeline::STAGES`). The list's status sort
    /// follows it.
    pub const PIPELINE_ORDER: [LeadStatus; 7] = [
        Self::New,
        Self::Reach,
        Self::Qualified,
        Self::Negotiating,
        Self::Won,
        Self::Unqualified,
        Self::Lost,
    ];

    pub fn id(self) -> i32 {
        self as i32
    }

    /// The status's place in [`LeadStatus::PIPELINE_ORDER`], from 0 (New) to 6 (Lost).
    pub fn pipeline_rank(self) -> u8 {
        match self {
            Self::New => 0,
            Self::Reach => 1,
            Self::Qualified => 2,
            Self::Negotiating => 3,
            Self::Won => 4,
            Self::Unqualified => 5,
            Self::Lost => 6,
        }
    }

    pub fn from_id(id: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.id() == id)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::New => "New",
            Self::Reach => "Reach",
            Self::Qualified => "Qualified",
            Self::Unqualified => "Unqualified",
            Self::Negotiating => "Negotiating",
            Self::Won => "Won",
            Self::Lost => "Lost",
        }
    }

    /// A lower-case name for CSS classes (`status-won`).
    pub fn slug(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Reach => "reach",
            Self::Qualified => "qualified",
            Self::Unqualified => "unqualified",
            Self::Negotiating => "negotiating",
            Self::Won => "won",
            Self::Lost => "lost",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::New => "A new lead that has not yet received any message or call from the team",
            Self::Reach => "A lead the team has successfully sent a message to (contactable)",
            Self::Qualified => "A lead that passed the qualification criteria (usually a marketing-qualified lead)",
            Self::Unqualified => "A lead that is uncontactable or fails the qualification criteria",
            Self::Negotiating => "A qualified lead the team is nurturing towards closing",
            Self::Won => "An existing customer",
            Self::Lost => "A qualified lead that bought from a competitor or decided not to buy",
        }
    }

    /// Parses an ID (`3`), a name (`qualified`) or an alias (`Disqualified`,
    /// `Reached`, `Contacted`), ignoring case and surrounding spaces.
    pub fn parse(input: &str) -> Result<Self, String> {
        let text = input.trim();
        if text.is_empty() {
            return Err("is required".into());
        }
        if let Ok(id) = text.parse::<i32>() {
            return Self::from_id(id).ok_or_else(|| format!("{id} is not a status ID (use 1 to 7)"));
        }
        let lower = text.to_lowercase();
        let alias = match lower.as_str() {
            "disqualified" => Some(Self::Unqualified),
            "reached" | "contacted" => Some(Self::Reach),
            _ => None,
        };
        alias
            .or_else(|| Self::ALL.into_iter().find(|s| s.name().to_lowercase() == lower))
            .ok_or_else(|| {
                let shown: String = text.chars().take(40).collect();
                format!("\"{shown}\" is not a status (use New, Reach, Qualified, Unqualified, Negotiating, Won, Lost or 1–7)")
            })
    }
}

impl fmt::Display for LeadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl StatusSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Automation => "automation",
            Self::Chatbot => "chatbot",
            Self::Api => "api",
            Self::Import => "import",
            Self::Merge => "merge",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_names_and_aliases_case_insensitively() {
        assert_eq!(LeadStatus::parse("6"), Ok(LeadStatus::Won));
        assert_eq!(LeadStatus::parse(" qualified "), Ok(LeadStatus::Qualified));
        assert_eq!(LeadStatus::parse("NEGOTIATING"), Ok(LeadStatus::Negotiating));
        assert_eq!(LeadStatus::parse("Disqualified"), Ok(LeadStatus::Unqualified));
        assert_eq!(LeadStatus::parse("reached"), Ok(LeadStatus::Reach));
        assert_eq!(LeadStatus::parse("Contacted"), Ok(LeadStatus::Reach));
    }

    #[test]
    fn refuses_anything_else_with_a_clear_message() {
        assert!(LeadStatus::parse("8").unwrap_err().contains("1 to 7"));
        assert!(LeadStatus::parse("0").is_err());
        assert!(LeadStatus::parse("Closed")
            .unwrap_err()
            .contains("\"Closed\" is not a status"));
        assert!(LeadStatus::parse("").is_err());
    }

    #[test]
    fn pipeline_ranks_follow_the_pipeline_order_and_its_stages() {
        for (rank, s) in LeadStatus::PIPELINE_ORDER.into_iter().enumerate() {
            assert_eq!(usize::from(s.pipeline_rank()), rank, "{s}");
        }
        let stages = &LeadStatus::PIPELINE_ORDER[..5];
        assert_eq!(stages, crate::service::pipeline::STAGES);
    }

    #[test]
    fn ids_round_trip() {
        for s in LeadStatus::ALL {
            assert_eq!(LeadStatus::from_id(s.id()), Some(s));
            assert_eq!(LeadStatus::parse(s.name()), Ok(s));
        }
    }
}
