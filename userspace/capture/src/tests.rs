use super::*;
use crate::{Info, Writer};
use fencescope_schema::{FenceDestroy, Header, Kind};
use proptest::prelude::*;

fn record(i: u64) -> Vec<u8> {
    let r = FenceDestroy {
        header: Header {
            kind: Kind::FenceDestroy as u16,
            via: 2,
            _pad: 0,
            cpu: 0,
            ts_ns: i,
            tgid: 1,
            tid: 1,
            comm: [0; 16],
        },
        fence: 0xffff_0000 + i,
        signalled: 1,
        _pad: 0,
    };
    bytemuck::bytes_of(&r).to_vec()
}

fn temp(tag: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("fsc-{tag}-{}-{n}", std::process::id()))
}

fn capture(records: u64, chunk_every: u64) -> Vec<u8> {
    let dir = temp("capture");
    let info = Info {
        tool_version: "test".into(),
        schema_version: 1,
        kernel_release: "6.12".into(),
        ..Info::default()
    };
    let mut w = Writer::create(&dir, &info).unwrap();
    for i in 0..records {
        w.push(&record(i)).unwrap();
        if (i + 1) % chunk_every == 0 {
            w.flush_chunk().unwrap();
        }
    }
    w.finish().unwrap();
    let bytes = std::fs::read(&dir).unwrap();
    std::fs::remove_file(&dir).unwrap();
    bytes
}

/// Replays `bytes` from memory and, streamed, from a file: both readers
/// must give the same records and the same outcome (or the same error).
fn replay(bytes: Vec<u8>) -> Result<(Vec<Vec<u8>>, Outcome), Error> {
    let path = temp("replay");
    std::fs::write(&path, &bytes).unwrap();
    let from_file = read(&path).map(|c| {
        let mut got = Vec::new();
        let out = c.for_each(|r| got.push(r.to_vec()));
        (got, out)
    });
    std::fs::remove_file(&path).unwrap();
    let from_memory = Capture::from_bytes("t.fsc".into(), bytes).map(|c| {
        let mut got = Vec::new();
        let out = c.for_each(|r| got.push(r.to_vec()));
        (got, out)
    });
    match (&from_file, &from_memory) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "file and memory readers differ"),
        (Err(a), Err(b)) => assert_eq!(
            a.to_string().replace(&path.display().to_string(), "t.fsc"),
            b.to_string(),
            "file and memory readers refuse differently"
        ),
        (a, b) => panic!("file reader {:?}, memory reader {:?}", a.is_ok(), b.is_ok()),
    }
    from_memory
}

#[test]
fn an_endless_file_is_refused_on_its_first_bytes() {
    // /dev/zero never ends: a reader that reads the file whole never returns.
    let e = read(std::path::Path::new("/dev/zero")).err().expect("refused");
    assert!(e.to_string().contains("not a fencescope capture"), "{e}");
}

#[test]
fn round_trip_keeps_every_record_in_order() {
    let (got, out) = replay(capture(1000, 100)).unwrap();
    assert_eq!(out, Outcome { chunks: 10, records: 1000, stopped: None });
    assert!(got == (0..1000).map(record).collect::<Vec<_>>());
    let (got, out) = replay(capture(0, 1)).unwrap();
    assert_eq!((got.len(), out.stopped), (0, None));
}

#[test]
fn a_capture_cut_anywhere_reads_its_complete_chunks() {
    let full = capture(30, 10);
    let (_, whole) = replay(full.clone()).unwrap();
    assert_eq!(whole.chunks, 3);
    let header_end = 16 + u32::from_le_bytes(full[12..16].try_into().unwrap()) as usize;
    for cut in 0..full.len() {
        let r = replay(full[..cut].to_vec());
        if cut < header_end {
            let e = r.expect_err("a cut header is an error").to_string();
            assert!(e.starts_with("t.fsc: "), "{e}");
            assert!(!e.contains('\n'));
            continue;
        }
        let (got, out) = r.unwrap();
        // Records come only in whole chunks, and all of them up to the cut.
        assert_eq!(got.len() as u64, out.records);
        assert_eq!(out.records, out.chunks * 10);
        assert!(got == (0..out.records).map(record).collect::<Vec<_>>(), "cut at {cut}");
        // Only the whole file ends cleanly; any cut says it was interrupted.
        assert!(out.stopped.is_some(), "cut at {cut}");
    }
}

#[test]
fn bad_files_get_one_clear_line() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "empty file"),
        (b"hello, this is a text file\n".to_vec(), "not a fencescope capture"),
        (
            (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect(),
            "not a fencescope capture",
        ),
        (b"FNCS".to_vec(), "cut short"),
    ];
    for (bytes, want) in cases {
        let e = replay(bytes).expect_err("refused").to_string();
        assert!(e.contains(want), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}

#[test]
fn newer_versions_are_refused_with_what_to_do() {
    let mut newer = capture(3, 3);
    newer[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let e = replay(newer).err().unwrap().to_string();
    assert!(e.contains("newer fencescope"), "{e}");

    let info = Info { schema_version: fencescope_schema::SCHEMA_VERSION + 1, ..Info::default() };
    let path = temp("newer-schema");
    Writer::create(&path, &info).unwrap().finish().unwrap();
    let e = read(&path).err().unwrap().to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(e.contains("event schema"), "{e}");
}

#[test]
fn a_flipped_byte_stops_the_read_at_that_chunk() {
    let mut bytes = capture(30, 10);
    let n = bytes.len();
    bytes[n - 12 - 5] ^= 0xff; // inside the last chunk, before the end marker
    let (got, out) = replay(bytes).unwrap();
    assert_eq!(got.len(), 20);
    assert!(out.stopped.unwrap().contains("checksum"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    // Any bytes at all: an error or a partial read, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(mut tail in proptest::collection::vec(any::<u8>(), 0..2048), keep in 0usize..400) {
        let mut bytes = capture(12, 4);
        bytes.truncate(keep.min(bytes.len()));
        bytes.append(&mut tail);
        let _ = replay(bytes);
    }

    #[test]
    fn arbitrary_chunks_after_a_good_header_never_panic(body in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut bytes = capture(0, 1);
        bytes.extend_from_slice(b"CHNK");
        bytes.extend_from_slice(&body);
        let _ = replay(bytes);
    }
}
