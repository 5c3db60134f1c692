//! `auditrail import FILE…`: files read one after another, with a progress bar over their
//! bytes when standard error is a terminal.

use std::fs::File;
use std::path::PathBuf;

use anyhow::Context;
use auditrail_storage::Store;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Format, Summary, import, records};

pub async fn import_files(
    store: &Store,
    format: Format,
    project: &str,
    files: &[PathBuf],
) -> anyhow::Result<Summary> {
    let mut total = 0;
    for file in files {
        total +=
            std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?.len();
    }
    // indicatif draws nothing when standard error is not a terminal.
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut all = Summary::default();
    for path in files {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let done = all.clone();
        let summary = import(store, format, project, records(bar.wrap_read(file)), |s| {
            bar.set_message(format!(
                "{} records: {} stored, {} already there, {} refused",
                done.read + s.read,
                done.stored + s.stored,
                done.already + s.already,
                done.refused + s.refused
            ));
        })
        .await
        .with_context(|| format!("importing {}", path.display()))?;
        all.absorb(summary, &path.display().to_string());
    }
    bar.finish_and_clear();
    Ok(all)
}
