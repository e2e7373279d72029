use super::*;
use std::io::Write;

fn oblique() -> Geometry {
    // A rotation about z by 30° with anisotropic spacing; entries representable in f32.
    let (s, c) = (0.5f32, 0.866_025_4f32);
    Geometry {
        affine: [
            [f64::from(c * 1.5), f64::from(-s * 2.0), 0.0, -40.25],
            [f64::from(s * 1.5), f64::from(c * 2.0), 0.0, 12.5],
            [0.0, 0.0, 2.5, -7.75],
        ],
    }
}

fn sample(dims: [usize; 3], f: impl Fn(usize) -> f32) -> Volume<f32> {
    let n = dims.iter().product();
    Volume::from_vec(dims, (0..n).map(f).collect(), oblique()).unwrap()
}

fn header_field_i16(bytes: &[u8], offset: usize) -> i16 {
    i16::from_le_bytes([bytes[offset], bytes[offset + 1]])
}

#[test]
fn round_trip_every_datatype_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let dims = [7, 5, 4];
    let cases: [(DiskType, Volume<f32>); 6] = [
        (DiskType::U8, sample(dims, |n| (n * 7 % 256) as f32)),
        (
            DiskType::I16,
            sample(dims, |n| (n as f32 * 331.0) % 65535.0 - 32768.0),
        ),
        (DiskType::U16, sample(dims, |n| (n * 977 % 65536) as f32)),
        (DiskType::I32, sample(dims, |n| (n as f32 - 70.0) * 4099.0)),
        (
            DiskType::F32,
            sample(dims, |n| (n as f32).sin() * 1e3 + 1e-7),
        ),
        (DiskType::F64, sample(dims, |n| (n as f32).cos() / 3.0)),
    ];
    for (disk, vol) in &cases {
        for ext in ["nii", "nii.gz"] {
            let path = dir.path().join(format!("v_{disk:?}.{ext}"));
            write_image_as(&path, vol, *disk).unwrap();
            let back = read_image(&path).unwrap();
            assert_eq!(back.dims(), dims, "{disk:?} {ext}");
            let same = vol
                .as_slice()
                .iter()
                .zip(back.as_slice())
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{disk:?} {ext}: voxels changed");
            assert_eq!(
                back.geometry(),
                vol.geometry(),
                "{disk:?} {ext}: affine changed"
            );
            let header = nifti::NiftiHeader::from_file(&path).unwrap();
            assert_eq!(header.datatype, disk.code());
        }
    }
}

#[test]
fn labels_round_trip_and_reject_non_labels() {
    let dir = tempfile::tempdir().unwrap();
    let labels =
        LabelVolume::from_vec([4, 3, 2], (0..24).map(|v| v * 1000).collect(), oblique()).unwrap();
    let p = dir.path().join("l.nii.gz");
    write_labels(&p, &labels).unwrap();
    assert_eq!(read_labels(&p).unwrap(), labels);

    let frac = sample([2, 2, 2], |n| n as f32 * 0.5);
    let p = dir.path().join("frac.nii");
    write_image(&p, &frac).unwrap();
    let e = read_labels(&p).unwrap_err();
    assert!(
        matches!(e, Error::NotALabel { value, .. } if value == 0.5),
        "{e}"
    );
    assert!(e.to_string().contains("frac.nii"));
}

#[test]
fn images_with_nan_or_infinite_voxels_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let vol = sample([3, 4, 5], |n| match n {
        7 => f32::NAN,
        30 => f32::INFINITY,
        _ => n as f32,
    });
    let p = dir.path().join("nan.nii");
    write_image(&p, &vol).unwrap();
    let e = read_image(&p).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotFinite {
                count: 2,
                first: [1, 2, 0],
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("nan.nii"), "{e}");
}

#[test]
fn qform_is_written_and_used_without_sform() {
    let dir = tempfile::tempdir().unwrap();
    let vol = sample([3, 4, 5], |n| n as f32);
    let p = dir.path().join("q.nii");
    write_image(&p, &vol).unwrap();
    let mut bytes = std::fs::read(&p).unwrap();
    assert_eq!(header_field_i16(&bytes, 252), 1, "qform_code");
    bytes[254..256].copy_from_slice(&0i16.to_le_bytes()); // sform_code = 0
    std::fs::write(&p, &bytes).unwrap();
    let back = read_image(&p).unwrap();
    assert!(
        back.geometry().approx_eq(vol.geometry(), 1e-4),
        "{:?}",
        back.geometry()
    );
}

#[test]
fn left_handed_affine_keeps_qfac() {
    let dir = tempfile::tempdir().unwrap();
    let g = Geometry::from_spacing_origin([-2.0, 2.0, 3.0], [90.0, -126.0, -72.0]);
    let vol = Volume::from_vec([2, 2, 2], vec![1.0f32; 8], g.clone()).unwrap();
    let p = dir.path().join("lh.nii");
    write_image(&p, &vol).unwrap();
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[254..256].copy_from_slice(&0i16.to_le_bytes());
    std::fs::write(&p, &bytes).unwrap();
    assert!(read_image(&p).unwrap().geometry().approx_eq(&g, 1e-5));
}

fn valid_file(dir: &Path) -> (PathBuf, Vec<u8>) {
    let p = dir.join("ok.nii");
    write_image(&p, &sample([6, 5, 4], |n| n as f32)).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    (p, bytes)
}

fn message_for(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    let e = read_image(&p).expect_err("corrupt file must not read");
    let text = e.to_string();
    assert!(text.contains(name), "error does not name the file: {text}");
    text
}

#[test]
fn corrupt_inputs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, ok) = valid_file(dir.path());

    let m = message_for(dir.path(), "short.nii", &ok[..ok.len() - 50]);
    assert!(m.contains("truncated"), "{m}");

    let m = message_for(dir.path(), "header_only.nii", &ok[..200]);
    assert!(m.contains("truncated") || m.contains("NIfTI"), "{m}");

    let m = message_for(dir.path(), "garbage.nii", &[7u8; 500]);
    assert!(m.contains("NIfTI"), "{m}");

    let mut four_d = ok.clone();
    four_d[40..42].copy_from_slice(&4i16.to_le_bytes());
    four_d[48..50].copy_from_slice(&1i16.to_le_bytes()); // dim[4] = 1 is still one volume
    four_d[42..44].copy_from_slice(&3i16.to_le_bytes()); // dim[1] 6 -> 3, dim[4] -> 2
    four_d[48..50].copy_from_slice(&2i16.to_le_bytes());
    let m = message_for(dir.path(), "four_d.nii", &four_d);
    assert!(m.contains("`dim`") && m.contains("3-D"), "{m}");

    let mut complex = ok.clone();
    complex[70..72].copy_from_slice(&32i16.to_le_bytes());
    complex[72..74].copy_from_slice(&64i16.to_le_bytes());
    let m = message_for(dir.path(), "complex.nii", &complex);
    assert!(m.contains("datatype") || m.contains("data type"), "{m}");

    let mut zero = ok.clone();
    zero[44..46].copy_from_slice(&0i16.to_le_bytes());
    message_for(dir.path(), "zero_dim.nii", &zero);

    let mut singular = ok.clone();
    singular[280..296].fill(0); // srow_x = 0
    let m = message_for(dir.path(), "singular.nii", &singular);
    assert!(m.contains("srow"), "{m}");

    // A gzip stream cut in the middle.
    let gz = dir.path().join("ok.nii.gz");
    write_image(&gz, &sample([20, 20, 20], |n| (n as f32).sin())).unwrap();
    let gz_bytes = std::fs::read(&gz).unwrap();
    let m = message_for(dir.path(), "cut.nii.gz", &gz_bytes[..gz_bytes.len() / 2]);
    assert!(m.contains("truncated") || m.contains("NIfTI"), "{m}");
}

#[test]
fn inconsistent_headers_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (_, ok) = valid_file(dir.path());

    // bitpix 16 for float32 data: a header that contradicts itself (it panicked before).
    let mut bitpix = ok.clone();
    bitpix[72..74].copy_from_slice(&16i16.to_le_bytes());
    let m = message_for(dir.path(), "bitpix.nii", &bitpix);
    assert!(m.contains("`bitpix`") && m.contains("contradicts"), "{m}");

    // vox_offset pointing past where the data are (no extensions): refused, not misread.
    for (name, offset) in [
        ("far.nii", 400.0f32),
        ("short_offset.nii", 100.0),
        ("frac.nii", 352.5),
    ] {
        let mut voff = ok.clone();
        voff[108..112].copy_from_slice(&offset.to_le_bytes());
        let m = message_for(dir.path(), name, &voff);
        // Past the data, the file is also too short for what the header places there.
        assert!(
            (m.contains("`vox_offset`") && m.contains("352")) || m.contains("truncated"),
            "{name}: {m}"
        );
    }

    // A 2-D image: one slice.
    let flat = dir.path().join("flat.nii.gz");
    write_image(&flat, &sample([6, 5, 1], |n| n as f32)).unwrap();
    let m = read_image(&flat).unwrap_err().to_string();
    assert!(m.contains("flat.nii.gz") && m.contains("2-D"), "{m}");

    // A corrupt gzip stream reads as a clear sentence, not debug text.
    let mut gz = std::fs::read(dir.path().join("ok.nii")).unwrap();
    gz.splice(0..0, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff]);
    let m = message_for(dir.path(), "corrupt.nii.gz", &gz);
    assert!(!m.contains("Custom {") && !m.contains("Io("), "{m}");
}

#[test]
fn missing_file_and_directory_are_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = read_image(&dir.path().join("nope.nii.gz"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("nope.nii.gz") && e.contains("No such file"),
        "{e}"
    );
    let e = read_image(dir.path()).unwrap_err().to_string();
    assert!(e.contains("directory"), "{e}");
}

#[test]
fn failed_write_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let vol = sample([2, 2, 2], |n| n as f32 + 0.5);
    let p = dir.path().join("x.nii.gz");
    assert!(write_image_as(&p, &vol, DiskType::U8).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn displacement_field_is_a_5d_vector_image() {
    let dir = tempfile::tempdir().unwrap();
    let dims = [3, 4, 2];
    let comps: [Vec<f32>; 3] =
        std::array::from_fn(|c| (0..24).map(|n| (n * 3 + c) as f32).collect());
    let p = dir.path().join("warp.nii.gz");
    write_displacement(&p, &comps, dims, &oblique()).unwrap();
    let h = nifti::NiftiHeader::from_file(&p).unwrap();
    assert_eq!(h.dim, [5, 3, 4, 2, 1, 3, 1, 1]);
    assert_eq!(h.intent_code, 1007);
    let obj = ReaderOptions::new().read_file(&p).unwrap();
    let a = obj.into_volume().into_ndarray::<f32>().unwrap();
    assert_eq!(a[[1, 2, 1, 0, 2]], comps[2][1 + 3 * (2 + 4)]);
    assert_eq!(a[[2, 0, 0, 0, 0]], comps[0][2]);
}
