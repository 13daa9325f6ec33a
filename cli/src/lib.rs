//! The `infoplane` command line: parse, call the core, write results (R22).
//!
//! The library half exists so tests and fuzzers can call the I/O and the commands in-process.
#![forbid(unsafe_code)]

pub mod args;
pub mod arrays;
pub mod cmd;
pub mod error;
pub mod figures;
pub mod honest;
pub mod io;
pub mod mnist;
pub mod par;
pub mod plot;
pub mod progress;
pub mod svg;

use infoplane_core::Isa;

/// Sets the kernels' instruction-set level from `--simd` (`option`), else the environment
/// variable `INFOPLANE_SIMD`, else the best the CPU has. `auto` is the best.
///
/// # Errors
/// [`error::CliError::Option`] naming the option (or the variable) for an unknown level or one
/// this CPU cannot run, with the levels it can.
pub fn choose_simd(option: Option<&str>) -> Result<Isa, error::CliError> {
    let env = std::env::var("INFOPLANE_SIMD").ok();
    let (source, value) = match (option, env.as_deref()) {
        (Some(v), _) => ("--simd", v),
        (None, Some(v)) if !v.is_empty() => ("INFOPLANE_SIMD", v),
        _ => ("--simd", "auto"),
    };
    let available = || {
        Isa::ALL
            .into_iter()
            .filter(|i| i.is_available())
            .map(Isa::name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let bad = |message: String| error::CliError::Option {
        option: source.to_owned(),
        message,
    };
    let isa = if value == "auto" {
        None
    } else {
        let isa = Isa::from_name(value).ok_or_else(|| {
            bad(format!(
                "unknown level `{value}` (expected auto, {})",
                Isa::ALL.map(Isa::name).join(", ")
            ))
        })?;
        if !isa.is_available() {
            return Err(bad(format!(
                "this CPU cannot run `{value}` (it can run: {})",
                available()
            )));
        }
        Some(isa)
    };
    infoplane_core::simd::force(isa).map_err(|e| bad(e.to_string()))?;
    Ok(Isa::active())
}
