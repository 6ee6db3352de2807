//! UI behaviour tests, one binary (each test binary costs a long link).

mod plot_export;
mod shell;
