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

/// Err names the first element whose claimed length runs past the end of `bytes`. Where the
/// library would refuse the file before reserving anything (no `DICM`, no meta group length,
/// an undefined length in the meta group), the walk stops and leaves the refusal to it.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    // The library's own preamble rule: `DICM` after 128 bytes, or at the start.
    let start = if bytes.get(128..132) == Some(b"DICM") {
        132
    } else if bytes.get(..4) == Some(b"DICM") {
        4
    } else {
        return Ok(());
    };
    let Some((syntax, data_set)) = meta_group(bytes, start)? else {
        return Ok(());
    };
    match syntax.trim_end_matches(['\0', ' ']) {
        IMPLICIT_LE => data_set_walk(bytes, data_set, true, false),
        EXPLICIT_BE => data_set_walk(bytes, data_set, false, true),
        DEFLATED => Ok(()),
        _ => data_set_walk(bytes, data_set, false, false),
    }
}

/// One element header: tag, header bytes, claimed length, and the VR its value is read as
/// (the file's where explicit, the dictionary's where implicit; None for an item). None where
/// the bytes end inside it.
struct Header {
    group: u16,
    element: u16,
    size: usize,
    length: u32,
    vr: Option<[u8; 2]>,
}

impl Header {
    /// The bytes the library reads of the value: binary numbers as whole values only (what
    /// is left over of the claimed length it reads as the next element's header).
    fn consumed(&self) -> usize {
        let size = match &self.vr.unwrap_or(*b"UN") {
            b"US" | b"OW" | b"SS" => 2,
            b"AT" | b"FL" | b"OF" | b"SL" | b"OL" | b"UL" => 4,
            b"FD" | b"OD" | b"SV" | b"OV" | b"UV" => 8,
            _ => 1,
        };
        (self.length / size * size) as usize
    }
}

/// The VR the library reads an implicit-VR element as: OW for pixel and overlay data, else the
/// standard dictionary's (UN for a tag it does not know).
fn dictionary_vr(group: u16, element: u16) -> [u8; 2] {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
    if (group, element) == PIXEL_DATA || (group >> 8 == 0x60 && element == 0x3000) {
        return *b"OW";
    }
    dicom_dictionary_std::StandardDataDictionary
        .by_tag(dicom_core::Tag(group, element))
        .map_or(*b"UN", |entry| entry.vr().relaxed().to_bytes())
}

fn header(bytes: &[u8], pos: usize, implicit: bool, big: bool) -> Option<Header> {
    let u16_at = |at: usize| {
        let b = [*bytes.get(at)?, *bytes.get(at + 1)?];
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let (group, element) = (u16_at(pos)?, u16_at(pos + 2)?);
    if group == ITEM_GROUP || implicit {
        let length = u32_at(pos + 4)?;
        let vr = (group != ITEM_GROUP).then(|| dictionary_vr(group, element));
        return Some(Header {
            group,
            element,
            size: 8,
            length,
            vr,
        });
    }
    // An explicit VR the library does not know it reads as UN (a 4-byte length).
    let vr = [*bytes.get(pos + 4)?, *bytes.get(pos + 5)?];
    let vr = match dicom_core::VR::from_binary(vr) {
        Some(_) => vr,
        None => *b"UN",
    };
    let (size, length) = match SHORT_VRS.contains(&&vr) {
        true => (8, u16_at(pos + 6)? as u32),
        false => (12, u32_at(pos + 8)?),
    };
    Some(Header {
        group,
        element,
        size,
        length,
        vr: Some(vr),
    })
}

/// The claim of `h` at `pos` against what the file holds after its header.
fn fits(bytes: &[u8], pos: usize, h: &Header) -> Result<(), String> {
    let remaining = bytes.len().saturating_sub(pos + h.size);
    match h.length as usize > remaining {
        false => Ok(()),
        true => Err(format!(
            "element ({:04X},{:04X}) claims {}, the file holds {} after it",
            h.group,
            h.element,
            crate::data::memory::size(h.length as u64),
            crate::data::memory::size(remaining as u64)
        )),
    }
}

/// The meta group as the library reads it: explicit VR little endian, first its group length
/// (0002,0000) of 4 bytes, then flat elements, whatever their group, until that many bytes are
/// read. Some((transfer syntax, where the data set starts)), or None where the library refuses.
fn meta_group(bytes: &[u8], start: usize) -> Result<Option<(String, usize)>, String> {
    let Some(first) = header(bytes, start, false, false) else {
        return Ok(None);
    };
    if (first.group, first.element, first.length) != (0x0002, 0x0000, 4) {
        return Ok(None);
    }
    let mut pos = start + first.size;
    let Some(value) = bytes.get(pos..pos + 4) else {
        return Ok(None);
    };
    let group_length = u32::from_le_bytes(value.try_into().expect("4 bytes"));
    pos += 4;
    let (mut read, mut syntax) = (0u32, String::new());
    while read < group_length {
        let Some(h) = header(bytes, pos, false, false) else {
            return Ok(None);
        };
        if h.length == UNDEFINED {
            return Ok(None);
        }
        fits(bytes, pos, &h)?;
        let value = pos + h.size..pos + h.size + h.length as usize;
        if (h.group, h.element) == (0x0002, 0x0010) {
            syntax = String::from_utf8_lossy(&bytes[value.clone()]).into_owned();
        }
        read = read.saturating_add(h.size as u32).saturating_add(h.length);
        pos = value.end;
    }
    Ok(Some((syntax, pos)))
}

/// The data set from `pos` on: items and sequences walked into, every other claim checked.
fn data_set_walk(bytes: &[u8], mut pos: usize, implicit: bool, big: bool) -> Result<(), String> {
    // Inside encapsulated pixel data the items are fragments of bytes, not elements.
    let mut fragments = false;
    while let Some(h) = header(bytes, pos, implicit, big) {
        let steps_in =
            h.length == UNDEFINED || h.vr == Some(*b"SQ") || (h.group == ITEM_GROUP && !fragments);
        if (h.group, h.element) == PIXEL_DATA && h.length == UNDEFINED {
            fragments = true;
        }
        if h.group == ITEM_GROUP && h.element == SEQUENCE_END {
            fragments = false;
        }
        if steps_in || h.length == 0 {
            pos += h.size;
            continue;
        }
        fits(bytes, pos, &h)?;
        pos += h.size + h.consumed();
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

    /// A file in `syntax` whose meta group holds its transfer syntax and `meta`, and whose
    /// group length covers exactly those.
    fn file_in(syntax: &[u8], meta: &[Vec<u8>], elements: &[Vec<u8>]) -> Vec<u8> {
        let mut group = element(0x0002, 0x0010, b"UI", syntax, syntax.len() as u32);
        meta.iter().for_each(|e| group.extend(e));
        let mut out = vec![0u8; 128];
        out.extend_from_slice(b"DICM");
        let length = (group.len() as u32).to_le_bytes();
        out.extend(element(0x0002, 0x0000, b"UL", &length, 4));
        out.extend(group);
        elements.iter().for_each(|e| out.extend(e));
        out
    }

    fn file(elements: &[Vec<u8>]) -> Vec<u8> {
        file_in(b"1.2.840.10008.1.2.1\0", &[], elements)
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

    #[test]
    fn the_meta_group_ends_where_its_group_length_says_as_the_library_reads_it() {
        // The group length covers an off-group (0008,0016) element, which the library reads as
        // meta, explicit VR; the data set after it is implicit VR, where a claim past the end
        // must be found at the right offset.
        let off_group = element(0x0008, 0x0016, b"UI", b"1.2\0", 4);
        let bomb = implicit_element(0x7FE0, 0x0010, &[0; 16], 2_000_000_000);
        let implicit = b"1.2.840.10008.1.2\0";
        let e = check(&file_in(implicit, &[off_group.clone()], &[bomb])).unwrap_err();
        assert!(e.contains("(7FE0,0010) claims 2.00 GB"), "{e}");
        let honest = implicit_element(0x7FE0, 0x0010, &[0; 16], 16);
        assert_eq!(check(&file_in(implicit, &[off_group], &[honest])), Ok(()));
    }

    /// An implicit-VR little-endian element: tag, 4-byte length, value.
    fn implicit_element(group: u16, element: u16, value: &[u8], claimed: u32) -> Vec<u8> {
        let tag = [group.to_le_bytes(), element.to_le_bytes()].concat();
        [&tag[..], &claimed.to_le_bytes(), value].concat()
    }

    #[test]
    fn without_dicm_or_a_group_length_the_library_refuses_first() {
        assert_eq!(check(&[0xFF; 300]), Ok(()));
        let mut no_length = vec![0u8; 128];
        no_length.extend_from_slice(b"DICM");
        no_length.extend(element(0x0002, 0x0010, b"UI", b"x", 3_000_000_000));
        assert_eq!(check(&no_length), Ok(()));
    }

    #[test]
    fn a_number_value_is_read_whole_values_only_and_the_rest_as_the_next_header() {
        // (0028,0102) FD claiming 2 bytes: the library reads no double, then takes those 2
        // bytes as the start of the next element's header. Here that header claims 2 GB.
        let short = element(0x0028, 0x0102, b"FD", &[], 2);
        let rest = [
            &0x0011u16.to_le_bytes()[..],
            &0x0009u16.to_le_bytes(),
            b"\x01\x01",
            &[0, 0],
            &2_000_000_000u32.to_le_bytes(),
            &[0; 8],
        ]
        .concat();
        let e = check(&file(&[[short, rest].concat()])).unwrap_err();
        assert!(e.contains("claims 2.00 GB"), "{e}");
    }

    #[test]
    fn an_implicit_vr_element_is_read_as_the_dictionary_says() {
        // Rows (0028,0010) is US in the dictionary: 3 claimed bytes are read as one number and
        // the third starts the next header.
        let rows = implicit_element(0x0028, 0x0010, &[4, 0], 3);
        let next = [
            &[0x7Fu8][..],
            &[0xE0, 0x10, 0x00],
            &3_000_000_000u32.to_le_bytes(),
            &[0; 8],
        ]
        .concat();
        let implicit = b"1.2.840.10008.1.2\0";
        let e = check(&file_in(implicit, &[], &[[rows, next].concat()])).unwrap_err();
        assert!(e.contains("claims 3.00 GB"), "{e}");
        assert_eq!(dictionary_vr(0x0028, 0x0010), *b"US");
        assert_eq!(dictionary_vr(0x7FE0, 0x0010), *b"OW");
    }
}
