//! The CLI's error type: core errors with file, line, column or option context (R12).

use std::fmt;
use std::path::{Path, PathBuf};

/// Everything the CLI reports as `error: …`.
#[derive(Debug)]
pub enum CliError {
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        source: std::io::Error,
    },
    /// A data file is malformed at a position.
    Data {
        /// The file.
        path: PathBuf,
        /// 1-based line, if known.
        line: Option<u64>,
        /// 1-based column, if known.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A command-line option has a bad value.
    Option {
        /// The option, e.g. `--layers`.
        option: String,
        /// What is wrong.
        message: String,
    },
    /// The core rejected the work.
    Core {
        /// What was being done.
        context: String,
        /// The core's error.
        source: infoplane_core::Error,
    },
    /// Anything else, with a message.
    Other(String),
    /// The machine could not do the work now (a thread that would not start, a worker that
    /// went away): nothing about the run is wrong, and a staged run can be resumed.
    Resource(String),
    /// An error with a note on what was kept or how to go on, printed after it.
    Noted {
        /// The error.
        error: Box<CliError>,
        /// The note.
        note: String,
    },
}

impl CliError {
    /// A data error at `path`, `line`, `column`.
    pub fn data(
        path: &Path,
        line: Option<u64>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self::Data {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// An option error.
    pub fn option(option: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Option {
            option: option.into(),
            message: message.into(),
        }
    }

    /// A core error, with the option it concerns when it names a parameter: the core's
    /// `snake_case` parameter name becomes the option (`noise_var` → `--noise-var`), the value
    /// given (if known) is echoed, and the core's description of what is accepted follows.
    /// Other core errors keep `context`.
    pub fn from_core(
        context: impl Into<String>,
        e: infoplane_core::Error,
        given: impl Fn(&str) -> Option<String>,
    ) -> Self {
        match e {
            infoplane_core::Error::InvalidParameter { name } => {
                let option = option_name(name);
                let accepts = infoplane_core::experiment::accepts(name).unwrap_or("a valid value");
                let message = match given(name) {
                    Some(v) => format!("{v:?} is not accepted: expected {accepts}"),
                    None => format!("expected {accepts}"),
                };
                Self::Option { option, message }
            }
            other => Self::core(context, other),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A core error while doing `context`.
    pub fn core(context: impl Into<String>, source: infoplane_core::Error) -> Self {
        Self::Core {
            context: context.into(),
            source,
        }
    }

    /// This error with `note` printed after it.
    #[must_use]
    pub fn noted(self, note: impl Into<String>) -> Self {
        Self::Noted {
            error: Box::new(self),
            note: note.into(),
        }
    }

    /// Whether this is a [`CliError::Resource`] error (possibly noted).
    #[must_use]
    pub fn is_resource(&self) -> bool {
        match self {
            Self::Resource(_) => true,
            Self::Noted { error, .. } => error.is_resource(),
            _ => false,
        }
    }

    /// The note printed after the error (and its hint): what was kept, how to go on.
    #[must_use]
    pub fn note(&self) -> Option<&str> {
        match self {
            Self::Noted { note, .. } => Some(note),
            _ => None,
        }
    }

    /// A hint printed after the error, if one helps.
    #[must_use]
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::Noted { error, .. } => error.hint(),
            Self::Option { option, .. } => match option.as_str() {
                "--range" => Some("write the value with `=`, e.g. --range=-1,1"),
                "--layers" => Some("give hidden widths only, e.g. --layers 10,7,5,4,3"),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The command-line option for a core parameter name: `--` and the name with `-` for `_`
/// (`estimators` is the repeatable `--estimator`).
#[must_use]
pub fn option_name(param: &str) -> String {
    match param {
        "estimators" => "--estimator".to_owned(),
        p => format!("--{}", p.replace('_', "-")),
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Data {
                path,
                line,
                column,
                message,
            } => {
                write!(f, "{}", path.display())?;
                if let Some(l) = line {
                    write!(f, ": line {l}")?;
                }
                if let Some(c) = column {
                    write!(f, ", column {c}")?;
                }
                write!(f, ": {message}")
            }
            Self::Option { option, message } => write!(f, "{option}: {message}"),
            Self::Core {
                context,
                source: infoplane_core::Error::InvalidParameter { name },
            } if infoplane_core::experiment::accepts(name).is_some() => write!(
                f,
                "{context}: {} is not accepted: expected {}",
                option_name(name),
                infoplane_core::experiment::accepts(name).unwrap_or_default()
            ),
            Self::Core { context, source } => write!(f, "{context}: {source}"),
            Self::Other(m) | Self::Resource(m) => f.write_str(m),
            Self::Noted { error, .. } => error.fmt(f),
        }
    }
}

impl std::error::Error for CliError {}
