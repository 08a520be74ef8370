use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin library file to check.
    path: PathBuf,
    /// A backend option, `key=value`, for every runtime the checks create.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// Run only this case (see the list printed by a full run).
    #[arg(long)]
    case: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let _ = (args.path, args.options, args.case, args.json);
    anyhow::bail!("check: not wired yet")
}
