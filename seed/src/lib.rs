//! Data for Stroom API, kept out of the service: the Stroom demo (the City of Mechelen's case,
//! loaded into a new database) and the synthetic data set the benchmarks run on.
pub mod demo;
pub mod generate;

pub use generate::{Scale, generate};
