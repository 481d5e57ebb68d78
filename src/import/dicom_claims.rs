//! The lengths a DICOM file claims, checked against the bytes it holds before the DICOM library
//! reads it: the library reserves memory for each element's claimed length before reading it,
//! so a 2 kB file claiming a 4 GB element would reserve 4 GB. Walking the element headers is
//! cheap (no values are decoded) and follows the file's transfer syntax: explicit or implicit
//! VR, little or big endian; a deflated data set is left to the library.

/// The file meta group's TransferSyntaxUID, and the three syntaxes the walk tells apart.
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
const DEFLATED: &str = "1.2.840.10008.1.2.1.99";
/// Explicit VRs with a 2-byte length; every other, an unknown one included (as the DICOM
/// library reads it, and as the standard says new VRs are), has 2 reserved bytes and a 4-byte
/// length.
const SHORT_VRS: [&[u8; 2]; 21] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
    b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
];
const UNDEFINED: u32 = u32::MAX;
const ITEM_GROUP: u16 = 0xFFFE;
const SEQUENCE_END: u16 = 0xE0DD;
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);

/// Err names the first element whose claimed length runs past the end of `bytes`.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    let mut pos = if bytes.get(128..132) == Some(b"DICM") {
        132
    } else {
        0
    };
    let (mut implicit, mut big_endian, mut in_meta) = (false, false, true);
    // Inside encapsulated pixel data the items are fragments of bytes, not elements.
    let mut fragments = false;
    while pos + 8 <= bytes.len() {
        let u16_at = |at: usize, big: bool| {
            let b = [bytes[at], bytes[at + 1]];
            if big {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let u32_at = |at: usize, big: bool| {
            let b: [u8; 4] = bytes[at..at + 4].try_into().expect("4 bytes");
            if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        // The meta group (0002) is always explicit VR little endian.
        let group = u16_at(pos, false);
        if in_meta && group != 0x0002 {
            in_meta = false;
        }
        let big = big_endian && !in_meta;
        let (group, element) = (u16_at(pos, big), u16_at(pos + 2, big));
        let (header, length, vr) = if group == ITEM_GROUP {
            (8, u32_at(pos + 4, big), None)
        } else if implicit && !in_meta {
            (8, u32_at(pos + 4, big), None)
        } else {
            let vr = [bytes[pos + 4], bytes[pos + 5]];
            match SHORT_VRS.contains(&&vr) {
                true => (8, u16_at(pos + 6, big) as u32, Some(vr)),
                false if pos + 12 > bytes.len() => return Ok(()),
                false => (12, u32_at(pos + 8, big), Some(vr)),
            }
        };
        let value = pos + header;
        let steps_in =
            length == UNDEFINED || vr == Some(*b"SQ") || (group == ITEM_GROUP && !fragments);
        if (group, element) == PIXEL_DATA && length == UNDEFINED {
            fragments = true;
        }
        if group == ITEM_GROUP && element == SEQUENCE_END {
            fragments = false;
        }
        if steps_in || length == 0 {
            pos = value;
            continue;
        }
        let remaining = bytes.len().saturating_sub(value);
        if length as usize > remaining {
            return Err(format!(
                "element ({group:04X},{element:04X}) claims {}, the file holds {} after it",
                crate::data::memory::size(length as u64),
                crate::data::memory::size(remaining as u64)
            ));
        }
        if in_meta && (group, element) == (0x0002, 0x0010) {
            let uid = String::from_utf8_lossy(&bytes[value..value + length as usize]);
            match uid.trim_end_matches(['\0', ' ']) {
                IMPLICIT_LE => implicit = true,
                EXPLICIT_BE => big_endian = true,
                DEFLATED => return Ok(()),
                _ => {}
            }
        }
        pos = value + length as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An explicit-VR little-endian element.
    fn element(group: u16, element: u16, vr: &[u8; 2], value: &[u8], claimed: u32) -> Vec<u8> {
        let mut out = [group.to_le_bytes(), element.to_le_bytes()].concat();
        out.extend_from_slice(vr);
        match SHORT_VRS.contains(&vr) {
            false => out.extend([0, 0].iter().chain(&claimed.to_le_bytes())),
            true => out.extend((claimed as u16).to_le_bytes()),
        }
        out.extend_from_slice(value);
        out
    }

    fn file(elements: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![0u8; 128];
        out.extend_from_slice(b"DICM");
        let syntax = b"1.2.840.10008.1.2.1\0";
        out.extend(element(0x0002, 0x0010, b"UI", syntax, syntax.len() as u32));
        elements.iter().for_each(|e| out.extend(e));
        out
    }

    #[test]
    fn honest_lengths_pass_and_a_claim_past_the_end_is_named() {
        let rows = element(0x0028, 0x0010, b"US", &4u16.to_le_bytes(), 2);
        let pixels = element(0x7FE0, 0x0010, b"OW", &[0; 32], 32);
        assert_eq!(check(&file(&[rows.clone(), pixels])), Ok(()));
        let bomb = element(0x7FE0, 0x0010, b"OW", &[0; 32], 4_000_000_000);
        let e = check(&file(&[rows, bomb])).unwrap_err();
        assert!(
            e.contains("(7FE0,0010) claims 4.00 GB, the file holds 32 bytes"),
            "{e}"
        );
    }

    #[test]
    fn sequences_are_walked_into_so_a_nested_claim_is_caught() {
        let inner = element(0x0008, 0x0100, b"UT", b"ab", 3_000_000_000);
        let item = [
            ITEM_GROUP.to_le_bytes().as_slice(),
            &0xE000u16.to_le_bytes(),
            &(inner.len() as u32).to_le_bytes(),
            &inner,
        ]
        .concat();
        let sequence = element(0x0008, 0x1115, b"SQ", &item, item.len() as u32);
        let e = check(&file(&[sequence])).unwrap_err();
        assert!(e.contains("(0008,0100) claims 3.00 GB"), "{e}");
    }

    #[test]
    fn an_unknown_vr_has_a_long_length_as_the_library_reads_it() {
        // (0018,2622) with VR "\0C": 2 reserved bytes, then a 4-byte length of 1.28 GB.
        let odd = element(0x0018, 0x2622, b"\0C", b"HELICAL", 1_279_608_832);
        let e = check(&file(&[odd])).unwrap_err();
        assert!(
            e.contains("(0018,2622) claims 1.28 GB, the file holds 7 bytes"),
            "{e}"
        );
    }
}
