use std::process::ExitCode;

use agent_host::{Candidate, Host, Verdict};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(host: &Host, args: Args) -> anyhow::Result<ExitCode> {
    host.verify_all(&super::scanner()?);
    let rows: Vec<[String; 5]> = host.candidates().iter().map(row).collect();
    if args.json {
        let json: Vec<_> = rows
            .iter()
            .map(|[name, version, api, path, status]| {
                serde_json::json!({
                    "name": name, "version": version, "api_version": api,
                    "path": path, "status": status,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(ExitCode::SUCCESS);
    }
    for warning in host.warnings() {
        eprintln!("warning: {warning}");
    }
    if rows.is_empty() {
        let dirs: Vec<String> = host
            .search_dirs()
            .iter()
            .map(|dir| dir.display().to_string())
            .collect();
        println!("no plugin files found; searched: {}", dirs.join(", "));
        return Ok(ExitCode::SUCCESS);
    }
    print_table(&["NAME", "VERSION", "API", "PATH", "STATUS"], &rows);
    Ok(ExitCode::SUCCESS)
}

/// Name, version, api version (as the file says, or as loading it showed), path, status.
fn row(candidate: &Candidate) -> [String; 5] {
    let metadata = match candidate.verdict() {
        Some(Verdict::Loaded { metadata, .. }) => Some(metadata),
        _ => candidate.metadata(),
    };
    let (name, version, api) = match metadata {
        Some(meta) => (
            meta.name.clone(),
            meta.version.clone(),
            meta.api_version.clone(),
        ),
        None => ("-".into(), "-".into(), "-".into()),
    };
    [
        name,
        version,
        api,
        candidate.path.display().to_string(),
        candidate.status_text(),
    ]
}

fn print_table(header: &[&str; 5], rows: &[[String; 5]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut text = String::new();
        for (index, cell) in cells.iter().enumerate() {
            if index + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[index]));
            }
        }
        println!("{}", text.trim_end());
    };
    line(*header);
    for row in rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]].map(String::as_str));
    }
}
