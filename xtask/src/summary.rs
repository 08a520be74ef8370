//! `target/bench/summary.json`: every figure of a bench run as a value, its baseline and
//! their ratio, read from what criterion and the benches' own reports left behind, and
//! checked against the project's goals.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::workspace::target_dir;

/// Which way a figure is good.
#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
enum Better {
    Lower,
    Higher,
}

/// What a figure must meet.
#[derive(Clone, Copy)]
enum Goal {
    RatioAtMost(f64),
    RatioAtLeast(f64),
    ValueAtMost(f64),
    /// The value may exceed the baseline by at most this much (in the figure's unit).
    ExcessAtMost(f64),
    None,
}

impl Goal {
    fn describe(self, unit: &str) -> Option<String> {
        match self {
            Goal::RatioAtMost(limit) => Some(format!("ratio <= {limit}")),
            Goal::RatioAtLeast(limit) => Some(format!("ratio >= {limit}")),
            Goal::ValueAtMost(limit) => Some(format!("value <= {limit} {unit}")),
            Goal::ExcessAtMost(limit) => Some(format!("value - baseline <= {limit} {unit}")),
            Goal::None => None,
        }
    }

    fn met(self, value: f64, baseline: f64) -> Option<bool> {
        let ratio = value / baseline;
        match self {
            Goal::RatioAtMost(limit) => Some(ratio <= limit),
            Goal::RatioAtLeast(limit) => Some(ratio >= limit),
            Goal::ValueAtMost(limit) => Some(value <= limit),
            Goal::ExcessAtMost(limit) => Some(value - baseline <= limit),
            Goal::None => None,
        }
    }
}

/// How a criterion group's median becomes the figure.
#[derive(Clone, Copy)]
enum Measure {
    /// Time per iteration, in this many nanoseconds per unit (1 for ns, 1000 for µs).
    Time(f64),
    /// Items per second, `items` per iteration.
    Rate(f64),
}

/// A figure measured by criterion: `group`'s `subject` against its `baseline`.
struct Measured {
    name: &'static str,
    group: &'static str,
    subject: &'static str,
    baseline: &'static str,
    unit: &'static str,
    measure: Measure,
    goal: Goal,
}

const NS: Measure = Measure::Time(1.0);
const US: Measure = Measure::Time(1000.0);

/// Every figure criterion measures, with the goals of issues 11 and 14 (README
/// "Performance").
const MEASURED: &[Measured] = &[
    Measured {
        name: "call_overhead",
        group: "call_overhead",
        subject: "through_abi",
        baseline: "in_process",
        unit: "ns",
        measure: NS,
        goal: Goal::RatioAtMost(2.0),
    },
    Measured {
        name: "turn_latency",
        group: "turn_latency",
        subject: "through_abi",
        baseline: "cross_thread_round_trip",
        unit: "us",
        measure: US,
        goal: Goal::RatioAtMost(2.0),
    },
    Measured {
        name: "stream_throughput",
        group: "stream_throughput",
        subject: "through_abi",
        baseline: "bare_channel",
        unit: "chunks/s",
        measure: Measure::Rate(10_000.0),
        goal: Goal::RatioAtLeast(0.5),
    },
    Measured {
        name: "turns_in_flight_100",
        group: "turns_in_flight_100",
        subject: "through_abi",
        baseline: "in_process",
        unit: "turns/s",
        measure: Measure::Rate(100.0),
        goal: Goal::RatioAtLeast(0.9),
    },
    Measured {
        name: "turns_in_flight_10k",
        group: "turns_in_flight_10k",
        subject: "through_abi",
        baseline: "in_process",
        unit: "turns/s",
        measure: Measure::Rate(10_000.0),
        goal: Goal::RatioAtLeast(0.8),
    },
    Measured {
        name: "ipc_call",
        group: "call_overhead",
        subject: "through_abi",
        baseline: "pipe_batched",
        unit: "ns",
        measure: NS,
        goal: Goal::None,
    },
    Measured {
        name: "ipc_turn",
        group: "turn_latency",
        subject: "through_abi",
        baseline: "pipe_batched",
        unit: "us",
        measure: US,
        // At least 4x faster than the batched pipe.
        goal: Goal::RatioAtMost(0.25),
    },
    Measured {
        name: "ipc_stream",
        group: "stream_throughput",
        subject: "through_abi",
        baseline: "pipe_batched",
        unit: "chunks/s",
        measure: Measure::Rate(10_000.0),
        goal: Goal::RatioAtLeast(3.0),
    },
    Measured {
        name: "ipc_in_flight",
        group: "turns_in_flight_100",
        subject: "through_abi",
        baseline: "pipe_batched",
        unit: "turns/s",
        measure: Measure::Rate(100.0),
        goal: Goal::RatioAtLeast(2.0),
    },
    Measured {
        name: "tool_call",
        group: "tool_calls",
        subject: "through_abi",
        baseline: "in_process",
        unit: "us",
        // A turn of 64 calls at once, per call.
        measure: Measure::Time(1000.0 * 64.0),
        goal: Goal::RatioAtMost(2.0),
    },
    // Issue 14: the mock served over gRPC, against the same mock through the ABI.
    Measured {
        name: "isolated_call",
        group: "call_overhead",
        subject: "isolated",
        baseline: "through_abi",
        unit: "us",
        measure: US,
        goal: Goal::None,
    },
    Measured {
        name: "isolated_turn",
        group: "turn_latency",
        subject: "isolated",
        baseline: "through_abi",
        unit: "us",
        measure: US,
        goal: Goal::ExcessAtMost(100.0),
    },
    Measured {
        name: "isolated_stream",
        group: "stream_throughput",
        subject: "isolated",
        baseline: "through_abi",
        unit: "chunks/s",
        measure: Measure::Rate(10_000.0),
        goal: Goal::RatioAtLeast(0.8),
    },
    Measured {
        name: "isolated_in_flight",
        group: "turns_in_flight_100",
        subject: "isolated",
        baseline: "through_abi",
        unit: "turns/s",
        measure: Measure::Rate(100.0),
        goal: Goal::RatioAtLeast(0.5),
    },
    Measured {
        name: "tcp_call",
        group: "call_overhead",
        subject: "loopback_tcp",
        baseline: "through_abi",
        unit: "us",
        measure: US,
        goal: Goal::None,
    },
    Measured {
        name: "tcp_turn",
        group: "turn_latency",
        subject: "loopback_tcp",
        baseline: "through_abi",
        unit: "us",
        measure: US,
        goal: Goal::None,
    },
    Measured {
        name: "tcp_stream",
        group: "stream_throughput",
        subject: "loopback_tcp",
        baseline: "through_abi",
        unit: "chunks/s",
        measure: Measure::Rate(10_000.0),
        goal: Goal::None,
    },
    Measured {
        name: "tcp_in_flight",
        group: "turns_in_flight_100",
        subject: "loopback_tcp",
        baseline: "through_abi",
        unit: "turns/s",
        measure: Measure::Rate(100.0),
        goal: Goal::None,
    },
    Measured {
        name: "python_workers",
        group: "python_workers",
        subject: "workers_2",
        baseline: "workers_1",
        unit: "turns/s",
        measure: Measure::Rate(100.0),
        goal: Goal::RatioAtLeast(1.6),
    },
    Measured {
        name: "python_turn_latency",
        group: "python_turn_latency",
        subject: "bridge",
        baseline: "baseline",
        unit: "us",
        measure: US,
        goal: Goal::ExcessAtMost(50.0),
    },
    Measured {
        name: "python_turns_in_flight",
        group: "python_turns_in_flight",
        subject: "bridge",
        baseline: "baseline",
        unit: "turns/s",
        measure: Measure::Rate(100.0),
        goal: Goal::RatioAtLeast(0.8),
    },
    Measured {
        name: "python_stream_throughput",
        group: "python_stream_throughput",
        subject: "bridge",
        baseline: "baseline",
        unit: "chunks/s",
        measure: Measure::Rate(10_000.0),
        goal: Goal::RatioAtLeast(0.5),
    },
];

/// Figures the benches measure themselves (memory, start-up): each a report file
/// `<name>.json` with `value`, `unit`, `baseline`, `baseline_value`.
const REPORTED: &[(&str, Goal)] = &[
    ("idle_agent_bytes", Goal::ValueAtMost(2048.0)),
    ("python_turn_bytes", Goal::None),
    ("python_startup_ms", Goal::ValueAtMost(100.0)),
    ("python_startup_venv_ms", Goal::ValueAtMost(100.0)),
];

#[derive(Serialize)]
struct Entry {
    name: String,
    value: f64,
    unit: String,
    baseline: String,
    baseline_value: f64,
    ratio: f64,
    better: Better,
    #[serde(skip_serializing_if = "Option::is_none")]
    goal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    met: Option<bool>,
}

impl Entry {
    fn new(
        name: &str,
        (value, baseline_value): (f64, f64),
        unit: &str,
        baseline: &str,
        goal: Goal,
    ) -> Entry {
        let better = match unit {
            unit if unit.ends_with("/s") => Better::Higher,
            _ => Better::Lower,
        };
        Entry {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            baseline: baseline.to_owned(),
            baseline_value,
            ratio: value / baseline_value,
            better,
            goal: goal.describe(unit),
            met: goal.met(value, baseline_value),
        }
    }
}

pub fn reports_dir() -> PathBuf {
    target_dir().join("bench/reports")
}

/// Builds the summary of the run that started at `started`, writes it, prints it, and
/// returns how many goals were missed. A figure older than the run is an error: it was
/// not measured (a filter, a failed group), and an old figure must not pass for new.
pub fn write(started: SystemTime) -> Result<usize> {
    let criterion = target_dir().join("criterion");
    let mut entries = Vec::new();
    for figure in MEASURED {
        let value = measured(
            &criterion,
            figure.group,
            figure.subject,
            figure.measure,
            started,
        );
        let baseline = measured(
            &criterion,
            figure.group,
            figure.baseline,
            figure.measure,
            started,
        );
        entries.push(Entry::new(
            figure.name,
            (value?, baseline?),
            figure.unit,
            figure.baseline,
            figure.goal,
        ));
    }
    for &(name, goal) in REPORTED {
        let report = read_fresh(&reports_dir().join(format!("{name}.json")), started)?;
        let number = |field: &str| {
            report[field]
                .as_f64()
                .with_context(|| format!("report {name} has no number `{field}`"))
        };
        let text = |field: &str| report[field].as_str().unwrap_or_default().to_owned();
        entries.push(Entry::new(
            name,
            (number("value")?, number("baseline_value")?),
            &text("unit"),
            &text("baseline"),
            goal,
        ));
    }
    let path = target_dir().join("bench/summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&entries)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    print(&entries);
    eprintln!("xtask: wrote {}", path.display());
    Ok(entries
        .iter()
        .filter(|entry| entry.met == Some(false))
        .count())
}

fn measured(
    criterion: &Path,
    group: &str,
    subject: &str,
    measure: Measure,
    started: SystemTime,
) -> Result<f64> {
    let estimates = read_fresh(
        &criterion
            .join(group)
            .join(subject)
            .join("new/estimates.json"),
        started,
    )?;
    let nanos = estimates["median"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("{group}/{subject}: no median in criterion's estimates"))?;
    Ok(match measure {
        Measure::Time(nanos_per_unit) => nanos / nanos_per_unit,
        Measure::Rate(items) => items / (nanos * 1e-9),
    })
}

fn read_fresh(path: &Path, started: SystemTime) -> Result<Value> {
    let modified = std::fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .with_context(|| format!("{} is missing: was it measured?", path.display()))?;
    if modified < started {
        bail!(
            "{} is from an earlier run: this run did not measure it",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn print(entries: &[Entry]) {
    println!(
        "\n{:<26} {:>14} {:>14} {:<24} {:>8}  goal",
        "figure", "value", "baseline", "(baseline)", "ratio"
    );
    for entry in entries {
        let verdict = match entry.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        println!(
            "{:<26} {:>14} {:>14} {:<24} {:>8.3}  {} {}",
            entry.name,
            format!("{} {}", shown(entry.value), entry.unit),
            shown(entry.baseline_value),
            entry.baseline,
            entry.ratio,
            entry.goal.as_deref().unwrap_or("-"),
            verdict
        );
    }
}

fn shown(number: f64) -> String {
    if number >= 100.0 {
        format!("{number:.0}")
    } else {
        format!("{number:.3}")
    }
}
