//! `ticketd executions`: the registration executions of a data directory, read from its journal
//! (read-only, so it works beside a running ticketd). Redrive a failed one through the admin
//! route: `POST /api/admin/executions/{name}/redrive`.

use std::error::Error;
use std::path::PathBuf;

use serde_json::json;

use crate::registration::EXECUTIONS_FILE;
use asl::{ExecutionLog, ExecutionStatus, ExecutorOptions};

#[derive(Debug, clap::Args)]
pub struct ExecutionsArgs {
    /// The data directory whose journal (executions.sqlite3) to read.
    #[arg(long, env = "TICKETD_DATA_DIR", default_value = ".ticketd")]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: Option<ExecutionsCommand>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ExecutionsCommand {
    /// One line per execution, newest first (the default).
    List {
        /// Only executions in this status: RUNNING, SUCCEEDED, FAILED or TIMED_OUT.
        #[arg(long)]
        status: Option<ExecutionStatus>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One execution and its history, as JSON.
    Show {
        /// The execution's name: the order (checkout session) id.
        name: String,
    },
}

pub async fn run(args: ExecutionsArgs) -> Result<(), Box<dyn Error + Send + Sync>> {
    let path = args.data_dir.join(EXECUTIONS_FILE);
    if !path.is_file() {
        return Err(format!(
            "no execution journal at {} (has ticketd run there?)",
            path.display()
        )
        .into());
    }
    let log = ExecutionLog::open(&path, &ExecutorOptions::default().state_machine_arn)?;
    match args.command.unwrap_or(ExecutionsCommand::List {
        status: None,
        limit: 50,
    }) {
        ExecutionsCommand::List { status, limit } => {
            println!(
                "{:<24} {:<9} {:<18} {:<24} error",
                "started", "status", "state", "name"
            );
            for execution in log.list(status, limit).await? {
                let state = execution
                    .current_state
                    .or(execution.failed_state)
                    .unwrap_or_default();
                println!(
                    "{:<24} {:<9} {:<18} {:<24} {}",
                    execution.start_date.format("%Y-%m-%d %H:%M:%S%.3f"),
                    execution.status,
                    state,
                    execution.name,
                    execution.error.unwrap_or_default()
                );
            }
        }
        ExecutionsCommand::Show { name } => {
            let execution = log.describe(&name).await?;
            let history = log.history(&name).await?;
            let Some(execution) = execution else {
                return Err(format!("no execution named {name}").into());
            };
            let shown = json!({ "execution": execution, "history": history });
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
    }
    Ok(())
}
