//! WAV files whose header sizes were never finalised.
//!
//! A streaming writer or a recorder that crashed leaves the RIFF size and the `data`
//! chunk's size as it wrote them before the audio: 0, 8 or `0xFFFFFFFF`. The audio is all
//! there, to the end of the file; a strict reader finds an empty `data` chunk. As
//! libsndfile does, fixloop reads such a file to its end: [`open`] patches the two sizes
//! in the header it hands the decoder (the file itself is never written) and says so.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// How much of the file's start is searched for the `data` chunk.
const HEAD_BYTES: u64 = 1 << 16;

/// A file read with a patched header: reads below `head.len()` come from `head`.
pub(super) struct Patched {
    file: File,
    head: Vec<u8>,
    pos: u64,
    len: u64,
}

impl Read for Patched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.head.len() as u64 {
            let from = self.pos as usize;
            let n = buf.len().min(self.head.len() - from);
            buf[..n].copy_from_slice(&self.head[from..from + n]);
            self.pos += n as u64;
            return Ok(n);
        }
        self.file.seek(SeekFrom::Start(self.pos))?;
        let n = self.file.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Patched {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.pos = pos;
        Ok(pos)
    }
}

impl symphonia::core::io::MediaSource for Patched {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

/// `file` as the decoder should read it: `Ok` patched when it is a WAV whose `data` size is
/// 0 or `0xFFFFFFFF` (or whose RIFF size is under 12 or `0xFFFFFFFF`) with audio after the
/// header; otherwise `Err` with the file itself, to be read as it is.
pub(super) fn open(mut file: File) -> io::Result<Result<Patched, File>> {
    let len = file.metadata()?.len();
    let mut head = Vec::new();
    (&mut file).take(HEAD_BYTES).read_to_end(&mut head)?;
    file.seek(SeekFrom::Start(0))?;
    let Some(data_at) = unfinalised_data_chunk(&head, len) else {
        return Ok(Err(file));
    };
    head.truncate(data_at + 8);
    let data_len = (len - (data_at as u64 + 8)).min(u64::from(u32::MAX - 1)) as u32;
    // Whole frames only is the decoder's business; the size counts every byte there is.
    head[data_at + 4..data_at + 8].copy_from_slice(&data_len.to_le_bytes());
    let riff_len = (len - 8).min(u64::from(u32::MAX - 1)) as u32;
    head[4..8].copy_from_slice(&riff_len.to_le_bytes());
    Ok(Ok(Patched {
        file,
        head,
        pos: 0,
        len,
    }))
}

/// The offset of the `data` chunk's header when the RIFF/WAVE header's sizes were never
/// finalised and audio follows it.
fn unfinalised_data_chunk(head: &[u8], file_len: u64) -> Option<usize> {
    if head.len() < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    let riff = u32::from_le_bytes(head[4..8].try_into().ok()?);
    let mut at = 12usize;
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let size = u32::from_le_bytes(head[at + 4..at + 8].try_into().ok()?);
        if id == b"data" {
            let unset = size == 0 || size == u32::MAX;
            let riff_unset = riff < 12 || riff == u32::MAX;
            let audio_follows = file_len > at as u64 + 8;
            return ((unset || riff_unset && u64::from(size) + at as u64 + 8 > file_len)
                && audio_follows)
                .then_some(at);
        }
        // Chunks are padded to an even length.
        at = at.checked_add(8 + size as usize + (size as usize & 1))?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(riff: u32, data: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&riff.to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&[1, 0, 2, 0, 0x80, 0xbb, 0, 0, 0, 0xee, 2, 0, 4, 0, 16, 0]);
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data.to_le_bytes());
        h
    }

    #[test]
    fn finds_the_unfinalised_data_chunk_and_leaves_a_finalised_one() {
        assert_eq!(unfinalised_data_chunk(&header(8, 0), 1000), Some(36));
        assert_eq!(
            unfinalised_data_chunk(&header(u32::MAX, u32::MAX), 1000),
            Some(36)
        );
        assert_eq!(unfinalised_data_chunk(&header(992, 956), 1000), None);
        // Nothing after the header: nothing to read to.
        assert_eq!(unfinalised_data_chunk(&header(8, 0), 44), None);
        assert_eq!(unfinalised_data_chunk(b"RIFX....WAVE", 1000), None);
        assert_eq!(unfinalised_data_chunk(b"RIFF", 1000), None);
    }
}
