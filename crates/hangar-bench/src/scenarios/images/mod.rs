//! Images: build and deploy time of the example app with each builder
//! (`build`), and pull-and-start time of a ~100 MB image with and without
//! its layers present (`pull`). Both push to the platform's built-in
//! registry and start Machines through the platform's API.

pub mod build;
pub mod pull;
mod registry;

use std::time::Duration;

/// Seconds with two decimals, for the tables.
fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}
