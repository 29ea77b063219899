//! A node agent simulator: talks to the portal's node API exactly as a node does (peers with
//! ETag, events with seqs, buffering and resending), with made-up traffic for the peers it is
//! given. For trying the API, for tests and for the benchmark.
//!
//!   phaze-node-agent poll --portal URL --token TOKEN
//!   phaze-node-agent simulate --portal URL --token TOKEN [--events 10000] [--batch 500]
use clap::{Parser, Subcommand};
use phaze_portal::agent::{NodeAgent, Poll};
use std::process::ExitCode;
use std::time::Instant;
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "phaze-node-agent", about = "Simulates a VPN node against the portal's node API")]
struct Cli {
    #[arg(long, env = "PORTAL_URL", default_value = "http://127.0.0.1:8000")]
    portal: String,
    /// The node's API token (base64url: it may begin with `-`).
    #[arg(long, env = "NODE_TOKEN", allow_hyphen_values = true)]
    token: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the peers list (and whether it changed since the ETag, when polled twice).
    Poll,
    /// Connect every peer, then send usage readings until `events` events were acked; prints
    /// events per second.
    Simulate {
        #[arg(long, default_value_t = 10_000)]
        events: usize,
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
}

fn clients(peers: &serde_json::Value) -> Vec<Uuid> {
    ["wireguard", "openvpn", "phazevpn"]
        .iter()
        .flat_map(|p| peers[p].as_array().cloned().unwrap_or_default())
        .filter_map(|peer| peer["client_id"].as_str().and_then(|id| id.parse().ok()))
        .collect()
}

async fn run(cli: Cli) -> Result<(), String> {
    let mut agent = NodeAgent::new(&cli.portal, &cli.token);
    let peers = match agent.poll_peers().await.map_err(|e| e.to_string())? {
        Poll::Changed(peers) => peers,
        Poll::Unchanged => unreachable!("the first poll has no ETag"),
    };
    match cli.command {
        Command::Poll => {
            println!("{}", serde_json::to_string_pretty(&peers).unwrap_or_default());
            let again = agent.poll_peers().await.map_err(|e| e.to_string())?;
            eprintln!("second poll: {}", if matches!(again, Poll::Unchanged) { "304 unchanged" } else { "changed" });
        }
        Command::Simulate { events, batch } => {
            let clients = clients(&peers);
            if clients.is_empty() {
                return Err("this node has no peers to simulate".into());
            }
            agent.batch_size = batch;
            let started = Instant::now();
            let mut sent = 0;
            let mut counters = vec![0u64; clients.len()];
            for (i, client) in clients.iter().enumerate() {
                agent.connect(*client, &format!("198.51.100.{}:{}", i % 250 + 1, 40000 + i % 20000));
                sent += 1;
            }
            while sent < events {
                for (i, client) in clients.iter().enumerate().take(events - sent) {
                    counters[i] += 1_000_000;
                    agent.usage(*client, counters[i], counters[i] / 10);
                    sent += 1;
                }
                if agent.pending() >= batch {
                    agent.flush().await.map_err(|e| e.to_string())?;
                }
            }
            agent.flush().await.map_err(|e| e.to_string())?;
            let seconds = started.elapsed().as_secs_f64();
            println!("events={sent} seconds={seconds:.3} rate={:.0}", sent as f64 / seconds);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("phaze-node-agent: {e}");
            ExitCode::FAILURE
        }
    }
}
