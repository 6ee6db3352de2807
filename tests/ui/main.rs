//! UI behaviour tests, one binary (each test binary costs a long link).

mod hello_lab;
mod labs;
mod offers;
mod plot_export;
mod shell;
mod small_screen;
mod start;
