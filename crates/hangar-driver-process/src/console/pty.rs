//! The master side of a pseudo-terminal as async reader, writer and resizer.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use hangar_driver::{ConsoleResize, DriverError, TerminalSize};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Sets or clears `FD_CLOEXEC` on `fd`. Async-signal-safe.
pub(super) fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFD/F_SETFD only change the descriptor's flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = if on {
            flags | libc::FD_CLOEXEC
        } else {
            flags & !libc::FD_CLOEXEC
        };
        if libc::fcntl(fd, libc::F_SETFD, flags) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn winsize(size: TerminalSize) -> libc::winsize {
    libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// The master side of a pseudo-terminal, non-blocking, registered with tokio.
pub(super) struct Pty {
    master: Arc<AsyncFd<OwnedFd>>,
}

impl Pty {
    /// Wraps a master descriptor (made non-blocking and close-on-exec).
    pub(super) fn new(master: OwnedFd) -> io::Result<Pty> {
        set_cloexec(master.as_raw_fd(), true)?;
        // SAFETY: F_GETFL/F_SETFL only change the file's status flags.
        unsafe {
            let flags = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
            if flags < 0
                || libc::fcntl(master.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: an OwnedFd stays open and keeps its number until dropped,
        // which happens only with the AsyncFd.
        let registered = unsafe { AsyncFd::register(master) }.map_err(io::Error::from)?;
        Ok(Pty {
            master: Arc::new(registered),
        })
    }

    /// A new host pseudo-terminal of `size`: the master, and the terminal side
    /// (close-on-exec; the command gets it as its standard streams).
    pub(super) fn open(size: TerminalSize) -> io::Result<(Pty, OwnedFd)> {
        let pair = nix::pty::openpty(Some(&winsize(size)), None).map_err(io::Error::from)?;
        set_cloexec(pair.slave.as_raw_fd(), true)?;
        Ok((Pty::new(pair.master)?, pair.slave))
    }

    pub(super) fn split(self) -> (PtyReader, PtyWriter, PtyResize) {
        (
            PtyReader(self.master.clone()),
            PtyWriter(self.master.clone()),
            PtyResize(self.master),
        )
    }
}

/// What the command writes to its terminal. A hung-up terminal (`EIO`) reads as the end.
pub(super) struct PtyReader(Arc<AsyncFd<OwnedFd>>);

impl AsyncRead for PtyReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.0.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let read = guard.try_io(|fd| {
                // SAFETY: the buffer is valid for writes of its length.
                let n = unsafe {
                    libc::read(
                        fd.get_ref().as_raw_fd(),
                        unfilled.as_mut_ptr().cast(),
                        unfilled.len(),
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match read {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

/// What is typed on the terminal.
pub(super) struct PtyWriter(Arc<AsyncFd<OwnedFd>>);

impl AsyncWrite for PtyWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.0.poll_write_ready(cx))?;
            let written = guard.try_io(|fd| {
                // SAFETY: the buffer is valid for reads of its length.
                let n = unsafe {
                    libc::write(fd.get_ref().as_raw_fd(), data.as_ptr().cast(), data.len())
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match written {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Sets the terminal's size (the command's session gets `SIGWINCH`).
pub(super) struct PtyResize(Arc<AsyncFd<OwnedFd>>);

#[async_trait::async_trait]
impl ConsoleResize for PtyResize {
    async fn resize(&self, size: TerminalSize) -> Result<(), DriverError> {
        let size = winsize(size);
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which is valid.
        if unsafe { libc::ioctl(self.0.get_ref().as_raw_fd(), libc::TIOCSWINSZ, &size) } < 0 {
            return Err(DriverError::io(
                "resizing the console's terminal",
                "/dev/ptmx",
                io::Error::last_os_error(),
            ));
        }
        Ok(())
    }
}
