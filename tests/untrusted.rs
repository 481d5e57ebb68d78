//! The fuzz corpora (fuzz/corpus/<reader>/, grown by `scripts/fuzz`) replayed on the stable
//! toolchain through the very entry points the fuzz targets drive (`lnmc::untrusted`), so that
//! every input that once crashed a reader, or that the fuzzer found new paths with, stays
//! read or refused in one line a user understands. Plus the hostile files issue 33 names.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;

use lnmc::untrusted::{unreadable, Reader};

/// The allocator of this test binary notes each thread's largest single request, so that the
/// replay fails where a reader would reserve over 1 GB for a file of a few kB (the fuzzer's
/// `-malloc_limit_mb`, kept on the stable toolchain). libtorch's own allocations (the `.pth`
/// reader) are C++ and not seen here; the fuzzer sees them.
struct Largest;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // try_with: no panic while the thread's locals are torn down.
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// The most one hostile input may make a reader reserve (the fuzzer's limit: 1 GB).
const MAX_ALLOCATION: usize = 1 << 30;

fn corpus(reader: Reader) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(reader.name());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Feeds `bytes` to `reader`: Ok(true) read, Ok(false) refused in words, Err why not.
fn replay(reader: Reader, bytes: &[u8]) -> Result<bool, String> {
    LARGEST.with(|l| l.set(0));
    let fed = std::panic::catch_unwind(|| reader.feed(bytes));
    let largest = LARGEST.with(|l| l.get());
    if largest > MAX_ALLOCATION {
        return Err(format!(
            "reserved {} at once",
            lnmc::data::memory::size(largest as u64)
        ));
    }
    match fed {
        Err(_) => Err("panicked".into()),
        Ok(Ok(())) => Ok(true),
        Ok(Err(e)) => match unreadable(&e.to_string(), bytes) {
            Some(why) => Err(format!("{why}: {e}")),
            None => Ok(false),
        },
    }
}

#[test]
fn every_corpus_file_is_read_or_refused_in_one_line_of_words() {
    let failures: Vec<String> = std::thread::scope(|scope| {
        let jobs: Vec<_> = Reader::ALL
            .into_iter()
            .map(|reader| {
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    let mut read = 0;
                    for file in corpus(reader) {
                        // A file a running fuzzer replaced by a smaller one meanwhile is gone.
                        let Ok(bytes) = std::fs::read(&file) else {
                            continue;
                        };
                        match replay(reader, &bytes) {
                            Ok(true) => read += 1,
                            Ok(false) => {}
                            Err(why) => failures.push(format!("{}: {why}", file.display())),
                        }
                    }
                    // A harness that lays the bytes out where the reader does not look would
                    // refuse everything: each reader must read its seeds.
                    if read == 0 {
                        failures.push(format!("{}: no corpus file was read", reader.name()));
                    }
                    failures
                })
            })
            .collect();
        jobs.into_iter().flat_map(|j| j.join().unwrap()).collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn refusal(reader: Reader, bytes: &[u8]) -> String {
    match reader.feed(bytes) {
        Ok(()) => panic!("{} read {} hostile bytes", reader.name(), bytes.len()),
        Err(e) => {
            let text = e.to_string();
            assert_eq!(unreadable(&text, bytes), None, "{text}");
            text
        }
    }
}

#[test]
fn hostile_checkpoints_are_refused_in_words() {
    let upstream = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ConvNet_11.pth"
    ))
    .unwrap();
    assert_eq!(replay(Reader::Pth, &upstream), Ok(true));
    let empty_zip = [b"PK\x05\x06".as_slice(), &[0u8; 18]].concat();
    let text = refusal(Reader::Pth, &empty_zip);
    assert!(
        text.contains("an empty zip archive, not a PyTorch checkpoint"),
        "{text}"
    );
    let text = refusal(Reader::Safetensors, b"");
    assert!(text.contains("an empty file"), "{text}");
    // A header length of 4.6 EB in the first 8 bytes.
    let claim = [4_600_000_000_000_000_000u64.to_le_bytes().as_slice(), b"{}"].concat();
    let text = refusal(Reader::Safetensors, &claim);
    assert!(text.contains("claim a header of 4.6 EB"), "{text}");
    // upstream's archive with its data.pkl entry claiming 4 GB: refused before any allocation.
    let mut bomb = upstream.clone();
    let name = b"data.pkl";
    let at = bomb
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PK\x01\x02")
        .map(|(i, _)| i)
        .find(|&i| {
            bomb[i + 46..].starts_with(b"ConvNet_11/data.pkl")
                || bomb[i + 46..i + 46 + 64].windows(8).any(|w| w == name)
        })
        .expect("a central directory entry for data.pkl");
    bomb[at + 24..at + 28].copy_from_slice(&u32::MAX.to_le_bytes());
    let text = refusal(Reader::Pth, &bomb);
    assert!(text.contains("claims 4.29 GB"), "{text}");
}

/// A zip holding `pickle` as archive/data.pkl, as torch.save lays it out.
fn torch_zip(pickle: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("archive/data.pkl", stored).unwrap();
    zip.write_all(pickle).unwrap();
    zip.finish().unwrap();
    out.into_inner()
}

#[test]
fn a_pickle_naming_anything_but_a_state_dict_is_refused_by_name() {
    // GLOBAL os.system, a call of it with ('touch /tmp/x',), STOP: what a malicious .pth holds.
    let evil = b"\x80\x02cos\nsystem\nX\x0c\x00\x00\x00touch /tmp/x\x85R.";
    let text = refusal(Reader::Pth, &torch_zip(evil));
    assert!(text.contains("refuses os.system"), "{text}");
    let eval = b"\x80\x02cbuiltins\neval\n.";
    let text = refusal(Reader::Pth, &torch_zip(eval));
    assert!(text.contains("refuses builtins.eval"), "{text}");
    // An empty OrderedDict is a state_dict (of nothing): read.
    let empty = b"\x80\x02ccollections\nOrderedDict\n)R.";
    assert_eq!(replay(Reader::Pth, &torch_zip(empty)), Ok(true));
}

#[test]
fn a_compressed_volume_claiming_more_than_deflate_can_hold_is_refused_before_allocation() {
    // 2 GB of int16 voxels claimed by a MetaImage whose compressed data is 16 bytes.
    let mha = b"ObjectType = Image\nNDims = 3\nDimSize = 1000 1000 1000\nElementType = MET_SHORT\nCompressedData = True\nElementDataFile = LOCAL\n0123456789abcdef";
    let text = refusal(Reader::MetaImage, mha);
    assert!(text.contains("cannot hold the 2.00 GB"), "{text}");
    assert!(text.contains("deflate expands at most 1032:1"), "{text}");
}

/// A run folder runs/cv/fold-1 holding the fixture's config.json with `checkpoint_dir`.
fn copied_run(root: &std::path::Path, checkpoint_dir: &std::path::Path) -> PathBuf {
    let mut config: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/config.json")).unwrap();
    config["checkpoint_dir"] = checkpoint_dir.display().to_string().into();
    let run = root.join("runs/cv/fold-1");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::create_dir_all(checkpoint_dir).unwrap();
    std::fs::write(run.join("config.json"), config.to_string()).unwrap();
    run
}

#[test]
fn a_copied_run_writes_only_into_its_own_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let own = tmp.path().join("checkpoint/cv/fold-1");
    let run = copied_run(tmp.path(), &own);
    assert!(lnmc::run::RunDir::open(&run).is_ok());
    // Its config.json naming someone's folder as its checkpoints: resuming would write there.
    let elsewhere = tmp.path().join("home/important");
    std::fs::write(run.join("config.json"), "").unwrap();
    let run = copied_run(tmp.path(), &elsewhere);
    let e = lnmc::run::RunDir::open(&run)
        .expect_err("refused")
        .to_string();
    assert!(e.contains("which is not this run's (…/fold-1)"), "{e}");
    // A run folder that is a link to somewhere else.
    let link = tmp.path().join("runs/cv/fold-2");
    std::os::unix::fs::symlink(tmp.path().join("home"), &link).unwrap();
    let e = lnmc::run::RunDir::open(&link)
        .expect_err("refused")
        .to_string();
    assert!(e.contains("is a run folder that is a symbolic link"), "{e}");
    // A report folder must be a new or earlier report, by name: not `..`, not a link.
    for out in [tmp.path().join("runs/.."), PathBuf::from(".")] {
        let e = lnmc::report::check_out(&out)
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("is not a folder name to write a report into"),
            "{e}"
        );
    }
    let e = lnmc::report::check_out(&link)
        .expect_err("refused")
        .to_string();
    assert!(
        e.contains("is a report folder that is a symbolic link"),
        "{e}"
    );
}
