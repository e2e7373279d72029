//! Generated hostile NIfTI files: a valid image with its header fields overwritten at random
//! (dims, datatype, bitpix, vox_offset, pixdim, scaling, qform/sform, magic, sizeof_hdr),
//! truncated or gzipped. Whatever the bytes, the reader returns an image or an error that
//! names the file — never a panic, never an error that the command line would report as
//! anything but bad input (exit code 2). 60 000 cases per run in two halves (fixed seeds, so a failure
//! reproduces; proptest prints the case).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;

use atlasperf_kernels::volume::{read_image, read_labels, write_image};
use atlasperf_kernels::{Error, Geometry, Volume};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Byte offsets of the header fields worth hitting, with their widths.
const FIELDS: &[(usize, usize)] = &[
    (0, 4),    // sizeof_hdr
    (40, 16),  // dim[0..8]
    (70, 2),   // datatype
    (72, 2),   // bitpix
    (76, 32),  // pixdim[0..8]
    (108, 4),  // vox_offset
    (112, 8),  // scl_slope, scl_inter
    (252, 4),  // qform_code, sform_code
    (256, 24), // quatern_b..d, qoffset_x..z
    (280, 48), // srow_x..z
    (344, 4),  // magic
    (348, 4),  // extender
];

fn valid() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.nii");
    let g = Geometry::from_spacing_origin([1.5, 2.0, 2.5], [-3.0, 4.0, 5.0]);
    let v = Volume::from_vec([4, 5, 6], (0..120).map(|i| i as f32).collect(), g).unwrap();
    write_image(&p, &v).unwrap();
    std::fs::read(&p).unwrap()
}

#[derive(Debug, Clone)]
struct Case {
    edits: Vec<(usize, Vec<u8>)>,
    truncate: Option<usize>,
    gzip: bool,
}

fn case(len: usize) -> impl Strategy<Value = Case> {
    let edit = (
        0..FIELDS.len(),
        prop_oneof![
            // Small integers and their neighbours, where most checks sit.
            any::<i16>().prop_map(|v| v.to_le_bytes().to_vec()),
            (-4i16..400).prop_map(|v| v.to_le_bytes().to_vec()),
            // Floats: ordinary, huge, NaN, infinite.
            prop_oneof![
                any::<f32>(),
                Just(f32::NAN),
                Just(f32::INFINITY),
                -1e3f32..1e3
            ]
            .prop_map(|v| v.to_le_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 1..8),
        ],
        0usize..16,
    )
        .prop_map(|(f, bytes, shift)| {
            let (start, width) = FIELDS[f];
            (start + shift % width, bytes)
        });
    (
        prop::collection::vec(edit, 1..6),
        prop::option::weighted(0.15, 0..len),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(edits, truncate, gzip)| Case {
            edits,
            truncate,
            gzip,
        })
}

fn bytes_of(base: &[u8], c: &Case) -> Vec<u8> {
    let mut b = base.to_vec();
    for (at, bytes) in &c.edits {
        for (k, v) in bytes.iter().enumerate() {
            if let Some(slot) = b.get_mut(at + k) {
                *slot = *v;
            }
        }
    }
    if let Some(n) = c.truncate {
        b.truncate(n);
    }
    if c.gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&b).unwrap();
        b = e.finish().unwrap();
    }
    b
}

fn check(path: &Path, name: &str) -> Result<(), TestCaseError> {
    for result in [read_image(path).map(drop), read_labels(path).map(drop)] {
        if let Err(e) = result {
            prop_assert!(
                !matches!(e, Error::Write { .. }),
                "a read reported as a write failure: {e}"
            );
            let text = e.to_string();
            prop_assert!(
                text.contains(name) || matches!(e, Error::InvalidParameter(_)),
                "error does not name the file: {text}"
            );
        }
    }
    Ok(())
}

// Two halves of 30 000 cases each, with their own seeds, so both test threads work on them.
#[test]
fn hostile_headers_never_panic_and_every_rejection_names_the_file() {
    hostile_headers(7);
}

#[test]
fn hostile_headers_never_panic_and_every_rejection_names_the_file_second_half() {
    hostile_headers(8);
}

fn hostile_headers(seed: u8) {
    let base = valid();
    let dir = tempfile::tempdir().unwrap();
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 30_000,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    );
    let (accepted, refused) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    let result = runner.run(&case(base.len()), |c| {
        let name = if c.gzip { "h.nii.gz" } else { "h.nii" };
        let path = dir.path().join(name);
        std::fs::write(&path, bytes_of(&base, &c)).unwrap();
        let ok = read_image(&path).is_ok();
        let counter = if ok { &accepted } else { &refused };
        counter.set(counter.get() + 1);
        check(&path, name)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (accepted, refused) = (accepted.get(), refused.get());
    eprintln!("hostile NIfTI: {accepted} read, {refused} refused");
    assert!(
        refused > 500 && accepted > 50,
        "{accepted} read, {refused} refused"
    );
}
