//! A progress bar on stderr for work that takes over a second, hidden when
//! stderr is not a terminal (indicatif does not draw there).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `--quiet`: no warnings, notes or progress on stderr.
pub static QUIET: AtomicBool = AtomicBool::new(false);

/// Whether `--quiet` was given.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

pub struct Bar {
    bar: ProgressBar,
    start: Instant,
    shown: AtomicBool,
}

impl Bar {
    pub fn new(what: &'static str) -> Bar {
        Self::with_template(what, "{msg} {bar:30} {pos}/{len} batches, eta {eta}")
    }

    /// A bar counting rows, with the rate.
    pub fn rows(what: &'static str) -> Bar {
        Self::with_template(
            what,
            "{msg} {bar:30} {human_pos}/{human_len} rows, {per_sec}, eta {eta}",
        )
    }

    fn with_template(what: &'static str, template: &str) -> Bar {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_message(what);
        Bar {
            bar,
            start: Instant::now(),
            shown: AtomicBool::new(false),
        }
    }

    /// Records progress; the bar appears once the work has taken a second.
    pub fn update(&self, done: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
        if self.start.elapsed() > Duration::from_secs(1)
            && !quiet()
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Runs `work` under a bar named `what`, cleared when it ends.
pub fn with_bar<T>(
    what: &'static str,
    work: impl FnOnce(&(dyn Fn(usize, usize) + Sync)) -> T,
) -> T {
    let bar = Bar::new(what);
    let out = work(&|done, total| bar.update(done, total));
    bar.finish();
    out
}
