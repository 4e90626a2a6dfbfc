//! Extended attributes on paths, never following symlinks.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in name"))
}

/// Sets `name` to `value` on `path` itself (`lsetxattr`).
pub(crate) fn set(path: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let c_path = c_string(path.as_os_str().as_bytes())?;
    let c_name = c_string(name.as_bytes())?;
    // SAFETY: both C strings are NUL-terminated and outlive the call; the value
    // pointer and length describe one live slice.
    let rc = unsafe {
        libc::lsetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads `name` from `path` itself (`lgetxattr`); `None` when it is not set.
pub(crate) fn get(path: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    let c_path = c_string(path.as_os_str().as_bytes())?;
    let c_name = c_string(name.as_bytes())?;
    let mut buffer = vec![0u8; 4096];
    // SAFETY: the C strings are NUL-terminated and outlive the call; the buffer
    // pointer and length describe one live, writable allocation.
    let rc = unsafe {
        libc::lgetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
        )
    };
    if rc >= 0 {
        buffer.truncate(rc as usize);
        return Ok(Some(buffer));
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::ENODATA) {
        Ok(None)
    } else {
        Err(error)
    }
}
