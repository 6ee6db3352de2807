use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use gradlab::app::GradlabApp;
use gradlab::cli::{self, Cli};

fn main() -> ExitCode {
    // Before any thread exists: candle reads it once when its pool starts.
    prefer_serial_candle_elementwise();
    let args = Cli::parse();
    match &args.command {
        None => run_gui(&args),
        Some(cmd) => match cli::run(&args, cmd, gui_hooks()) {
            Ok((out, json)) => {
                let text = if json {
                    out.json.to_string()
                } else {
                    out.human
                };
                print_stdout(&text)
            }
            Err(e) => {
                // Written, not eprintln!: a closed stderr must not turn an error into a panic.
                let _ = writeln!(
                    std::io::stderr(),
                    "error: {}",
                    format!("{e:#}").replace('\n', " ")
                );
                ExitCode::FAILURE
            }
        },
    }
}

/// Prints a command's output. A reader that went away (`gradlab runs list | head -1`) ends the
/// command quietly with success, as for any Unix filter, never with a panic.
fn print_stdout(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: cannot write the output: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The GUI side of CLI commands: only the binary links the app into the CLI.
fn gui_hooks() -> cli::Hooks {
    cli::Hooks {
        ui_frames: Some(gradlab::app::frame_bench::ui_frames),
    }
}

fn run_gui(args: &Cli) -> ExitCode {
    let data_dir = args.data_dir();
    // Same folder as the CLI records into; without one the app runs and the Runs tab says why.
    let runs_dir = args.runs_dir().ok();
    let mut viewport = eframe::egui::ViewportBuilder::default();
    // The icon is built in; a broken one would be a build bug, so the default icon is fine then.
    if let Ok(icon) = eframe::icon_data::from_png_bytes(include_bytes!("../assets/icon.png")) {
        viewport = viewport.with_icon(icon);
    }
    let options = eframe::NativeOptions {
        viewport: viewport
            .with_title("gradlab")
            .with_app_id("gradlab")
            .with_inner_size(gradlab::app::window_size())
            .with_min_inner_size([720.0, 480.0]),
        ..Default::default()
    };
    let result = eframe::run_native(
        "gradlab",
        options,
        Box::new(move |cc| {
            Ok(Box::new(
                GradlabApp::from_storage(cc.storage, data_dir).with_runs_dir(runs_dir),
            ))
        }),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot open the window: {e}");
            ExitCode::FAILURE
        }
    }
}

/// candle 0.11 runs element-wise ops over 64k elements on a spinning thread barrier; for these
/// graph models that costs more than it saves (GAT epoch on Cora, 2 busy cores: 61 ms with one
/// candle thread, 164 ms with two). Our own kernels still use rayon. Only set when the user has
/// not chosen, and before candle's pool exists (it reads the variable once).
fn prefer_serial_candle_elementwise() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: called first thing in main, before this process starts other threads.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
}
