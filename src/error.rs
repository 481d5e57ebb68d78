//! One error type for the whole program. Every message is one line that names the file and
//! what is wrong with it; the exit code tells scripts whether the input was at fault (2) or
//! something else failed (1).

use std::fmt;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The user's input (a file, an option) is wrong: exit code 2.
    Input,
    /// Anything else (I/O, libtorch): exit code 1.
    Runtime,
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn input(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Input,
            message: message.into(),
        }
    }

    /// An input error about one file: "FILE: what is wrong".
    pub fn file(path: &Path, message: impl fmt::Display) -> Self {
        Error::input(format!("{}: {message}", path.display()))
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Runtime,
            message: message.into(),
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Input => 2,
            ErrorKind::Runtime => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep it on one line whatever the underlying library put in its message.
        f.write_str(&self.message.replace('\n', " "))
    }
}

impl std::error::Error for Error {}

impl From<tch::TchError> for Error {
    fn from(e: tch::TchError) -> Self {
        Error::runtime(format!("libtorch: {e}"))
    }
}

/// Attach a path to an I/O error: "PATH: cannot write (No space left on device)".
pub trait IoContext<T> {
    fn at(self, path: &Path, what: &str) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &Path, what: &str) -> Result<T> {
        self.map_err(|e| Error::runtime(format!("{}: cannot {what} ({e})", path.display())))
    }
}
