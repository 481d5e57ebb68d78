//! MetaImage (`.mhd` header + `.raw`/`.zraw` data, or `.mha` with the data after the header),
//! as LUNA16 ships its 888 scans: a few lines of `Key = value`, read here without a library.
//! Sizes are checked against the file before anything is allocated, and the data file must
//! lie in the header's own folder.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::volume::{check_geometry, Volume, Voxels};
use crate::error::{Error, Result};
use crate::files::MAX_DEFLATE_RATIO;

/// The element types a header may name, and their bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    F64,
}

impl Element {
    fn parse(name: &str) -> Option<Element> {
        Some(match name {
            "MET_UCHAR" => Element::U8,
            "MET_CHAR" => Element::I8,
            "MET_USHORT" => Element::U16,
            "MET_SHORT" => Element::I16,
            "MET_UINT" | "MET_ULONG" => Element::U32,
            "MET_INT" | "MET_LONG" => Element::I32,
            "MET_FLOAT" => Element::F32,
            "MET_DOUBLE" => Element::F64,
            _ => return None,
        })
    }

    fn bytes(self) -> usize {
        match self {
            Element::U8 | Element::I8 => 1,
            Element::U16 | Element::I16 => 2,
            Element::U32 | Element::I32 | Element::F32 => 4,
            Element::F64 => 8,
        }
    }
}

/// The most voxels one volume may have: 4 Gi (a 2048 × 2048 × 1024 scan), far beyond any CT
/// series, so that a header claiming more is refused before memory is asked for it.
pub const MAX_VOXELS: usize = 1 << 32;

/// The header's fields that lnmc uses.
#[derive(Debug, Clone, PartialEq)]
struct Header {
    size: [usize; 3],
    spacing: [f64; 3],
    origin: [f64; 3],
    direction: [[f64; 3]; 3],
    element: Element,
    big_endian: bool,
    compressed: bool,
    /// None: the data follows the header in the same file (LOCAL).
    data_file: Option<PathBuf>,
    /// Where the header's text ends in its own file.
    header_bytes: usize,
}

/// Reads the volume of `header_path` (`.mhd` or `.mha`).
pub fn read(header_path: &Path) -> Result<Volume> {
    let fail = |msg: String| Error::file(header_path, msg);
    let mut head = Vec::new();
    std::fs::File::open(header_path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|e| fail(format!("cannot be read: {e}")))?;
    let header = parse(&head).map_err(&fail)?;
    let voxels = header
        .size
        .iter()
        .try_fold(1usize, |n, &s| n.checked_mul(s))
        .filter(|&n| n <= MAX_VOXELS)
        .ok_or_else(|| {
            fail(format!(
                "claims {:?} voxels, more than any CT series ({MAX_VOXELS})",
                header.size
            ))
        })?;
    let expected = voxels * header.element.bytes();
    let (data_path, offset) = match &header.data_file {
        None => (header_path.to_path_buf(), header.header_bytes),
        Some(name) => (inside_folder(header_path, name)?, 0),
    };
    let on_disk = std::fs::metadata(&data_path)
        .map_err(|e| Error::file(&data_path, format!("cannot be read: {e}")))?
        .len() as usize;
    let stored = on_disk.saturating_sub(offset);
    let mut file = std::fs::File::open(&data_path)
        .map_err(|e| Error::file(&data_path, format!("cannot be read: {e}")))?;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(offset as u64))
        .map_err(|e| Error::file(&data_path, format!("cannot be read: {e}")))?;
    check_stored(&header, &data_path, stored, expected)?;
    let mut stream: Box<dyn Read> = match header.compressed {
        false => Box::new(std::io::BufReader::new(file)),
        true => Box::new(flate2::read::ZlibDecoder::new(std::io::BufReader::new(
            file,
        ))),
    };
    let why = |e: std::io::Error| match header.compressed {
        true => format!("is not a zlib stream of the header's voxels (CompressedData = True): {e}"),
        false => format!("cannot be read: {e}"),
    };
    let voxels = decode(&mut stream, voxels, header.element, header.big_endian)
        .map_err(|e| Error::file(&data_path, why(e)))?;
    // A compressed stream that holds more than the header says is not this header's.
    if header.compressed
        && stream
            .read(&mut [0u8; 1])
            .map_err(|e| Error::file(&data_path, why(e)))?
            > 0
    {
        return Err(Error::file(
            &data_path,
            format!(
                "decompresses to more than the {expected} bytes the header's {:?} {:?} need",
                header.size, header.element
            ),
        ));
    }
    Ok(Volume {
        size: header.size,
        spacing: header.spacing,
        origin: header.origin,
        direction: header.direction,
        voxels,
    })
}

/// Refuses data that cannot hold the `expected` bytes of voxels the header claims: fewer bytes
/// stored, or compressed data that would have to expand past any real deflate ratio.
fn check_stored(header: &Header, data_path: &Path, stored: usize, expected: usize) -> Result<()> {
    if header.compressed && expected as u64 > (stored as u64).saturating_mul(MAX_DEFLATE_RATIO) {
        return Err(Error::file(
            data_path,
            format!(
                "{} of compressed data cannot hold the {} the header's {:?} {:?} need (deflate expands at most {MAX_DEFLATE_RATIO}:1)",
                crate::data::memory::size(stored as u64),
                crate::data::memory::size(expected as u64),
                header.size,
                header.element
            ),
        ));
    }
    if !header.compressed && stored < expected {
        return Err(Error::file(
            data_path,
            format!(
                "holds {stored} bytes of voxels where the header's {:?} {:?} need {expected}",
                header.size, header.element
            ),
        ));
    }
    Ok(())
}

/// `count` voxels from `stream`. int16 and 8-bit data go straight into int16, a block at a
/// time, so a volume is held once while it is read (LUNA16 is int16); other types pass
/// through their bytes.
fn decode(
    stream: &mut dyn Read,
    count: usize,
    element: Element,
    big_endian: bool,
) -> std::io::Result<Voxels> {
    const BLOCK: usize = 1 << 20;
    if matches!(element, Element::I16 | Element::U8 | Element::I8) {
        let mut out: Vec<i16> = Vec::with_capacity(count);
        let mut buffer = vec![0u8; BLOCK * element.bytes()];
        while out.len() < count {
            let n = (count - out.len()).min(BLOCK) * element.bytes();
            stream.read_exact(&mut buffer[..n])?;
            match element {
                Element::I16 => out.extend(buffer[..n].chunks_exact(2).map(|c| match big_endian {
                    true => i16::from_be_bytes([c[0], c[1]]),
                    false => i16::from_le_bytes([c[0], c[1]]),
                })),
                Element::U8 => out.extend(buffer[..n].iter().map(|&b| i16::from(b))),
                _ => out.extend(buffer[..n].iter().map(|&b| i16::from(b as i8))),
            }
        }
        return Ok(Voxels::I16(out));
    }
    let mut bytes = vec![0u8; count * element.bytes()];
    stream.read_exact(&mut bytes)?;
    Ok(convert(&bytes, element, big_endian))
}

/// `name` beside `header_path`: a data file elsewhere (an absolute path, `..`) is refused.
fn inside_folder(header_path: &Path, name: &Path) -> Result<PathBuf> {
    let escapes = name.is_absolute()
        || name.components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
    if escapes {
        return Err(Error::file(
            header_path,
            format!(
                "names a data file outside its own folder ({}): refused",
                name.display()
            ),
        ));
    }
    Ok(header_path.parent().unwrap_or(Path::new(".")).join(name))
}

/// The header's text: `Key = value` lines up to `ElementDataFile`, the last.
fn parse(head: &[u8]) -> std::result::Result<Header, String> {
    let (fields, header_bytes) = fields(head)?;
    let get = |keys: &[&str]| keys.iter().find_map(|k| fields.get(*k)).cloned();
    let numbers = |keys: &[&str], count| numbers(get(keys), keys[0], count);
    let dims = get(&["NDims"]).ok_or("is not a MetaImage header: no NDims")?;
    if dims != "3" {
        return Err(format!("NDims = {dims}: lnmc imports 3-D volumes"));
    }
    if let Some(channels) = get(&["ElementNumberOfChannels"]).filter(|c| c != "1") {
        return Err(format!(
            "ElementNumberOfChannels = {channels}: CT volumes have one"
        ));
    }
    let size_values = numbers(&["DimSize"], 3)?.ok_or("no DimSize")?;
    if size_values
        .iter()
        .any(|&s| !(s >= 1.0 && s.fract() == 0.0 && s < 1e9))
    {
        return Err(format!(
            "DimSize {size_values:?}: sizes are whole numbers ≥ 1"
        ));
    }
    let size = [
        size_values[0] as usize,
        size_values[1] as usize,
        size_values[2] as usize,
    ];
    let spacing = numbers(&["ElementSpacing", "ElementSize"], 3)?.unwrap_or(vec![1.0; 3]);
    let origin = numbers(&["Offset", "Origin", "Position"], 3)?.unwrap_or(vec![0.0; 3]);
    let matrix = numbers(&["TransformMatrix", "Rotation", "Orientation"], 9)?
        .unwrap_or(vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    // The matrix lists the direction of the i axis, then j, then k (ITK's MetaImageIO).
    let mut direction = [[0.0; 3]; 3];
    for axis in 0..3 {
        for row in 0..3 {
            direction[row][axis] = matrix[axis * 3 + row];
        }
    }
    let spacing = [spacing[0], spacing[1], spacing[2]];
    let origin = [origin[0], origin[1], origin[2]];
    if let Some(why) = check_geometry(spacing, direction, origin) {
        return Err(why);
    }
    let element_name = get(&["ElementType"]).ok_or("no ElementType")?;
    let element = Element::parse(&element_name)
        .ok_or_else(|| format!("ElementType {element_name}: lnmc reads MET_(U)CHAR, MET_(U)SHORT, MET_(U)INT, MET_FLOAT, MET_DOUBLE"))?;
    let yes = |keys: &[&str]| get(keys).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let data = get(&["ElementDataFile"]).unwrap_or_default();
    if data.starts_with("LIST") || data.contains('%') {
        return Err(format!(
            "ElementDataFile = {data}: one data file per volume, please"
        ));
    }
    Ok(Header {
        size,
        spacing,
        origin,
        direction,
        element,
        big_endian: yes(&["BinaryDataByteOrderMSB", "ElementByteOrderMSB"]),
        compressed: yes(&["CompressedData"]),
        data_file: (data != "LOCAL").then(|| PathBuf::from(data)),
        header_bytes,
    })
}

/// A header's values by key.
type Fields = std::collections::HashMap<String, String>;

/// The header's `Key = value` fields up to `ElementDataFile` (the last), and where that line
/// ends.
fn fields(head: &[u8]) -> std::result::Result<(Fields, usize), String> {
    let mut fields = Fields::default();
    let mut header_bytes = None;
    let mut at = 0;
    for line in head.split_inclusive(|&b| b == b'\n') {
        at += line.len();
        let text = std::str::from_utf8(line)
            .map_err(|_| "is not a MetaImage header (not text)".to_string())?;
        let Some((key, value)) = text.split_once('=') else {
            if text.trim().is_empty() {
                continue;
            }
            return Err(format!(
                "is not a MetaImage header: {:?} is not `Key = value`",
                text.trim()
            ));
        };
        let key = key.trim().to_string();
        let value = value.trim().to_string();
        let last = key == "ElementDataFile";
        fields.insert(key, value);
        if last {
            header_bytes = Some(at);
            break;
        }
    }
    let header_bytes = header_bytes.ok_or("is not a MetaImage header: no ElementDataFile line")?;
    Ok((fields, header_bytes))
}

/// The field `text` (its first key `key`, for messages) as `count` numbers, if it is there.
fn numbers(
    text: Option<String>,
    key: &str,
    count: usize,
) -> std::result::Result<Option<Vec<f64>>, String> {
    let Some(text) = text else {
        return Ok(None);
    };
    let values: Vec<f64> = text
        .split_whitespace()
        .map(|v| {
            v.parse::<f64>()
                .map_err(|_| format!("{key}: {v:?} is not a number"))
        })
        .collect::<std::result::Result<_, _>>()?;
    if values.len() != count {
        return Err(format!(
            "{key} has {} values where {count} are needed",
            values.len()
        ));
    }
    Ok(Some(values))
}

/// The voxels as int16 where every value is a whole number that fits, else f32.
fn convert(bytes: &[u8], element: Element, big_endian: bool) -> Voxels {
    macro_rules! values {
        ($t:ty, $n:expr) => {
            bytes.chunks_exact($n).map(|c| {
                let a: [u8; $n] = c.try_into().expect("chunk size");
                match big_endian {
                    true => <$t>::from_be_bytes(a),
                    false => <$t>::from_le_bytes(a),
                }
            })
        };
    }
    match element {
        Element::I16 => Voxels::I16(values!(i16, 2).collect()),
        Element::U8 => Voxels::I16(bytes.iter().map(|&b| i16::from(b)).collect()),
        Element::I8 => Voxels::I16(bytes.iter().map(|&b| i16::from(b as i8)).collect()),
        Element::U16 => narrow(values!(u16, 2).map(f64::from).collect()),
        Element::U32 => narrow(values!(u32, 4).map(f64::from).collect()),
        Element::I32 => narrow(values!(i32, 4).map(f64::from).collect()),
        Element::F32 => narrow(values!(f32, 4).map(f64::from).collect()),
        Element::F64 => narrow(values!(f64, 8).collect()),
    }
}

/// int16 when every value is a whole number within its range, else f32.
pub(crate) fn narrow(values: Vec<f64>) -> Voxels {
    let mut gathered = super::volume::Gather::default();
    gathered.push(&values);
    gathered.done()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(extra: &str) -> String {
        format!("ObjectType = Image\nNDims = 3\nDimSize = 2 3 4\nElementType = MET_SHORT\n{extra}ElementDataFile = v.raw\n")
    }

    #[test]
    fn reads_geometry_and_refuses_what_cannot_be_a_volume() {
        let h = parse(header("ElementSpacing = 0.5 0.5 2\nOffset = -10 -20 -30\nTransformMatrix = -1 0 0 0 1 0 0 0 1\n").as_bytes()).unwrap();
        assert_eq!(h.size, [2, 3, 4]);
        assert_eq!(h.spacing, [0.5, 0.5, 2.0]);
        assert_eq!(h.direction[0][0], -1.0);
        assert!(parse(header("ElementSpacing = 0 1 1\n").as_bytes())
            .unwrap_err()
            .contains("spacing"));
        assert!(parse(header("ElementSpacing = nan 1 1\n").as_bytes())
            .unwrap_err()
            .contains("spacing"));
        assert!(
            parse(header("TransformMatrix = 0 0 0 0 0 0 0 0 0\n").as_bytes())
                .unwrap_err()
                .contains("direction")
        );
        assert!(parse(header("Offset = 1 x 3\n").as_bytes())
            .unwrap_err()
            .contains("not a number"));
        let odd = header("").replace("MET_SHORT", "MET_RGB");
        assert!(parse(odd.as_bytes())
            .unwrap_err()
            .contains("ElementType MET_RGB"));
        assert!(inside_folder(Path::new("d/a.mhd"), Path::new("../b.raw")).is_err());
        assert!(inside_folder(Path::new("d/a.mhd"), Path::new("/etc/b.raw")).is_err());
        assert_eq!(
            inside_folder(Path::new("d/a.mhd"), Path::new("a.raw")).unwrap(),
            Path::new("d/a.raw")
        );
    }
}
