//! UI behaviour tests, one binary (each test binary costs a long link).

mod hello_lab;
mod labs;
mod offers;
mod plot_export;
mod shell;
mod small_screen;
mod start;

/// The app as a first start shows it: default settings, datasets and exports in `dir`.
pub fn fresh_app(dir: &std::path::Path) -> gradlab::app::GradlabApp {
    gradlab::app::GradlabApp::new(
        gradlab::app::Settings::default(),
        dir.join("datasets"),
        gradlab::widgets::files::FileTasks::fixed_dir(dir),
    )
}
