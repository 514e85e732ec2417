//! Where packets are copied for debugging: on-demand taps (`ha-vip
//! capture`) and the rotating file of `[capture]`. Idle costs nothing.

use std::time::{Instant, SystemTime};

use crate::capture::{self, Note, RotatingFile};

#[derive(Default)]
pub struct Capture {
    taps: Vec<(Instant, tokio::sync::mpsc::Sender<Vec<u8>>)>,
    pub file: Option<RotatingFile>,
}

impl Capture {
    pub fn active(&self) -> bool {
        !self.taps.is_empty() || self.file.is_some()
    }

    pub fn record(&mut self, iface: u32, data: &[u8], note: &Note<'_>) {
        let at = SystemTime::now();
        if let Some(f) = self.file.as_mut() {
            f.packet(iface, at, data, note);
        }
        if !self.taps.is_empty() {
            let block = capture::packet(iface, at, data, note);
            // A tap whose reader is gone or too slow is dropped.
            self.taps
                .retain(|(_, tx)| tx.try_send(block.clone()).is_ok());
        }
    }

    /// A new tap until `until`; it first gets the pcapng header.
    pub fn tap(&mut self, until: Instant, out: tokio::sync::mpsc::Sender<Vec<u8>>) {
        if out.try_send(capture::header()).is_ok() {
            self.taps.push((until, out));
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.taps.iter().map(|(until, _)| *until).min()
    }

    /// Close taps whose time is up (dropping the sender ends the stream).
    pub fn expire(&mut self, now: Instant) {
        self.taps.retain(|(until, _)| *until > now);
    }
}
