//! Machine logs: each Machine's stdout and stderr, captured line by line
//! into a JSON-lines file with size-based rotation, and broadcast to
//! followers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::broadcast;

/// One captured line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// RFC 3339 with nanoseconds.
    pub timestamp: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    pub message: String,
    pub instance_id: String,
}

/// Rotation limits.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    /// A file is rotated once it grows past this many bytes.
    pub max_bytes: u64,
    /// Rotated files kept besides the current one.
    pub keep: usize,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_bytes: 10 * 1024 * 1024,
            keep: 3,
        }
    }
}

/// The log files of every Machine on this host.
#[derive(Clone)]
pub struct LogBook {
    dir: PathBuf,
    rotation: Rotation,
    writers: Arc<Mutex<HashMap<String, Arc<MachineLog>>>>,
}

/// The log of one Machine.
pub struct MachineLog {
    path: PathBuf,
    rotation: Rotation,
    file: Mutex<Option<std::fs::File>>,
    tx: broadcast::Sender<LogLine>,
}

impl LogBook {
    pub fn new(dir: &Path, rotation: Rotation) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(LogBook {
            dir: dir.to_path_buf(),
            rotation,
            writers: Arc::default(),
        })
    }

    /// The log of a Machine, created on first use.
    pub fn machine(&self, machine_id: &str) -> Arc<MachineLog> {
        let mut writers = self.writers.lock().unwrap();
        writers
            .entry(machine_id.to_string())
            .or_insert_with(|| {
                let (tx, _) = broadcast::channel(1024);
                Arc::new(MachineLog {
                    path: self.dir.join(format!("{machine_id}.log")),
                    rotation: self.rotation,
                    file: Mutex::new(None),
                    tx,
                })
            })
            .clone()
    }

    /// Removes a destroyed Machine's logs.
    pub fn remove(&self, machine_id: &str) {
        let log = self.writers.lock().unwrap().remove(machine_id);
        let path = log
            .map(|l| l.path.clone())
            .unwrap_or_else(|| self.dir.join(format!("{machine_id}.log")));
        let _ = std::fs::remove_file(&path);
        for n in 1..=self.rotation.keep {
            let _ = std::fs::remove_file(rotated(&path, n));
        }
    }
}

fn rotated(path: &Path, n: usize) -> PathBuf {
    PathBuf::from(format!("{}.{n}", path.display()))
}

impl MachineLog {
    /// Appends one line, rotating first if the file is full.
    pub fn append(&self, line: &LogLine) {
        use std::io::Write;
        let mut encoded = serde_json::to_vec(line).unwrap_or_default();
        encoded.push(b'\n');
        let mut guard = self.file.lock().unwrap();
        let size = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if size > 0 && size + encoded.len() as u64 > self.rotation.max_bytes {
            *guard = None;
            for n in (1..self.rotation.keep).rev() {
                let _ = std::fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1));
            }
            if self.rotation.keep > 0 {
                let _ = std::fs::rename(&self.path, rotated(&self.path, 1));
            } else {
                let _ = std::fs::remove_file(&self.path);
            }
        }
        if guard.is_none() {
            *guard = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .ok();
        }
        if let Some(file) = guard.as_mut() {
            if let Err(err) = file.write_all(&encoded) {
                tracing::warn!(path = %self.path.display(), %err, "cannot write machine log");
            }
        }
        drop(guard);
        let _ = self.tx.send(line.clone());
    }

    /// The last `tail` lines on disk, oldest first (across rotated files).
    pub fn read_tail(&self, tail: usize) -> Vec<LogLine> {
        let mut files: Vec<PathBuf> = (1..=self.rotation.keep)
            .rev()
            .map(|n| rotated(&self.path, n))
            .collect();
        files.push(self.path.clone());
        let mut lines = Vec::new();
        for file in files {
            if let Ok(text) = std::fs::read_to_string(&file) {
                lines.extend(
                    text.lines()
                        .filter_map(|l| serde_json::from_str::<LogLine>(l).ok()),
                );
            }
        }
        let skip = lines.len().saturating_sub(tail);
        lines.split_off(skip)
    }

    /// Lines appended from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.tx.subscribe()
    }

    /// Copies a stream into this log until it ends.
    pub fn pump(
        self: Arc<Self>,
        reader: impl AsyncRead + Send + Unpin + 'static,
        stream: &'static str,
        instance_id: String,
    ) {
        tokio::spawn(async move {
            let mut reader = BufReader::new(reader);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                            buf.pop();
                        }
                        self.append(&LogLine {
                            timestamp:
                                humantime::format_rfc3339_nanos(std::time::SystemTime::now())
                                    .to_string(),
                            stream: stream.to_string(),
                            message: String::from_utf8_lossy(&buf).into_owned(),
                            instance_id: instance_id.clone(),
                        });
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(i: usize) -> LogLine {
        LogLine {
            timestamp: "2026-01-01T00:00:00Z".into(),
            stream: "stdout".into(),
            message: format!("line {i:04} {}", "x".repeat(80)),
            instance_id: "I".into(),
        }
    }

    #[test]
    fn rotates_by_size_and_keeps_the_newest_lines() {
        let dir = std::env::temp_dir().join(format!("hangar-logs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let book = LogBook::new(
            &dir,
            Rotation {
                max_bytes: 4096,
                keep: 2,
            },
        )
        .unwrap();
        let log = book.machine("m1");
        for i in 0..200 {
            log.append(&line(i));
        }
        assert!(std::fs::metadata(dir.join("m1.log")).unwrap().len() <= 4096);
        assert!(dir.join("m1.log.2").exists());
        assert!(!dir.join("m1.log.3").exists());
        let tail = log.read_tail(5);
        assert_eq!(tail.len(), 5);
        assert!(tail[4].message.starts_with("line 0199"));
        book.remove("m1");
        assert!(!dir.join("m1.log").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
