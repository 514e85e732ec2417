//! `ha-vip decode`: read pcap/pcapng files and print every VRRP packet.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `ha-vip decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// A pcap or pcapng file.
    pub file: PathBuf,
    /// One JSON object per packet instead of one line.
    #[arg(long)]
    pub json: bool,
}

pub fn decode_main(_args: DecodeArgs) -> ExitCode {
    eprintln!("ha-vip decode: not implemented yet");
    ExitCode::FAILURE
}
