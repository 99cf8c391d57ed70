//! Opening the files an experiment names (`.echo` files, data files):
//! regular files only, read through a reader that stops at a size limit,
//! so a device, a FIFO or an endless `/proc` file is an error, not a hang.

use std::fs::{File, FileType, Metadata};
use std::io::{self, Read};
use std::path::Path;

/// Largest data file a source may read: 1 GiB.
pub const DATA_FILE_LIMIT: u64 = 1 << 30;

/// Largest `.echo` file the compiler reads: 4 MiB.
pub const ECHO_FILE_LIMIT: u64 = 4 << 20;

/// What a file is, in words: "a directory", "a FIFO".
pub fn kind_in_words(file_type: &FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// `1 GiB`, `4 MiB`, `512 bytes`.
pub fn size_in_words(bytes: u64) -> String {
    for (unit, name) in [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{} {name}", bytes / unit);
        }
    }
    format!("{bytes} bytes")
}

/// Whether `metadata` is that of a regular file of at most `limit` bytes;
/// the error says what is wrong ("it is a directory, not a regular file").
pub fn check(metadata: &Metadata, limit: u64) -> io::Result<()> {
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "it is {}, not a regular file",
                kind_in_words(&metadata.file_type())
            ),
        ));
    }
    if metadata.len() > limit {
        return Err(too_large(limit));
    }
    Ok(())
}

/// The error of a file larger than `limit` bytes.
pub fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("it is larger than the limit of {}", size_in_words(limit)),
    )
}

/// Opens the regular file at `path` for reading at most `limit` bytes.
///
/// Anything else (a directory, a device, a FIFO) is refused before it is
/// opened, and again after (the file is opened without blocking, so a FIFO
/// swapped in between cannot hang the caller).
pub fn open(path: &Path, limit: u64) -> io::Result<Bounded<File>> {
    check(&std::fs::metadata(path)?, limit)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    check(&file.metadata()?, limit)?;
    Ok(Bounded::new(file, limit))
}

/// The text of the regular file at `path`, at most `limit` bytes of UTF-8.
pub fn read_to_string(path: &Path, limit: u64) -> io::Result<String> {
    let mut text = String::new();
    open(path, limit)?.read_to_string(&mut text)?;
    Ok(text)
}

/// A reader that fails once more than `limit` bytes have come through
/// (files in `/proc` report a size of 0 whatever they hold).
#[derive(Debug)]
pub struct Bounded<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Bounded<R> {
    /// `inner`, read at most `limit` bytes.
    pub fn new(inner: R, limit: u64) -> Bounded<R> {
        Bounded {
            inner,
            left: limit,
            limit,
        }
    }

    /// The reader it reads from.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// How many bytes have been read so far.
    pub fn bytes_read(&self) -> u64 {
        self.limit - self.left
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        // One byte past the limit is asked for, to tell a file of exactly
        // `limit` bytes from a longer one.
        let wanted = usize::try_from(self.left.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(buffer.len());
        let read = self.inner.read(&mut buffer[..wanted])?;
        if read as u64 > self.left {
            return Err(too_large(self.limit));
        }
        self.left -= read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_passes_exactly_the_limit_and_fails_one_byte_past_it() {
        let mut text = String::new();
        Bounded::new(&b"abcd"[..], 4)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "abcd");
        let error = Bounded::new(&b"abcde"[..], 4)
            .read_to_string(&mut String::new())
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(error.to_string(), "it is larger than the limit of 4 bytes");
    }

    #[test]
    fn an_endless_file_stops_at_the_limit() {
        let error = Bounded::new(io::repeat(0), 1 << 20)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::FileTooLarge);
    }

    #[test]
    fn sizes_read_in_their_largest_whole_unit() {
        assert_eq!(size_in_words(DATA_FILE_LIMIT), "1 GiB");
        assert_eq!(size_in_words(ECHO_FILE_LIMIT), "4 MiB");
        assert_eq!(size_in_words(1000), "1000 bytes");
    }
}
