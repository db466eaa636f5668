//! Progress for people at a terminal: one line per action in flight (a spinner, what it waits for,
//! how long it has run), finished actions scrolling above, and a bar for the whole plan below.
//!
//! A deploy of a distribution or a database takes minutes; the plain reporter's lines say little
//! while they wait, and a terminal can do better. Everything here goes to stderr, so stdout keeps
//! only the plan and the summary. The view is cleared when the run reports its summary and, in any
//! case, when the command ends ([`LiveReporter::finish`]), so neither a failure nor Ctrl-C leaves a
//! spinner on the screen. Without a terminal the CLI uses [`super::TerminalReporter`] instead.
//!
//! While the view is up, the terminal does not echo control characters: the `^C` it would print
//! for Ctrl-C moves the cursor under the view, which then redraws one line off and leaves stale
//! lines behind. The setting is put back when the view is cleared.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use provision_core::address::Address;
use provision_core::render::Paint;
use provision_core::reporter::{Event, Reporter};

use super::terminal_reporter::{doing, done};

pub struct LiveReporter {
    multi: MultiProgress,
    overall: ProgressBar,
    view: Mutex<View>,
    paint: Paint,
}

#[derive(Default)]
struct View {
    /// The line of each action in flight.
    lines: HashMap<Address, ProgressBar>,
    /// Whether the overall bar is on the screen (from the first start until the end).
    shown: bool,
    finished: bool,
    /// The width addresses are padded to, so messages line up.
    width: usize,
    /// The terminal's settings before the view turned control-character echo off.
    #[cfg(unix)]
    saved_termios: Option<libc::termios>,
}

impl Default for LiveReporter {
    fn default() -> Self {
        LiveReporter::new()
    }
}

impl LiveReporter {
    pub fn new() -> LiveReporter {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        // Hidden until the first action starts (the multi-progress then draws it): a plan with
        // nothing to do draws nothing.
        let overall = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden()).with_style(
            ProgressStyle::with_template("[{bar:30.cyan/blue}] {pos}/{len}  {elapsed_short}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key("elapsed_short", elapsed_key)
                .progress_chars("=> "),
        );
        LiveReporter { multi, overall, view: Mutex::new(View::default()), paint: Paint { enabled: true } }
    }

    /// Clears the view; what finished stays above. Safe to call more than once.
    pub fn finish(&self) {
        let mut view = self.view.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if view.finished {
            return;
        }
        view.finished = true;
        #[cfg(unix)]
        if let Some(saved) = view.saved_termios.take() {
            // SAFETY: restores the settings read from the same descriptor by `quiet_control_echo`.
            unsafe { libc::tcsetattr(libc::STDERR_FILENO, libc::TCSANOW, &saved) };
        }
        for (_, line) in view.lines.drain() {
            line.finish_and_clear();
            self.multi.remove(&line);
        }
        if view.shown {
            self.overall.finish_and_clear();
            self.multi.remove(&self.overall);
            let _ = self.multi.clear();
        }
    }

    fn print(&self, text: String) {
        let _ = self.multi.println(text);
    }

    fn line_style(width: usize) -> ProgressStyle {
        ProgressStyle::with_template(&format!(
            "{{spinner:.cyan}} {{prefix:{width}.bold}}  {{msg}} {{elapsed_short:.dim}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key("elapsed_short", elapsed_key)
        .tick_strings(&["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", "·"])
    }

    /// Room for a message on one line after the spinner, the address and the time.
    fn message_room(width: usize) -> usize {
        let columns = console_width();
        columns.saturating_sub(width + 12).max(20)
    }
}

impl Reporter for LiveReporter {
    fn report(&self, event: &Event) {
        let mut view = self.view.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if view.finished {
            return;
        }
        match event {
            Event::Plan { steps, plan } => {
                self.overall.set_length(*steps as u64);
                let longest = plan["actions"]
                    .as_array()
                    .map(|actions| {
                        actions.iter().filter_map(|a| a["address"].as_str()).map(str::len).max().unwrap_or(0)
                    })
                    .unwrap_or(0);
                view.width = longest.min(48);
            }
            Event::Started { address, action } => {
                if !view.shown {
                    view.shown = true;
                    #[cfg(unix)]
                    {
                        view.saved_termios = quiet_control_echo();
                    }
                    self.multi.add(self.overall.clone());
                    self.overall.enable_steady_tick(Duration::from_millis(500));
                }
                let width = view.width.max(address.to_string().len().min(48));
                let line = ProgressBar::new_spinner()
                    .with_style(LiveReporter::line_style(width))
                    .with_prefix(address.to_string())
                    .with_message(format!("{}…", doing(*action)));
                let line = self.multi.insert_before(&self.overall, line);
                line.enable_steady_tick(Duration::from_millis(120));
                view.lines.insert(address.clone(), line);
            }
            Event::Progress { address, message, .. } => {
                if let Some(line) = view.lines.get(address) {
                    let width = view.width;
                    line.set_message(one_line(message, LiveReporter::message_room(width)));
                }
            }
            Event::Finished { address, action, elapsed_s } => {
                if let Some(line) = view.lines.remove(address) {
                    line.finish_and_clear();
                    self.multi.remove(&line);
                }
                self.overall.inc(1);
                let width = view.width;
                self.print(format!(
                    "{} {}  {} {}",
                    self.paint.green("✓"),
                    self.paint.bold(&format!("{:<width$}", address.to_string())),
                    done(*action),
                    self.paint.dim(&format!("({elapsed_s:.1}s)"))
                ));
            }
            Event::Failed { address, action, message, elapsed_s } => {
                if let Some(line) = view.lines.remove(address) {
                    line.finish_and_clear();
                    self.multi.remove(&line);
                }
                self.overall.inc(1);
                let width = view.width;
                self.print(self.paint.red(&format!(
                    "✗ {:<width$}  {} failed after {elapsed_s:.1}s: {message}",
                    address.to_string(),
                    action.verb()
                )));
            }
            Event::Skipped { address, because } => {
                self.overall.inc(1);
                let width = view.width;
                self.print(
                    self.paint
                        .yellow(&format!("- {:<width$}  skipped because `{because}` failed", address.to_string())),
                );
            }
            Event::Cancelling { in_flight, reason } => {
                let what = if reason == "interrupted" {
                    "Interrupt received".to_string()
                } else {
                    format!("Stopping ({reason})")
                };
                self.print(
                    self.paint
                        .yellow(&format!("{what}: starting nothing new; finishing {in_flight} action(s) in flight…")),
                );
            }
            Event::Summary { .. } => {
                drop(view);
                self.finish();
            }
        }
    }
}

impl Drop for LiveReporter {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `6m02s`, `12s`: how long a line has run.
fn elapsed_key(state: &ProgressState, writer: &mut dyn std::fmt::Write) {
    let _ = writer.write_str(&short_duration(state.elapsed()));
}

pub fn short_duration(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    match seconds {
        0..=59 => format!("{seconds}s"),
        60..=3599 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, (seconds % 3600) / 60),
    }
}

/// The first line of a driver's message, cut to fit.
fn one_line(message: &str, room: usize) -> String {
    let first = message.lines().next().unwrap_or_default().trim();
    if first.chars().count() <= room {
        return first.to_string();
    }
    let cut: String = first.chars().take(room.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// Turns off the echo of control characters (`^C`) on the terminal; the settings to restore.
#[cfg(unix)]
fn quiet_control_echo() -> Option<libc::termios> {
    // SAFETY: tcgetattr fills the `termios` we pass; tcsetattr reads it. Only stderr's terminal
    // is touched, and only its ECHOCTL flag changes.
    unsafe {
        let mut settings: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(libc::STDERR_FILENO, &mut settings) != 0 {
            return None;
        }
        let saved = settings;
        settings.c_lflag &= !libc::ECHOCTL;
        (libc::tcsetattr(libc::STDERR_FILENO, libc::TCSANOW, &settings) == 0).then_some(saved)
    }
}

fn console_width() -> usize {
    // SAFETY: TIOCGWINSZ fills the `winsize` we pass; nothing else is touched.
    #[cfg(unix)]
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) == 0 && size.ws_col > 0 {
            return usize::from(size.ws_col);
        }
    }
    80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(short_duration(Duration::from_secs(7)), "7s");
        assert_eq!(short_duration(Duration::from_secs(130)), "2m10s");
        assert_eq!(short_duration(Duration::from_secs(3 * 3600 + 61)), "3h01m");
    }

    #[test]
    fn long_messages_keep_their_first_line_and_fit() {
        assert_eq!(one_line("2/3 tasks healthy\nevent: started 1 task", 40), "2/3 tasks healthy");
        assert_eq!(one_line("abcdefghij", 5), "abcd…");
    }
}
