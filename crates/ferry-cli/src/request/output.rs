//! The response body to stdout or to a file.

use std::io::Write;
use std::path::Path;

use ferry::header;
use ferry::Response;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::exit::CliError;
use crate::show::{self, paint, Palette};

pub(super) fn write_error(e: std::io::Error) -> CliError {
    CliError::Local(format!("writing the output: {e}"))
}

/// The body for a person: JSON indented, binary withheld, text as is.
/// `n` counts the body bytes as they come.
pub(super) async fn print_pretty(
    resp: &mut Response,
    palette: &Palette,
    n: &mut u64,
) -> Result<(), CliError> {
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(show::is_json);
    let mut out = std::io::stdout();
    if json {
        let mut all = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            all.extend_from_slice(&chunk);
            *n += chunk.len() as u64;
        }
        let text = match serde_json::from_slice::<serde_json::Value>(&all) {
            Ok(v) => show::pretty_json(palette, &v).into_bytes(),
            Err(_) => all,
        };
        out.write_all(&text).map_err(write_error)?;
        if !text.ends_with(b"\n") && !text.is_empty() {
            out.write_all(b"\n").map_err(write_error)?;
        }
        out.flush().map_err(write_error)?;
        return Ok(());
    }
    let mut last = b'\n';
    let mut binary = false;
    while let Some(chunk) = resp.chunk().await? {
        if *n == 0 && show::looks_binary(&chunk) {
            binary = true;
        }
        *n += chunk.len() as u64;
        if !binary {
            out.write_all(&chunk).map_err(write_error)?;
            last = *chunk.last().unwrap_or(&last);
        }
    }
    if binary {
        let note = format!("[binary body of {n} bytes not shown: use -o FILE, or pipe the output]");
        writeln!(out, "{}", paint(palette.dim, &note)).map_err(write_error)?;
    } else if last != b'\n' {
        out.write_all(b"\n").map_err(write_error)?;
    }
    out.flush().map_err(write_error)?;
    Ok(())
}

/// The body to a file, with a progress bar when a person watches stderr.
/// `n` counts the bytes written.
pub(super) async fn download(
    resp: &mut Response,
    path: &Path,
    progress: bool,
    n: &mut u64,
) -> Result<(), CliError> {
    let file = std::fs::File::create(path)
        .map_err(|e| CliError::Local(format!("-o: cannot create {}: {e}", path.display())))?;
    let mut file = std::io::BufWriter::new(file);
    let bar = progress.then(|| match resp.content_length() {
        Some(len) => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(
                    "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{spinner} {bytes} {binary_bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    });
    let result = async {
        while let Some(chunk) = resp.chunk().await? {
            file.write_all(&chunk)
                .map_err(|e| CliError::Local(format!("-o: writing {}: {e}", path.display())))?;
            *n += chunk.len() as u64;
            if let Some(bar) = &bar {
                bar.set_position(*n);
            }
        }
        file.flush()
            .map_err(|e| CliError::Local(format!("-o: writing {}: {e}", path.display())))?;
        Ok::<_, CliError>(())
    }
    .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result
}
