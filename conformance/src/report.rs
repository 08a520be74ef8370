//! What a run found: one line per check and a tally, as text or JSON.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    /// Nothing broke a rule, but only the timing was off: a call that returns at once
    /// took longer, or the long prompt was answered too soon for the check to act on
    /// its turn. The details say what; it does not count against success.
    Warning,
    /// The backend broke a rule of semantics.md, or the check timed out.
    Failed,
    /// The check does not apply to this target; the details say why.
    Skipped,
    /// The check panicked: a bug in the backend's host-side code, or in the kit.
    Crashed,
}

impl Status {
    /// The fixed-width tag of the text report.
    pub fn tag(self) -> &'static str {
        match self {
            Status::Passed => "PASS",
            Status::Warning => "WARN",
            Status::Failed => "FAIL",
            Status::Skipped => "SKIP",
            Status::Crashed => "CRASH",
        }
    }
}

/// One check's outcome. It reads back from its JSON (`agent-host check` runs each case
/// in a child process that reports this way).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseReport {
    pub name: String,
    pub description: String,
    pub status: Status,
    /// Why it failed, crashed or was skipped; empty when it passed.
    pub details: String,
    #[serde(
        rename = "duration_ms",
        serialize_with = "as_millis",
        deserialize_with = "from_millis"
    )]
    pub duration: Duration,
}

fn as_millis<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64() * 1000.0)
}

fn from_millis<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let millis = f64::deserialize(deserializer)?;
    Duration::try_from_secs_f64(millis / 1000.0).map_err(serde::de::Error::custom)
}

impl fmt::Display for CaseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<5}  {}  ({} ms)",
            self.status.tag(),
            self.name,
            self.duration.as_millis()
        )?;
        for line in self.details.lines() {
            write!(f, "\n       {line}")?;
        }
        Ok(())
    }
}

/// How many checks ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub passed: usize,
    pub warnings: usize,
    pub failed: usize,
    pub skipped: usize,
    pub crashed: usize,
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped, {} crashed, {} warnings",
            self.passed, self.failed, self.skipped, self.crashed, self.warnings
        )
    }
}

/// Every check run on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub target: String,
    pub cases: Vec<CaseReport>,
}

impl Report {
    pub fn tally(&self) -> Tally {
        let mut tally = Tally::default();
        for case in &self.cases {
            match case.status {
                Status::Passed => tally.passed += 1,
                Status::Warning => tally.warnings += 1,
                Status::Failed => tally.failed += 1,
                Status::Skipped => tally.skipped += 1,
                Status::Crashed => tally.crashed += 1,
            }
        }
        tally
    }

    /// True when no check failed or crashed; skipped checks and warnings do not count
    /// against it.
    pub fn is_success(&self) -> bool {
        let tally = self.tally();
        tally.failed == 0 && tally.crashed == 0
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "conformance of {}", self.target)?;
        for case in &self.cases {
            writeln!(f, "{case}")?;
        }
        write!(f, "{}", self.tally())
    }
}

/// `{"target", "success", "tally", "cases"}`: the tally is included so that a reader of
/// `--json` needs no counting.
impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut report = serializer.serialize_struct("Report", 4)?;
        report.serialize_field("target", &self.target)?;
        report.serialize_field("success", &self.is_success())?;
        report.serialize_field("tally", &self.tally())?;
        report.serialize_field("cases", &self.cases)?;
        report.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, status: Status, details: &str) -> CaseReport {
        CaseReport {
            name: name.to_owned(),
            description: format!("what {name} checks"),
            status,
            details: details.to_owned(),
            duration: Duration::from_millis(123),
        }
    }

    fn sample() -> Report {
        Report {
            target: "mock".to_owned(),
            cases: vec![
                case("chat.cancel_ends_turn", Status::Passed, ""),
                case(
                    "agent.delete",
                    Status::Failed,
                    "expected this\nbut got that",
                ),
                case("conversation.last_response", Status::Skipped, "not kept"),
            ],
        }
    }

    #[test]
    fn text_has_a_line_per_case_indented_details_and_the_tally() {
        let text = sample().to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "conformance of mock",
                "PASS   chat.cancel_ends_turn  (123 ms)",
                "FAIL   agent.delete  (123 ms)",
                "       expected this",
                "       but got that",
                "SKIP   conversation.last_response  (123 ms)",
                "       not kept",
                "1 passed, 1 failed, 1 skipped, 0 crashed, 0 warnings",
            ]
        );
    }

    #[test]
    fn success_ignores_skips_but_not_failures_or_crashes() {
        let mut report = sample();
        assert!(!report.is_success());
        report.cases.retain(|case| case.status != Status::Failed);
        assert!(report.is_success());
        report.cases.push(case("x.w", Status::Warning, "slow"));
        assert!(report.is_success());
        assert_eq!(report.tally().warnings, 1);
        report.cases.push(case("x.y", Status::Crashed, "boom"));
        assert!(!report.is_success());
        assert_eq!(report.tally().crashed, 1);
    }

    #[test]
    fn json_carries_the_tally_and_lowercase_statuses() {
        let json = serde_json::to_value(sample()).unwrap();
        assert_eq!(json["target"], "mock");
        assert_eq!(json["success"], false);
        assert_eq!(json["tally"]["failed"], 1);
        assert_eq!(json["cases"][1]["status"], "failed");
        assert_eq!(json["cases"][1]["duration_ms"], 123.0);
        assert_eq!(json["cases"][2]["details"], "not kept");
    }

    #[test]
    fn a_case_report_reads_back_from_its_json() {
        for report in sample().cases {
            let json = serde_json::to_string(&report).unwrap();
            assert_eq!(serde_json::from_str::<CaseReport>(&json).unwrap(), report);
        }
    }
}
