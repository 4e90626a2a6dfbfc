//! sha256 digests: parsing, computing and verifying content as it streams.

use std::fmt;
use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

/// A validated `sha256:<64 lowercase hex>` content digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Digest {
    hex: String,
}

impl Digest {
    /// Parses `sha256:<hex>`; the error names what is wrong with it.
    pub(crate) fn parse(text: &str) -> Result<Digest, String> {
        let Some((algorithm, hex)) = text.split_once(':') else {
            return Err(format!(
                "digest {text:?} has no algorithm prefix (expected sha256:<hex>)"
            ));
        };
        if algorithm != "sha256" {
            return Err(format!(
                "digest algorithm {algorithm:?} is not supported (only sha256 is)"
            ));
        }
        Self::from_hex(hex).ok_or_else(|| {
            format!("digest {text:?} must be sha256: followed by 64 lowercase hex characters")
        })
    }

    /// Builds a digest from its 64 hex characters, if they are well formed.
    pub(crate) fn from_hex(hex: &str) -> Option<Digest> {
        let well_formed = hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| Digest {
            hex: hex.to_owned(),
        })
    }

    /// The digest of `bytes`.
    pub(crate) fn of(bytes: &[u8]) -> Digest {
        Digest {
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// The 64 hex characters, used as a file name in the store.
    pub(crate) fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

/// Hashes everything read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    length: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            length: 0,
        }
    }

    /// Reads the rest of the stream so the digest covers all of it.
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(|_| ())
    }

    /// The inner reader, the digest and the length of what was read.
    pub(crate) fn finish(self) -> (R, Digest, u64) {
        let digest = Digest {
            hex: hex::encode(self.hasher.finalize()),
        };
        (self.inner, digest, self.length)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.length += n as u64;
        Ok(n)
    }
}

/// Hashes everything written through it.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    length: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            length: 0,
        }
    }

    /// The inner writer, the digest and the length of what was written.
    pub(crate) fn finish(self) -> (W, Digest, u64) {
        let digest = Digest {
            hex: hex::encode(self.hasher.finalize()),
        };
        (self.inner, digest, self.length)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.length += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let d = Digest::of(b"hello");
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        assert!(Digest::parse("sha512:abc")
            .unwrap_err()
            .contains("not supported"));
        assert!(Digest::parse("sha256:ABC").is_err());
        assert!(Digest::parse("nocolon").is_err());
    }

    #[test]
    fn reader_hashes_what_passes() {
        let mut reader = HashingReader::new(&b"hello"[..]);
        reader.drain().unwrap();
        let (_, digest, len) = reader.finish();
        assert_eq!(digest, Digest::of(b"hello"));
        assert_eq!(len, 5);
    }
}
