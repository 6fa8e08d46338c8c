//! The `ticketd-bench` command: parses arguments and runs one bench.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ticketd::logging;
use ticketd_bench::cancellation::{self, CancellationBenchArgs};
use ticketd_bench::flash_sale::{self, FlashSaleArgs};
use ticketd_bench::registrations::{self, RegistrationBenchArgs};
use ticketd_bench::seats::{self, BenchArgs};
use tracing::level_filters::LevelFilter;

/// Load benchmarks of ticketd: run them on a release build for figures worth comparing.
#[derive(Debug, Parser)]
#[command(name = "ticketd-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure how fast the store sells seats (hold + confirm), alone and concurrently.
    Seats(BenchArgs),
    /// Measure registrations per second through the registration state machine, every step
    /// real (store, PDF render, file write), on a fresh temporary stack.
    Registrations(RegistrationBenchArgs),
    /// A flash sale through the whole stack over HTTP: many buyers check out and pay for a
    /// smaller event at once, with the Stripe simulator; checks that exactly the seats were
    /// sold and nobody else was charged, and reports the throughput.
    FlashSale(FlashSaleArgs),
    /// Cancel an event of many paid orders and time its refunds through the cancellation state
    /// machine; checks every order refunded exactly once.
    Cancellation(CancellationBenchArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The benches print their results and log only trouble.
    logging::init(LevelFilter::WARN);
    let outcome = match cli.command {
        Command::Seats(args) => seats::run(args).await,
        Command::Registrations(args) => registrations::run(args).await,
        Command::FlashSale(args) => flash_sale::run(args).await,
        Command::Cancellation(args) => cancellation::run(args).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ticketd-bench: {error}");
            ExitCode::FAILURE
        }
    }
}
