//! Where `file:` passwords come from: files and standard input (with a no-echo prompt when
//! standard input is a terminal). Kept behind [`PasswordSource`] so the grammar can be tested
//! and fuzzed without touching the file system or the terminal.

use std::io::{self, Read, Write};
use std::os::fd::BorrowedFd;
use std::path::Path;

use zeroize::Zeroizing;

use crate::files::FileError;

/// Supplies the bytes behind `file:PATH` and `file:-`.
///
/// The parser passes `limit` = one more byte than it accepts; an implementation returns at
/// most `limit` bytes, so returning exactly `limit` tells the parser the input was too long
/// without anyone having to hold all of it.
pub trait PasswordSource {
    /// The contents of `path`, at most `limit` bytes.
    fn read_file(&mut self, path: &Path, limit: usize) -> io::Result<Zeroizing<Vec<u8>>>;
    /// Standard input, at most `limit` bytes (prompting without echo when it is a terminal, for the
    /// system source).
    fn read_stdin(&mut self, limit: usize) -> io::Result<Zeroizing<Vec<u8>>>;
}

/// The real file system and standard input. When standard input is a terminal the user is
/// prompted (on the controlling terminal, or stderr) and the typed line is not echoed; the
/// terminal's previous mode is restored before returning, on success and on error. No signal
/// handlers are installed (a library must not take over the process's signals), so a SIGINT
/// while the prompt is open leaves echo off, as with most password prompts; a CLI that cares
/// can restore the terminal in its own handler.
///
/// Standard input is read from file descriptor 0 directly, bypassing `std::io::stdin()`'s
/// buffer, because that buffer lives for the whole process and is never zeroized. Anything
/// already buffered there by earlier `stdin()` reads is therefore not seen. Standard input
/// that is not a terminal, and `file:` paths that are FIFOs or devices, must deliver within
/// [`crate::files::input_timeout`] (30 s unless `TPM2_WIRE_INPUT_TIMEOUT` says otherwise).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemPasswordSource;

impl PasswordSource for SystemPasswordSource {
    /// A regular file, FIFO or character device, read with the same bound and timeout as
    /// every other input (see [`crate::files::read_bounded`]).
    fn read_file(&mut self, path: &Path, limit: usize) -> io::Result<Zeroizing<Vec<u8>>> {
        crate::files::read_prefix(path, limit, crate::files::input_timeout()).map_err(to_io)
    }

    /// A terminal is prompted and waited for as long as the user takes; anything else (a pipe,
    /// a file) must deliver within [`crate::files::input_timeout`].
    fn read_stdin(&mut self, limit: usize) -> io::Result<Zeroizing<Vec<u8>>> {
        let stdin = crate::os::stdin();
        if crate::os::isatty(stdin) {
            let mut prompt_to = prompt_writer();
            read_tty_line(stdin, &mut prompt_to, "Enter password: ", limit)
        } else {
            crate::files::read_stdin_prefix(limit, crate::files::input_timeout()).map_err(to_io)
        }
    }
}

/// The trait speaks io::Error, and the parser adds the path: keep the kind (NotFound stays
/// NotFound) and the message without a second copy of the path.
fn to_io(e: FileError) -> io::Error {
    match e {
        FileError::Io { error, .. } => error,
        other => {
            let kind = match other.without_path() {
                FileError::Timeout { .. } => io::ErrorKind::TimedOut,
                _ => io::ErrorKind::InvalidInput,
            };
            io::Error::new(kind, other.without_path().to_string())
        }
    }
}

/// A source that refuses every read: for callers (and the fuzzer) that must parse the grammar
/// of untrusted strings without ever touching files or standard input.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPasswordFiles;

impl PasswordSource for NoPasswordFiles {
    fn read_file(&mut self, _path: &Path, _limit: usize) -> io::Result<Zeroizing<Vec<u8>>> {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "reading password files is disabled",
        ))
    }

    fn read_stdin(&mut self, _limit: usize) -> io::Result<Zeroizing<Vec<u8>>> {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "reading passwords from standard input is disabled",
        ))
    }
}

/// Reads until end of input or until `limit` bytes, whichever comes first. The buffer is
/// allocated once at full size so it never reallocates: a reallocation would leave an
/// unzeroized copy of the secret behind in the old allocation.
pub fn read_capped<R: Read>(mut reader: R, limit: usize) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(vec![0u8; limit]);
    let mut filled = 0;
    while filled < limit {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n.min(limit - filled),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    // truncate keeps the allocation; Zeroizing wipes the whole capacity on drop.
    buf.truncate(filled);
    Ok(buf)
}

/// Unbuffered reads from a descriptor we do not own (never closed here).
struct FdReader<'a>(BorrowedFd<'a>);

impl Read for FdReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        crate::os::read(self.0, buf)
    }
}

/// The controlling terminal if it can be opened, else stderr: the prompt must reach the user
/// even when stdout is redirected (tpm2-tools prints it to stdout, which breaks pipelines).
fn prompt_writer() -> Box<dyn Write> {
    match std::fs::OpenOptions::new().write(true).open("/dev/tty") {
        Ok(tty) => Box::new(tty),
        Err(_) => Box::new(io::stderr()),
    }
}

/// Turns terminal echo off for as long as it lives and restores the saved mode when dropped,
/// so every return path (errors and panics included) gives the user their echo back.
struct EchoOff<'a> {
    fd: BorrowedFd<'a>,
    saved: libc::termios,
}

impl<'a> EchoOff<'a> {
    fn new(fd: BorrowedFd<'a>) -> io::Result<Self> {
        let saved = crate::os::terminal_mode(fd)?;
        let mut quiet = saved;
        // ECHONL still echoes the Enter key, so the cursor moves on after the hidden input.
        // Canonical mode stays on: the kernel does line editing and read returns per line.
        quiet.c_lflag &= !libc::ECHO;
        quiet.c_lflag |= libc::ECHONL;
        crate::os::set_terminal_mode(fd, &quiet)?;
        Ok(EchoOff { fd, saved })
    }
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        // Nothing useful can be done if restoring fails while dropping.
        let _ = crate::os::set_terminal_mode(self.fd, &self.saved);
    }
}

/// Prompts on `prompt_to` and reads one line from the terminal `fd` with echo off. Returns the
/// line including its newline (the parser strips line endings for every source alike), or
/// `limit` bytes if the line was longer, in which case the rest of the line is discarded from
/// the terminal's queue so it cannot spill into whatever reads the terminal next (the shell).
pub(crate) fn read_tty_line(
    fd: BorrowedFd<'_>,
    prompt_to: &mut dyn Write,
    prompt: &str,
    limit: usize,
) -> io::Result<Zeroizing<Vec<u8>>> {
    let _echo = EchoOff::new(fd)?;
    prompt_to.write_all(prompt.as_bytes())?;
    prompt_to.flush()?;

    let mut buf = Zeroizing::new(vec![0u8; limit]);
    let mut filled = 0;
    let mut reader = FdReader(fd);
    while filled < limit {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => {
                let n = n.min(limit - filled);
                let got_newline = buf[filled..filled + n].contains(&b'\n');
                filled += n;
                if got_newline {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    if filled == limit && !buf.contains(&b'\n') {
        crate::os::discard_terminal_input(fd);
    }
    buf.truncate(filled);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::io::Cursor;
    use std::os::fd::{AsFd, OwnedFd};

    #[test]
    fn read_capped_stops_at_the_limit() {
        let data = vec![7u8; 100];
        assert_eq!(read_capped(Cursor::new(&data), 10).unwrap().len(), 10);
        assert_eq!(read_capped(Cursor::new(&data), 1000).unwrap().len(), 100);
        assert!(read_capped(Cursor::new(b""), 5).unwrap().is_empty());
    }

    /// A reader that returns one byte per call and is interrupted in between.
    struct Trickle<'a>(&'a [u8], bool);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = !self.1;
            if self.1 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(slot)) => {
                    *slot = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn read_capped_retries_interrupted_and_short_reads() {
        let got = read_capped(Trickle(b"abc", false), 10).unwrap();
        assert_eq!(&got[..], b"abc");
    }

    struct Pty {
        master: OwnedFd,
        slave: OwnedFd,
    }

    fn open_pty() -> Pty {
        let (master, slave) = crate::os::testing::openpty().expect("openpty");
        Pty { master, slave }
    }

    fn lflag(fd: BorrowedFd<'_>) -> libc::tcflag_t {
        crate::os::terminal_mode(fd).expect("tcgetattr").c_lflag
    }

    /// A prompt sink that "types" into the terminal when the prompt appears, i.e. only once
    /// echo is already off, like a user would.
    struct TypeOnPrompt {
        master: File,
        text: &'static [u8],
        prompt: Vec<u8>,
    }
    impl Write for TypeOnPrompt {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.prompt.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.master.write_all(core::mem::take(&mut self.text))
        }
    }

    fn typist(pty: &Pty, text: &'static [u8]) -> TypeOnPrompt {
        TypeOnPrompt {
            master: File::from(pty.master.try_clone().unwrap()),
            text,
            prompt: Vec::new(),
        }
    }

    #[test]
    fn tty_line_is_read_without_echo_and_echo_comes_back() {
        let pty = open_pty();
        let fd = pty.slave.as_fd();
        assert_ne!(lflag(fd) & libc::ECHO, 0, "a fresh pty echoes");
        let mut user = typist(&pty, b"s3cret\n");
        let line = read_tty_line(fd, &mut user, "Enter password: ", 16).unwrap();
        assert_eq!(&line[..], b"s3cret\n");
        assert_eq!(user.prompt, b"Enter password: ");
        assert_ne!(lflag(fd) & libc::ECHO, 0, "echo restored");

        // What the terminal showed: only the newline (ECHONL), none of the password.
        crate::os::set_nonblocking(pty.master.as_fd()).unwrap();
        let mut shown = [0u8; 64];
        let n = user.master.read(&mut shown).unwrap_or(0);
        assert!(
            !shown[..n].windows(6).any(|w| w == b"s3cret"),
            "password echoed: {:?}",
            &shown[..n]
        );
    }

    #[test]
    fn overlong_tty_line_is_cut_and_echo_restored() {
        let pty = open_pty();
        let fd = pty.slave.as_fd();
        let mut user = typist(&pty, b"0123456789abcdef\n");
        let line = read_tty_line(fd, &mut user, "", 4).unwrap();
        assert_eq!(&line[..], b"0123");
        assert_ne!(lflag(fd) & libc::ECHO, 0);
    }

    /// A prompt that cannot be written is an error, and echo is still restored.
    #[test]
    fn failing_prompt_restores_echo() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("no terminal"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let pty = open_pty();
        let fd = pty.slave.as_fd();
        assert!(read_tty_line(fd, &mut Broken, "p: ", 8).is_err());
        assert_ne!(lflag(fd) & libc::ECHO, 0);
    }

    #[test]
    fn not_a_terminal_is_an_error_not_a_hang() {
        let file = tempfile::tempfile().unwrap();
        let e = read_tty_line(file.as_fd(), &mut Vec::new(), "", 8).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTTY));
    }
}
