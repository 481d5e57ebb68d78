//! Reads a PyTorch `torch.save(model.state_dict(), path)` file without Python: a zip archive
//! holding `<name>/data.pkl` (a pickle of an OrderedDict of tensors) and `<name>/data/<key>`
//! (one raw little-endian storage per tensor). The pickle machine here understands the opcodes
//! such a file uses and nothing more; tensors saved on CUDA load the same, as the device is
//! only a string in the pickle.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use tch::Tensor;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// A class or function named by module and name.
    Global(String, String),
    /// A persistent id: how torch refers to a storage kept outside the pickle.
    Storage(Box<Value>),
    /// A tensor: storage key, element type, offset, size, stride.
    Tensor {
        key: String,
        dtype: String,
        offset: i64,
        size: Vec<i64>,
        stride: Vec<i64>,
    },
    Mark,
}

pub fn load(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let fail = |msg: String| Error::file(path, msg);
    let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot open ({e})")))?;
    let archive = file.metadata().map_or(0, |m| m.len());
    let mut zip = zip::ZipArchive::new(file).map_err(|e| fail(zip_reason(&e)))?;
    if zip.is_empty() {
        return Err(fail(
            "an empty zip archive, not a PyTorch checkpoint".into(),
        ));
    }
    let pickle_name = zip
        .file_names()
        .filter_map(|n| n.ok())
        .find(|n| n.ends_with("/data.pkl") || n == "data.pkl")
        .map(|n| n.into_owned())
        .ok_or_else(|| {
            fail("a zip archive without data.pkl, not a PyTorch checkpoint (torch.save)".into())
        })?;
    let prefix = pickle_name.trim_end_matches("data.pkl").to_owned();
    let pickle = read_entry(&mut zip, archive, &pickle_name).map_err(fail)?;
    let root = unpickle(&pickle).map_err(|e| fail(format!("cannot read data.pkl ({e})")))?;
    let Value::Dict(items) = root else {
        return Err(fail(
            "data.pkl does not hold a state_dict (a dict of tensors)".into(),
        ));
    };
    let mut tensors = Vec::with_capacity(items.len());
    for (name, value) in items {
        let (
            Value::Str(name),
            Value::Tensor {
                key,
                dtype,
                offset,
                size,
                stride,
            },
        ) = (name, value)
        else {
            return Err(fail(
                "state_dict holds something other than named tensors".into(),
            ));
        };
        let bytes = read_entry(&mut zip, archive, &format!("{prefix}data/{key}")).map_err(fail)?;
        let flat = match dtype.as_str() {
            "FloatStorage" => Tensor::from_slice(&le_values(&bytes, f32::from_le_bytes)),
            "DoubleStorage" => {
                Tensor::from_slice(&le_values(&bytes, f64::from_le_bytes)).to_kind(tch::Kind::Float)
            }
            other => {
                return Err(fail(format!(
                    "tensor '{name}' has unsupported type {other}"
                )))
            }
        };
        let needed = offset
            + size
                .iter()
                .zip(&stride)
                .map(|(s, st)| (s - 1) * st)
                .sum::<i64>()
            + 1;
        if size.iter().all(|&s| s > 0) && needed > flat.numel() as i64 {
            return Err(fail(format!("tensor '{name}' is truncated")));
        }
        // The f_ variants return libtorch's complaint instead of panicking on a corrupt layout.
        let tensor = flat
            .f_as_strided(&size, &stride, offset)
            .and_then(|t| t.f_contiguous())
            .map_err(|e| fail(format!("tensor '{name}' has an impossible layout ({e})")))?;
        tensors.push((name, tensor));
    }
    Ok(tensors)
}

/// Why a file starting as a zip is not a readable one, in words (the zip crate's own messages
/// name its internal structures).
fn zip_reason(e: &zip::result::ZipError) -> String {
    use zip::result::ZipError as Z;
    match e {
        Z::Io(e) => format!("cannot be read ({e})"),
        Z::UnsupportedArchive(what) => {
            format!("a zip archive this reader cannot open ({what}), not a PyTorch checkpoint")
        }
        _ => "a broken or cut-short zip archive, not a PyTorch checkpoint".into(),
    }
}

/// The entry `name` of `zip`, an archive of `archive` bytes.
fn read_entry(
    zip: &mut zip::ZipArchive<std::fs::File>,
    archive: u64,
    name: &str,
) -> std::result::Result<Vec<u8>, String> {
    let entry = zip.by_name(name).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => format!("entry {name} missing"),
        e => format!("entry {name}: {}", zip_reason(&e)),
    })?;
    // The sizes in a zip are claims: memory is reserved for no more than deflate can expand the
    // archive to (1032:1), and no more than the claim is ever read.
    let claimed = entry.size();
    if claimed > archive.saturating_mul(crate::files::MAX_DEFLATE_RATIO) {
        return Err(format!(
            "entry {name} claims {} in an archive of {}: not a real checkpoint",
            crate::data::memory::size(claimed),
            crate::data::memory::size(archive)
        ));
    }
    let mut bytes = Vec::with_capacity(claimed as usize);
    entry
        .take(claimed)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("entry {name} unreadable ({e})"))?;
    Ok(bytes)
}

fn le_values<T, const N: usize>(bytes: &[u8], from: fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|c| from(c.try_into().expect("chunk of N bytes")))
        .collect()
}

/// Runs the pickle machine over `data` and returns the object on top of the stack.
fn unpickle(data: &[u8]) -> std::result::Result<Value, String> {
    let mut r = Reader { data, pos: 0 };
    let mut stack: Vec<Value> = Vec::new();
    let mut memo: HashMap<u32, Value> = HashMap::new();
    let pop = |stack: &mut Vec<Value>| stack.pop().ok_or("stack underflow".to_string());
    let pop_mark = |stack: &mut Vec<Value>| -> std::result::Result<Vec<Value>, String> {
        let mark = stack
            .iter()
            .rposition(|v| *v == Value::Mark)
            .ok_or("no mark")?;
        let items = stack.split_off(mark + 1);
        stack.pop();
        Ok(items)
    };
    loop {
        let op = r.u8()?;
        match op {
            0x80 => {
                r.u8()?;
            } // PROTO
            0x95 => {
                r.take(8)?;
            } // FRAME
            b'.' => return pop(&mut stack), // STOP
            b'}' => stack.push(Value::Dict(Vec::new())),
            b']' => stack.push(Value::List(Vec::new())),
            b')' => stack.push(Value::Tuple(Vec::new())),
            b'(' => stack.push(Value::Mark),
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            b'K' => stack.push(Value::Int(r.u8()? as i64)),
            b'M' => stack.push(Value::Int(u16::from_le_bytes(r.array()?) as i64)),
            b'J' => stack.push(Value::Int(i32::from_le_bytes(r.array()?) as i64)),
            0x8a => {
                // LONG1
                let n = r.u8()? as usize;
                let bytes = r.take(n)?;
                let mut v: i64 = if bytes.last().is_some_and(|b| b & 0x80 != 0) {
                    -1
                } else {
                    0
                };
                for &b in bytes.iter().rev() {
                    v = (v << 8) | b as i64;
                }
                stack.push(Value::Int(v));
            }
            b'G' => stack.push(Value::Float(f64::from_be_bytes(r.array()?))),
            b'X' => {
                let n = u32::from_le_bytes(r.array()?) as usize;
                stack.push(Value::Str(r.string(n)?));
            }
            0x8c => {
                let n = r.u8()? as usize;
                stack.push(Value::Str(r.string(n)?));
            }
            b'U' => {
                let n = r.u8()? as usize;
                stack.push(Value::Str(r.string(n)?));
            }
            b'T' => {
                let n = u32::from_le_bytes(r.array()?) as usize;
                stack.push(Value::Str(r.string(n)?));
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                stack.push(global(module, name)?);
            }
            0x93 => {
                // STACK_GLOBAL
                let (Value::Str(name), Value::Str(module)) = (pop(&mut stack)?, pop(&mut stack)?)
                else {
                    return Err("STACK_GLOBAL without names".into());
                };
                stack.push(global(module, name)?);
            }
            b'q' => {
                let k = r.u8()? as u32;
                memo.insert(k, stack.last().cloned().ok_or("memo of nothing")?);
            }
            b'r' => {
                let k = u32::from_le_bytes(r.array()?);
                memo.insert(k, stack.last().cloned().ok_or("memo of nothing")?);
            }
            0x94 => {
                let k = memo.len() as u32;
                memo.insert(k, stack.last().cloned().ok_or("memo of nothing")?);
            }
            b'h' => {
                let k = r.u8()? as u32;
                stack.push(memo.get(&k).cloned().ok_or("unknown memo key")?);
            }
            b'j' => {
                let k = u32::from_le_bytes(r.array()?);
                stack.push(memo.get(&k).cloned().ok_or("unknown memo key")?);
            }
            b't' => {
                let items = pop_mark(&mut stack)?;
                stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err("stack underflow".into());
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(items));
            }
            b'Q' => {
                let id = pop(&mut stack)?;
                stack.push(Value::Storage(Box::new(id)));
            } // BINPERSID
            b'R' => {
                // REDUCE
                let args = pop(&mut stack)?;
                let func = pop(&mut stack)?;
                stack.push(reduce(func, args)?);
            }
            0x81 => {
                // NEWOBJ: cls.__new__(cls, *args), only OrderedDict-like here
                let args = pop(&mut stack)?;
                let cls = pop(&mut stack)?;
                stack.push(reduce(cls, args)?);
            }
            b'b' => {
                pop(&mut stack)?;
            } // BUILD: object state (state_dict._metadata) is not needed
            b's' | b'u' => {
                let items = if op == b's' {
                    let v = pop(&mut stack)?;
                    let k = pop(&mut stack)?;
                    vec![k, v]
                } else {
                    pop_mark(&mut stack)?
                };
                let Some(Value::Dict(dict)) = stack.last_mut() else {
                    return Err("SETITEMS on a non-dict".into());
                };
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    dict.push((k, v));
                }
            }
            b'a' | b'e' => {
                let items = if op == b'a' {
                    vec![pop(&mut stack)?]
                } else {
                    pop_mark(&mut stack)?
                };
                let Some(Value::List(list)) = stack.last_mut() else {
                    return Err("APPENDS on a non-list".into());
                };
                list.extend(items);
            }
            other => {
                return Err(format!(
                    "unsupported pickle opcode 0x{other:02x} at byte {}",
                    r.pos - 1
                ))
            }
        }
    }
}

/// The globals a state_dict of tensors names: the dict types, torch's tensor rebuilders and
/// its storage types (their element type is checked later, by tensor). Any other global —
/// `os.system`, `builtins.eval`, a model's own class — is refused by name as soon as it is
/// read; nothing is ever called in any case, the pickle machine here only builds values.
pub const GLOBALS: [(&str, &str); 4] = [
    ("collections", "OrderedDict"),
    ("builtins", "dict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor"),
];

fn global(module: String, name: String) -> std::result::Result<Value, String> {
    let storage = module == "torch" && name.ends_with("Storage");
    match storage || GLOBALS.contains(&(module.as_str(), name.as_str())) {
        true => Ok(Value::Global(module, name)),
        false => Err(format!(
            "refuses {module}.{name}: a state_dict of tensors names no such thing"
        )),
    }
}

/// The few callables a state_dict pickle applies.
fn reduce(func: Value, args: Value) -> std::result::Result<Value, String> {
    let Value::Global(module, name) = &func else {
        return Err("call of a non-global".into());
    };
    let Value::Tuple(args) = args else {
        return Err("call without an argument tuple".into());
    };
    match (module.as_str(), name.as_str()) {
        ("collections", "OrderedDict") | ("builtins", "dict") => Ok(Value::Dict(Vec::new())),
        ("torch._utils", "_rebuild_tensor_v2") | ("torch._utils", "_rebuild_tensor") => {
            let [Value::Storage(id), Value::Int(offset), Value::Tuple(size), Value::Tuple(stride), ..] =
                &args[..]
            else {
                return Err("unexpected _rebuild_tensor arguments".into());
            };
            // ('storage', torch.FloatStorage, '0', 'cuda:0', numel)
            let Value::Tuple(id) = id.as_ref() else {
                return Err("unexpected storage id".into());
            };
            let [_, Value::Global(_, dtype), Value::Str(key), ..] = &id[..] else {
                return Err("unexpected storage id".into());
            };
            let ints = |v: &Vec<Value>| {
                v.iter()
                    .map(|x| match x {
                        Value::Int(i) => Ok(*i),
                        _ => Err("non-integer size".to_string()),
                    })
                    .collect::<std::result::Result<Vec<i64>, String>>()
            };
            Ok(Value::Tensor {
                key: key.clone(),
                dtype: dtype.clone(),
                offset: *offset,
                size: ints(size)?,
                stride: ints(stride)?,
            })
        }
        _ => Err(format!(
            "unsupported object {module}.{name} (only state_dicts of tensors)"
        )),
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or("truncated pickle")?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> std::result::Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> std::result::Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn string(&mut self, n: usize) -> std::result::Result<String, String> {
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "invalid UTF-8 string".to_string())
    }

    fn line(&mut self) -> std::result::Result<String, String> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("unterminated line")?;
        let s = self.string(n)?;
        self.pos += 1;
        Ok(s)
    }
}
