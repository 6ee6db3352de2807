use std::process::ExitCode;

use clap::Parser;
use gradlab::app::GradlabApp;
use gradlab::cli::{self, Cli};

fn main() -> ExitCode {
    // Before any thread exists: candle reads it once when its pool starts.
    cli::graph::prefer_serial_candle_elementwise();
    let args = Cli::parse();
    match &args.command {
        None => run_gui(&args),
        Some(cmd) => match cli::run(&args, cmd) {
            Ok((out, json)) => {
                if json {
                    println!("{}", out.json);
                } else {
                    println!("{}", out.human);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
                ExitCode::FAILURE
            }
        },
    }
}

fn run_gui(args: &Cli) -> ExitCode {
    let data_dir = args.data_dir();
    let mut viewport = eframe::egui::ViewportBuilder::default();
    // The icon is built in; a broken one would be a build bug, so the default icon is fine then.
    if let Ok(icon) = eframe::icon_data::from_png_bytes(include_bytes!("../assets/icon.png")) {
        viewport = viewport.with_icon(icon);
    }
    let options = eframe::NativeOptions {
        viewport: viewport
            .with_title("gradlab")
            .with_app_id("gradlab")
            .with_inner_size([1280.0, 820.0])
            .with_min_inner_size([720.0, 480.0]),
        ..Default::default()
    };
    let result = eframe::run_native(
        "gradlab",
        options,
        Box::new(move |cc| Ok(Box::new(GradlabApp::from_storage(cc.storage, data_dir)))),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot open the window: {e}");
            ExitCode::FAILURE
        }
    }
}
