//! Where a run writes while it runs, how it marks the points it can resume from, and how it
//! replaces what `--out` held once it ends.
//!
//! A run writes into `OUT/.infoplane-run/` (the staging directory): its CSV files, a
//! `manifest.json` with status `running` and the command that started it, and a
//! `checkpoint` file that says how far the CSV files are good and holds the training state
//! at that point. Nothing in `OUT` itself changes while the run runs. When the run ends,
//! finished or failed, its files are moved into `OUT` (the manifest last, saying which) and
//! the staging directory is removed. A run that is killed leaves `OUT` as it was and its
//! staging directory behind, from which `run --resume OUT` goes on.
//!
//! The checkpoint file is replaced whole (written beside it, then renamed), so it is always
//! one complete checkpoint: the bytes of each CSV file that belong to it, the number of
//! seeds finished, and the core [`Checkpoint`] of the seed being written, if any. Rows after
//! it are written again on resume, the same bytes, so the files are cut back to it first.

use super::run::is_run_file;
use crate::error::CliError;
use infoplane_core::experiment::Checkpoint;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The staging directory's name inside `--out`.
pub const STAGING: &str = ".infoplane-run";
/// The checkpoint file's name in the staging directory.
pub const CHECKPOINT: &str = "checkpoint";
/// The first bytes of a checkpoint file.
const MAGIC: &[u8; 8] = b"IPRESUME";
/// The CSV files a checkpoint measures, in the order of [`Resume::lengths`].
pub const CSV_FILES: [&str; 3] = ["plane.csv", "metrics.csv", "layers.csv"];

/// The staging directory of `out`.
#[must_use]
pub fn staging(out: &Path) -> PathBuf {
    out.join(STAGING)
}

/// A point a run can go on from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    /// Seeds (in the run's order) whose rows are all written.
    pub seeds_done: usize,
    /// Bytes of `plane.csv`, `metrics.csv` and `layers.csv` that belong to this point.
    pub lengths: [u64; 3],
    /// The training state of the seed after the finished ones, right after its last written
    /// row; `None`: that seed starts from the beginning.
    pub state: Option<Checkpoint>,
}

impl Resume {
    /// The file's bytes: magic, seeds finished, the three lengths, whether a state follows,
    /// the state, and the SHA-256 of everything before it.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(
            8 + 8 * 4 + 1 + self.state.as_ref().map_or(0, Checkpoint::encoded_len) + 32,
        );
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&(self.seeds_done as u64).to_le_bytes());
        for l in self.lengths {
            b.extend_from_slice(&l.to_le_bytes());
        }
        b.push(u8::from(self.state.is_some()));
        if let Some(s) = &self.state {
            s.write(&mut b);
        }
        let hash = Sha256::digest(&b);
        b.extend_from_slice(&hash);
        b
    }

    /// Reads [`Resume::encode`]'s bytes.
    ///
    /// # Errors
    /// A data error naming `path` for anything else (a torn or foreign file).
    pub fn decode(bytes: &[u8], path: &Path) -> Result<Self, CliError> {
        let bad = |what: &str| {
            CliError::data(
                path,
                None,
                None,
                format!("{what}: not a checkpoint of this version, or damaged"),
            )
        };
        let (body, hash) = bytes
            .split_last_chunk::<32>()
            .ok_or_else(|| bad("too short"))?;
        if Sha256::digest(body).as_slice() != hash {
            return Err(bad("the checksum does not match"));
        }
        let (magic, rest) = body
            .split_first_chunk::<8>()
            .ok_or_else(|| bad("too short"))?;
        if magic != MAGIC {
            return Err(bad("wrong magic"));
        }
        let mut words = [0u64; 4];
        let mut rest = rest;
        for w in &mut words {
            let (head, tail) = rest
                .split_first_chunk::<8>()
                .ok_or_else(|| bad("too short"))?;
            *w = u64::from_le_bytes(*head);
            rest = tail;
        }
        let [done, plane, metrics, layers] = words;
        let (&flag, rest) = rest.split_first().ok_or_else(|| bad("too short"))?;
        let state = match (flag, rest) {
            (0, []) => None,
            (1, s) => Some(Checkpoint::read(s).map_err(|_| bad("the training state"))?),
            _ => return Err(bad("the state flag")),
        };
        Ok(Self {
            seeds_done: usize::try_from(done).map_err(|_| bad("seeds"))?,
            lengths: [plane, metrics, layers],
            state,
        })
    }
}

/// Replaces the checkpoint in `staging` with `r`: written beside it and renamed over it, so
/// a kill at any moment leaves the old one or the new one, whole.
///
/// # Errors
/// I/O errors naming the file.
pub fn save(staging: &Path, r: &Resume) -> Result<(), CliError> {
    let tmp = staging.join("checkpoint.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, &r.encode())?;
        // On disk before it replaces the old one (the CSV files were synced before it).
        f.sync_data()
    };
    write().map_err(|e| CliError::io(&tmp, e))?;
    let path = staging.join(CHECKPOINT);
    std::fs::rename(&tmp, &path).map_err(|e| CliError::io(&path, e))
}

/// The checkpoint in `staging`, if one was saved.
///
/// # Errors
/// I/O and data errors naming the file.
pub fn load(staging: &Path) -> Result<Option<Resume>, CliError> {
    let path = staging.join(CHECKPOINT);
    match std::fs::read(&path) {
        Ok(bytes) => Resume::decode(&bytes, &path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::io(&path, e)),
    }
}

/// The file in the staging directory that lists what is being moved into `--out`.
const PUBLISHING: &str = "publishing";

/// Whether a staged run had ended and was being moved into `--out` when it stopped.
#[must_use]
pub fn is_publishing(staging: &Path) -> bool {
    staging.join(PUBLISHING).is_file()
}

/// Moves a run that has ended from `staging` into `out`. The list of its files is written
/// first, so a move that is killed halfway can be finished ([`finish_publish`]): the old
/// manifest is removed, then the run files of `out` that the new run does not have, then
/// each staged file is renamed over its namesake, `manifest.json` last, and `staging` is
/// removed.
///
/// # Errors
/// I/O errors naming the file.
pub fn publish(staging: &Path, out: &Path) -> Result<(), CliError> {
    let mut names: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(staging).map_err(|e| CliError::io(staging, e))? {
        let entry = entry.map_err(|e| CliError::io(staging, e))?;
        if let Some(n) = entry.file_name().to_str().filter(|n| is_run_file(n)) {
            names.push(n.to_owned());
        }
    }
    names.sort_by(|a, b| (a == "manifest.json", a).cmp(&(b == "manifest.json", b)));
    let list = staging.join(PUBLISHING);
    let tmp = staging.join("publishing.tmp");
    std::fs::write(&tmp, names.join("\n")).map_err(|e| CliError::io(&tmp, e))?;
    std::fs::rename(&tmp, &list).map_err(|e| CliError::io(&list, e))?;
    finish_publish(staging, out)
}

/// Finishes [`publish`] from its list of files (again from the start if it was killed).
///
/// # Errors
/// I/O errors naming the file.
pub fn finish_publish(staging: &Path, out: &Path) -> Result<(), CliError> {
    let list = staging.join(PUBLISHING);
    let text = std::fs::read_to_string(&list).map_err(|e| CliError::io(&list, e))?;
    let names: Vec<&str> = text.lines().filter(|n| is_run_file(n)).collect();
    let old_manifest = out.join("manifest.json");
    if staging.join("manifest.json").exists() && old_manifest.exists() {
        // From here `out` claims no run until the new manifest is in.
        std::fs::remove_file(&old_manifest).map_err(|e| CliError::io(&old_manifest, e))?;
    }
    for entry in std::fs::read_dir(out).map_err(|e| CliError::io(out, e))? {
        let entry = entry.map_err(|e| CliError::io(out, e))?;
        let name = entry.file_name();
        if name
            .to_str()
            .is_some_and(|n| is_run_file(n) && !names.contains(&n))
        {
            let p = entry.path();
            std::fs::remove_file(&p).map_err(|e| CliError::io(&p, e))?;
        }
    }
    for n in names {
        let from = staging.join(n);
        if from.exists() {
            let to = out.join(n);
            std::fs::rename(&from, &to).map_err(|e| CliError::io(&to, e))?;
        }
    }
    // What is left (the checkpoint, temporary files), then the list, then the directory: a
    // kill at any point leaves the list while anything else is left, so a resume finishes.
    for entry in std::fs::read_dir(staging).map_err(|e| CliError::io(staging, e))? {
        let p = entry.map_err(|e| CliError::io(staging, e))?.path();
        if p != list {
            let r = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            r.map_err(|e| CliError::io(&p, e))?;
        }
    }
    std::fs::remove_file(&list).map_err(|e| CliError::io(&list, e))?;
    std::fs::remove_dir(staging).map_err(|e| CliError::io(staging, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn resume_points_round_trip_and_damage_is_an_error() {
        let ck = Checkpoint {
            seed: 3,
            epoch: 9,
            epochs_done: 10,
            step: 77,
            shuffle_draws: 5,
            params: vec![0.25, -1.0],
            state: vec![],
            order: vec![1, 0],
            pool: vec![0.5, 2.0],
        };
        let path = Path::new("x/checkpoint");
        for r in [
            Resume {
                seeds_done: 2,
                lengths: [100, 200, 300],
                state: Some(ck),
            },
            Resume {
                seeds_done: 0,
                lengths: [41, 42, 43],
                state: None,
            },
        ] {
            let bytes = r.encode();
            assert_eq!(Resume::decode(&bytes, path).unwrap(), r);
            for n in 0..bytes.len() {
                let e = Resume::decode(&bytes[..n], path).unwrap_err().to_string();
                assert!(e.contains("x/checkpoint"), "{e}");
            }
            for i in 0..bytes.len() {
                let mut b = bytes.clone();
                b[i] ^= 1;
                assert!(Resume::decode(&b, path).is_err(), "byte {i}");
            }
        }
    }
}
