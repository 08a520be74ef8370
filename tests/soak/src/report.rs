//! The soak's findings: one figure per row, with the bound it must stay within.

use std::fmt::Write as _;

/// One measured figure of a phase. A figure with a bound fails when it exceeds it.
#[derive(Debug, Clone)]
pub struct Figure {
    pub phase: &'static str,
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
    pub bound: Option<f64>,
}

impl Figure {
    pub fn passed(&self) -> bool {
        self.bound.is_none_or(|bound| self.value <= bound)
    }
}

/// Collects the figures of every phase and prints them as a table.
#[derive(Debug, Default)]
pub struct Report {
    figures: Vec<Figure>,
}

impl Report {
    /// A figure that must stay at or under `bound`.
    pub fn bounded(
        &mut self,
        phase: &'static str,
        name: &'static str,
        value: f64,
        unit: &'static str,
        bound: f64,
    ) {
        self.figures.push(Figure {
            phase,
            name,
            value,
            unit,
            bound: Some(bound),
        });
    }

    /// A figure reported for information (a rate, a duration).
    pub fn info(
        &mut self,
        phase: &'static str,
        name: &'static str,
        value: f64,
        unit: &'static str,
    ) {
        self.figures.push(Figure {
            phase,
            name,
            value,
            unit,
            bound: None,
        });
    }

    pub fn failures(&self) -> impl Iterator<Item = &Figure> {
        self.figures.iter().filter(|figure| !figure.passed())
    }

    pub fn table(&self) -> String {
        let phase_width = self
            .figures
            .iter()
            .map(|f| f.phase.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let name_width = self
            .figures
            .iter()
            .map(|f| f.name.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:phase_width$}  {:name_width$}  {:>12}  {:>12}  {:6}  result",
            "phase", "figure", "value", "bound", "unit"
        );
        for figure in &self.figures {
            let bound = figure
                .bound
                .map(format_number)
                .unwrap_or_else(|| "-".to_owned());
            let result = match (figure.bound, figure.passed()) {
                (None, _) => "info",
                (Some(_), true) => "ok",
                (Some(_), false) => "EXCEEDED",
            };
            let _ = writeln!(
                out,
                "{:phase_width$}  {:name_width$}  {:>12}  {:>12}  {:6}  {result}",
                figure.phase,
                figure.name,
                format_number(figure.value),
                bound,
                figure.unit,
            );
        }
        out
    }
}

fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_over_its_bound_fails() {
        let mut report = Report::default();
        report.bounded("p", "rss growth", 3.0, "MiB", 2.0);
        report.bounded("p", "threads", 0.0, "", 2.0);
        report.info("p", "rate", 1234.5, "/s");
        let failed: Vec<_> = report.failures().map(|f| f.name).collect();
        assert_eq!(failed, ["rss growth"]);
        let table = report.table();
        assert!(
            table.contains("EXCEEDED") && table.contains("info"),
            "{table}"
        );
    }
}
