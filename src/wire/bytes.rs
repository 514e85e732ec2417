//! Bounds-checked byte access shared by the packet views.
//!
//! Every read outside the buffer yields zeros and every write outside it is
//! dropped, so a view can never panic, even one made with `new_unchecked`.
//! The `new_checked` constructors make sure the fields they promise exist.

use std::ops::Range;

pub(crate) fn read_u8(buf: &[u8], at: usize) -> u8 {
    buf.get(at).copied().unwrap_or(0)
}

pub(crate) fn read_u16(buf: &[u8], range: Range<usize>) -> u16 {
    u16::from_be_bytes(read_array::<2>(buf, range.start))
}

pub(crate) fn read_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(read_array::<4>(buf, at))
}

pub(crate) fn read_array<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = at.checked_add(N).and_then(|end| buf.get(at..end)) {
        out.copy_from_slice(src);
    }
    out
}

pub(crate) fn write_bytes(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = at
        .checked_add(bytes.len())
        .and_then(|end| buf.get_mut(at..end))
    {
        dst.copy_from_slice(bytes);
    }
}

/// The first `need` bytes of `buf`, where an emit writes its packet; a
/// buffer too small is an error, never a panic.
pub(crate) fn emit_area(buf: &mut [u8], need: usize) -> Result<&mut [u8], super::EmitError> {
    let have = buf.len();
    buf.get_mut(..need)
        .ok_or(super::EmitError::BufferTooSmall { need, have })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_reads_are_zero_and_writes_dropped() {
        let mut buf = [1u8, 2, 3];
        assert_eq!(read_u8(&buf, 3), 0);
        assert_eq!(read_u16(&buf, 1..3), 0x0203);
        assert_eq!(read_u16(&buf, 2..4), 0);
        assert_eq!(read_u32(&buf, 0), 0);
        assert_eq!(read_array::<2>(&buf, usize::MAX), [0, 0]);
        write_bytes(&mut buf, 2, &[9, 9]);
        write_bytes(&mut buf, usize::MAX, &[9]);
        assert_eq!(buf, [1, 2, 3]);
        write_bytes(&mut buf, 1, &[7, 8]);
        assert_eq!(buf, [1, 7, 8]);
    }
}
