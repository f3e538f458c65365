//! Tests of the `data` module: IDX and CSV readers and writers (including every malformed
//! input the readers must name), the built-in digits, MNIST (when present), splits,
//! minibatches and batch filling.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use emf_rbm::data::{CsvOptions, Dataset, LabelColumn, Minibatches};
use emf_rbm::faer::Mat;
use emf_rbm::Error;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A fresh, empty scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("data-tests-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The shared data folder: `$EMF_RBM_DATA`, default `../shared/data` next to the crate.
fn shared_data() -> PathBuf {
    std::env::var_os("EMF_RBM_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

/// A small labelled image data set with varied values.
fn sample_set(n: usize, rows: usize, cols: usize) -> Dataset {
    let m = rows * cols;
    let data = (0..n * m)
        .map(|k| ((k * 37 + 11) % 256) as f64 / 255.0)
        .collect();
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    Dataset::new(data, m, Some(labels))
        .unwrap()
        .with_image_shape(rows, cols)
        .unwrap()
}

/// Unwraps a format error, returning (location, message).
fn format_err<T: std::fmt::Debug>(r: emf_rbm::Result<T>) -> (String, String) {
    match r {
        Err(Error::Format { location, what, .. }) => (location, what),
        other => panic!("expected Error::Format, got {other:?}"),
    }
}

fn assert_close(a: &Dataset, b: &Dataset, tol: f64) {
    assert_eq!(a.n_samples(), b.n_samples());
    assert_eq!(a.n_features(), b.n_features());
    for (x, y) in a.as_slice().iter().zip(b.as_slice()) {
        assert!((x - y).abs() <= tol, "{x} vs {y}");
    }
}

#[test]
fn idx_round_trip_plain_and_gz() {
    let dir = scratch("idx-round-trip");
    let ds = sample_set(23, 4, 5);
    for (img, lab) in [
        ("a-images-idx3-ubyte", "a-labels-idx1-ubyte"),
        ("b-images-idx3-ubyte.gz", "b-labels-idx1-ubyte.gz"),
    ] {
        let (img, lab) = (dir.join(img), dir.join(lab));
        ds.write_idx(&img, Some(&lab)).unwrap();
        let gz = fs::read(&img).unwrap()[..2] == [0x1f, 0x8b];
        assert_eq!(gz, img.extension().is_some_and(|e| e == "gz"));
        // Sibling label file found by name.
        let back = Dataset::read_idx(&img).unwrap();
        assert_close(&ds, &back, 0.5 / 255.0 + 1e-12);
        assert_eq!(back.labels(), ds.labels());
        assert_eq!(back.image_shape(), Some((4, 5)));
        // Explicit labels, and none.
        let back2 = Dataset::read_idx_with_labels(&img, Some(&lab), 255.0).unwrap();
        assert_eq!(back, back2);
        let unlabelled = Dataset::read_idx_with_labels(&img, None, 255.0).unwrap();
        assert_eq!(unlabelled.labels(), None);
    }
    // Exact values survive (they are multiples of 1/255); no temporary files are left.
    let back = Dataset::read_idx(&dir.join("a-images-idx3-ubyte")).unwrap();
    assert_eq!(back.as_slice(), ds.as_slice());
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn idx_gzip_detected_by_content_not_name() {
    let dir = scratch("idx-gz-by-magic");
    let ds = sample_set(3, 2, 2);
    let gz = dir.join("x.gz");
    ds.write_idx(&gz, None).unwrap();
    let renamed = dir.join("x.idx");
    fs::rename(&gz, &renamed).unwrap();
    assert_eq!(
        Dataset::read_idx(&renamed).unwrap().as_slice(),
        ds.as_slice()
    );
}

#[test]
fn idx_without_image_shape_round_trips_as_two_dims() {
    let dir = scratch("idx-2d");
    let ds = Dataset::new(vec![0.0, 1.0, 0.2, 0.4, 0.6, 0.8], 3, None).unwrap();
    let p = dir.join("flat.idx");
    ds.write_idx(&p, None).unwrap();
    assert_eq!(&fs::read(&p).unwrap()[..4], &[0, 0, 8, 2]);
    let back = Dataset::read_idx(&p).unwrap();
    assert_eq!(back.image_shape(), None);
    assert_eq!(back.n_features(), 3);
    assert_close(&ds, &back, 0.5 / 255.0);
    // Asking for a label file from an unlabelled set is an error.
    assert!(matches!(
        ds.write_idx(&p, Some(&dir.join("l"))),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn idx_truncated_payload() {
    let dir = scratch("idx-truncated");
    let p = dir.join("t-images-idx3-ubyte");
    sample_set(10, 3, 3).write_idx(&p, None).unwrap();
    let bytes = fs::read(&p).unwrap();
    assert_eq!(bytes.len(), 16 + 90);
    fs::write(&p, &bytes[..16 + 50]).unwrap();
    let (loc, what) = format_err(Dataset::read_idx(&p));
    assert_eq!(loc, "byte 66");
    assert!(what.contains("90") && what.contains("50"), "{what}");

    // Truncated inside the header.
    fs::write(&p, &bytes[..10]).unwrap();
    let (loc, _) = format_err(Dataset::read_idx(&p));
    assert_eq!(loc, "byte 10");

    // A truncated gzip stream.
    let gz = dir.join("t-images-idx3-ubyte.gz");
    sample_set(200, 10, 10).write_idx(&gz, None).unwrap();
    let b = fs::read(&gz).unwrap();
    fs::write(&gz, &b[..b.len() / 2]).unwrap();
    let (loc, what) = format_err(Dataset::read_idx(&gz));
    assert!(loc.contains("gzip"), "{loc}");
    assert!(what.contains("gzip"), "{what}");
}

#[test]
fn idx_wrong_magic() {
    let dir = scratch("idx-magic");
    let p = dir.join("m.idx");
    fs::write(&p, b"PK\x03\x04 this is a zip file, not IDX").unwrap();
    let (loc, what) = format_err(Dataset::read_idx(&p));
    assert_eq!(loc, "byte 0");
    assert!(what.contains("magic"), "{what}");

    // A label file given as the image file.
    let ds = sample_set(4, 2, 2);
    let (img, lab) = (dir.join("i"), dir.join("l"));
    ds.write_idx(&img, Some(&lab)).unwrap();
    let (loc, what) = format_err(Dataset::read_idx(&lab));
    assert_eq!(loc, "byte 3");
    assert!(what.contains("label"), "{what}");
    // And an image file given as the label file.
    let (loc, _) = format_err(Dataset::read_idx_with_labels(&img, Some(&img), 255.0));
    assert_eq!(loc, "byte 3");

    // An unsupported element type (float32).
    let mut b = fs::read(&img).unwrap();
    b[2] = 0x0d;
    fs::write(&p, &b).unwrap();
    let (loc, what) = format_err(Dataset::read_idx(&p));
    assert_eq!(loc, "byte 2");
    assert!(what.contains("float32"), "{what}");
}

#[test]
fn idx_dimension_mismatch() {
    let dir = scratch("idx-dims");
    let p = dir.join("d.idx");
    sample_set(5, 3, 3).write_idx(&p, None).unwrap();
    let mut b = fs::read(&p).unwrap();
    // Header claims 6 images of 3x3; the file holds 5.
    b[4..8].copy_from_slice(&6u32.to_be_bytes());
    fs::write(&p, &b).unwrap();
    let (loc, what) = format_err(Dataset::read_idx(&p));
    assert_eq!(loc, format!("byte {}", 16 + 45));
    assert!(
        what.contains("6 x 3 x 3") && what.contains("54") && what.contains("45"),
        "{what}"
    );
    // Header claims fewer than the file holds.
    b[4..8].copy_from_slice(&4u32.to_be_bytes());
    fs::write(&p, &b).unwrap();
    let (loc, what) = format_err(Dataset::read_idx(&p));
    assert_eq!(loc, format!("byte {}", 16 + 36));
    assert!(what.contains("9 unexpected bytes"), "{what}");
    // A zero dimension.
    b[8..12].copy_from_slice(&0u32.to_be_bytes());
    fs::write(&p, &b).unwrap();
    let (loc, _) = format_err(Dataset::read_idx(&p));
    assert_eq!(loc, "byte 8");
}

#[test]
fn idx_label_count_mismatch_names_both_files() {
    let dir = scratch("idx-label-count");
    let img = dir.join("train-images-idx3-ubyte");
    let lab = dir.join("train-labels-idx1-ubyte");
    sample_set(7, 2, 2).write_idx(&img, None).unwrap();
    sample_set(6, 2, 2)
        .write_idx(&dir.join("other"), Some(&lab))
        .unwrap();
    for r in [
        Dataset::read_idx(&img),
        Dataset::read_idx_with_labels(&img, Some(&lab), 255.0),
    ] {
        let err = r.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Format { .. }), "{err:?}");
        assert!(
            msg.contains("train-labels-idx1-ubyte") && msg.contains("train-images-idx3-ubyte"),
            "{msg}"
        );
        assert!(msg.contains('6') && msg.contains('7'), "{msg}");
    }
}

#[test]
fn idx_scale_and_out_of_range() {
    let dir = scratch("idx-scale");
    let p = dir.join("s.idx");
    // Bytes 0..255 with scale 16: bytes above 16 are an error naming the offset.
    sample_set(2, 2, 2).write_idx(&p, None).unwrap();
    let (loc, what) = format_err(Dataset::read_idx_with_scale(&p, 16.0));
    assert!(loc.starts_with("byte "), "{loc}");
    assert!(what.contains("exceeds the scale 16"), "{what}");
    assert!(matches!(
        Dataset::read_idx_with_scale(&p, -1.0),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn missing_file_is_an_io_error() {
    let p = Path::new("/nonexistent/emf-rbm/train-images-idx3-ubyte.gz");
    assert!(matches!(Dataset::read_idx(p), Err(Error::Io { .. })));
    assert!(matches!(
        Dataset::load("/nonexistent/emf-rbm/x.csv"),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        Dataset::load(""),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn csv_round_trip_plain_and_gz() {
    let dir = scratch("csv-round-trip");
    let ds = sample_set(9, 2, 3);
    let opts = CsvOptions {
        label_column: Some(LabelColumn::Last),
        ..Default::default()
    };
    for name in ["r.csv", "r.csv.gz"] {
        let p = dir.join(name);
        ds.write_csv(&p).unwrap();
        let back = Dataset::read_csv(&p, &opts).unwrap();
        assert_eq!(back.as_slice(), ds.as_slice(), "exact decimal round trip");
        assert_eq!(back.labels(), ds.labels());
        // Through load (default options: no labels, so the label column must be absent).
        let unl = Dataset::new(ds.as_slice().to_vec(), ds.n_features(), None).unwrap();
        unl.write_csv(&p).unwrap();
        assert_eq!(
            Dataset::load(p.to_str().unwrap()).unwrap().as_slice(),
            ds.as_slice()
        );
    }
}

#[test]
fn csv_options_header_first_label_delimiter_scale() {
    let dir = scratch("csv-options");
    let p = dir.join("h.csv");
    fs::write(
        &p,
        "\u{feff}label;p1;p2\r\n3; 0 ;255\r\n\r\n7;\"51\";102\r\n",
    )
    .unwrap();
    let opts = CsvOptions {
        has_header: true,
        label_column: Some(LabelColumn::First),
        scale: Some(255.0),
        delimiter: b';',
    };
    let ds = Dataset::read_csv(&p, &opts).unwrap();
    assert_eq!(ds.n_samples(), 2);
    assert_eq!(ds.as_slice(), &[0.0, 1.0, 0.2, 0.4]);
    assert_eq!(ds.labels(), Some(&[3u8, 7][..]));
    // Without a scale the error names the place and suggests one.
    let (loc, what) = format_err(Dataset::read_csv(
        &p,
        &CsvOptions {
            scale: None,
            ..opts.clone()
        },
    ));
    assert_eq!(loc, "line 2, field 3");
    assert!(what.contains("255") && what.contains("scale"), "{what}");
    // With too small a scale.
    let (loc, _) = format_err(Dataset::read_csv(
        &p,
        &CsvOptions {
            scale: Some(100.0),
            ..opts.clone()
        },
    ));
    assert_eq!(loc, "line 2, field 3");
    // Header not skipped: the header's first field is not a label.
    let (loc, what) = format_err(Dataset::read_csv(
        &p,
        &CsvOptions {
            has_header: false,
            ..opts
        },
    ));
    assert_eq!(loc, "line 1, field 1");
    assert!(what.contains("`label`"), "{what}");
}

#[test]
fn csv_non_numeric_field() {
    let dir = scratch("csv-non-numeric");
    let p = dir.join("n.csv");
    let mut text = String::new();
    for _ in 0..6 {
        text.push_str("0,0.5,1\n");
    }
    text.push_str("0,0.5,abc\n");
    fs::write(&p, text).unwrap();
    let (loc, what) = format_err(Dataset::read_csv(&p, &CsvOptions::default()));
    assert_eq!(loc, "line 7, field 3");
    assert!(
        what.contains("expected a finite number, found `abc`"),
        "{what}"
    );
    let msg = Dataset::read_csv(&p, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("n.csv") && msg.contains("line 7, field 3"),
        "{msg}"
    );
    // NaN is not accepted either.
    fs::write(&p, "0,NaN\n").unwrap();
    let (loc, _) = format_err(Dataset::read_csv(&p, &CsvOptions::default()));
    assert_eq!(loc, "line 1, field 2");
    // Bad label.
    fs::write(&p, "0,0.5,x\n").unwrap();
    let (loc, what) = format_err(Dataset::read_csv(
        &p,
        &CsvOptions {
            label_column: Some(LabelColumn::Last),
            ..Default::default()
        },
    ));
    assert_eq!(loc, "line 1, field 3");
    assert!(what.contains("label"), "{what}");
}

#[test]
fn csv_ragged_rows() {
    let dir = scratch("csv-ragged");
    let p = dir.join("r.csv");
    let full: Vec<String> = (0..65).map(|k| (k % 17).to_string()).collect();
    let short = full[..64].join(",");
    fs::write(
        &p,
        format!("{}\n{}\n{short}\n", full.join(","), full.join(",")),
    )
    .unwrap();
    let opts = CsvOptions {
        label_column: Some(LabelColumn::Last),
        scale: Some(16.0),
        ..Default::default()
    };
    let (loc, what) = format_err(Dataset::read_csv(&p, &opts));
    assert_eq!(loc, "line 3");
    assert!(
        what.contains("expected 65 fields") && what.contains("found 64"),
        "{what}"
    );
    // Empty file.
    fs::write(&p, "\n\n").unwrap();
    let (_, what) = format_err(Dataset::read_csv(&p, &opts));
    assert!(what.contains("no data"), "{what}");
}

#[test]
fn digits_builtin() {
    let d = Dataset::digits();
    assert_eq!(d.name(), "digits");
    assert_eq!((d.n_samples(), d.n_features()), (1797, 64));
    assert_eq!(d.image_shape(), Some((8, 8)));
    let mut hist = [0usize; 10];
    for &l in d.labels().unwrap() {
        hist[l as usize] += 1;
    }
    assert_eq!(hist, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    assert_eq!(
        &d.labels().unwrap()[..12],
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    );
    let sum: f64 = d.as_slice().iter().map(|x| x * 16.0).sum();
    assert_eq!(sum, 561718.0);
    assert!(d.as_slice().iter().all(|x| (0.0..=1.0).contains(x)));
    assert_eq!(Dataset::load("digits").unwrap(), d);
    let (a, b) = Dataset::load_split("digits").unwrap();
    assert_eq!(a, d);
    assert!(b.is_none());
}

#[test]
fn digits_csv_equals_builtin() {
    let p = shared_data().join("digits/digits.csv.gz");
    if !p.is_file() {
        println!("skipped: {} not found", p.display());
        return;
    }
    let opts = CsvOptions {
        label_column: Some(LabelColumn::Last),
        scale: Some(16.0),
        ..Default::default()
    };
    let c = Dataset::read_csv(&p, &opts).unwrap();
    let d = Dataset::digits();
    assert_eq!((c.n_samples(), c.n_features()), (1797, 64));
    assert_eq!(c.as_slice(), d.as_slice());
    assert_eq!(c.labels(), d.labels());
    // The shared IDX copy reads the same with scale 16 (labels found by name).
    let i = Dataset::read_idx_with_scale(
        &shared_data().join("digits/optdigits-images-idx3-ubyte"),
        16.0,
    )
    .unwrap();
    assert_eq!(i.as_slice(), d.as_slice());
    assert_eq!(i.labels(), d.labels());
}

#[test]
fn mnist_folder() {
    let dir = shared_data().join("mnist");
    if !dir.join("train-images-idx3-ubyte.gz").is_file() {
        println!("skipped: MNIST not found in {}", dir.display());
        return;
    }
    let t0 = Instant::now();
    let (train, test) = Dataset::load_split(dir.to_str().unwrap()).unwrap();
    let secs = t0.elapsed().as_secs_f64();
    println!("MNIST train + test read in {secs:.2} s");
    let test = test.expect("test set");
    assert_eq!((train.n_samples(), train.n_features()), (60000, 784));
    assert_eq!((test.n_samples(), test.n_features()), (10000, 784));
    assert_eq!(train.image_shape(), Some((28, 28)));
    assert_eq!(train.name(), "mnist-train");
    assert_eq!(test.name(), "mnist-test");
    assert_eq!(
        &train.labels().unwrap()[..10],
        &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    );
    assert_eq!(
        &test.labels().unwrap()[..10],
        &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    );
    let raw_sum: f64 = train.as_slice().iter().map(|x| (x * 255.0).round()).sum();
    assert_eq!(raw_sum, 1567298545.0);
    let bin = train.binarize(0.5);
    let share = bin.as_slice().iter().sum::<f64>() / bin.as_slice().len() as f64;
    println!("MNIST share of pixels >= 0.5: {share:.4}");
    assert!((share - 0.132).abs() < 0.002, "{share}");
    assert!(bin.is_binary());
    // load() of the folder is the training set.
    let t0 = Instant::now();
    let only = Dataset::load(dir.to_str().unwrap()).unwrap();
    let secs = t0.elapsed().as_secs_f64();
    println!("MNIST train read in {secs:.2} s");
    assert_eq!(only, train);
    assert!(
        secs < 2.0,
        "reading the MNIST training set took {secs:.2} s"
    );
}

#[test]
fn mnist_style_folder_layout() {
    let dir = scratch("folder");
    let train = sample_set(12, 3, 3);
    let test = sample_set(5, 3, 3);
    train
        .write_idx(
            &dir.join("train-images-idx3-ubyte.gz"),
            Some(&dir.join("train-labels-idx1-ubyte.gz")),
        )
        .unwrap();
    // Mixed compression: the label sibling is found with or without .gz.
    test.write_idx(
        &dir.join("t10k-images-idx3-ubyte"),
        Some(&dir.join("t10k-labels-idx1-ubyte.gz")),
    )
    .unwrap();
    let (a, b) = Dataset::load_split(dir.to_str().unwrap()).unwrap();
    let b = b.unwrap();
    assert_eq!(a.n_samples(), 12);
    assert_eq!(a.labels(), train.labels());
    assert_eq!(b.n_samples(), 5);
    assert_eq!(b.labels(), test.labels());
    assert!(a.name().ends_with("-train") && b.name().ends_with("-test"));

    // A folder with a single *images*idx3* file loads that file.
    let single = scratch("folder-single");
    train
        .write_idx(&single.join("animal-images-idx3-ubyte.gz"), None)
        .unwrap();
    let s = Dataset::load(single.to_str().unwrap()).unwrap();
    assert_eq!(s.n_samples(), 12);
    // An empty folder is a format error naming what was expected.
    let empty = scratch("folder-empty");
    let (loc, what) = format_err(Dataset::load(empty.to_str().unwrap()));
    assert_eq!(loc, "folder");
    assert!(what.contains("train-images-idx3-ubyte"), "{what}");
}

#[test]
fn split_reproducible_disjoint_covering() {
    // Tag each sample by a distinct value in feature 0 to identify it after the split.
    let n = 101;
    let data: Vec<f64> = (0..n).flat_map(|i| [i as f64 / n as f64, 0.5]).collect();
    let ds = Dataset::new(data, 2, Some((0..n).map(|i| i as u8).collect())).unwrap();
    let (tr, va) = ds.split(0.2, 42).unwrap();
    assert_eq!(va.n_samples(), 20);
    assert_eq!(tr.n_samples(), 81);
    let (tr2, va2) = ds.split(0.2, 42).unwrap();
    assert_eq!((&tr, &va), (&tr2, &va2));
    let (_, va3) = ds.split(0.2, 43).unwrap();
    assert_ne!(va, va3);
    let mut ids: Vec<u8> = tr
        .labels()
        .unwrap()
        .iter()
        .chain(va.labels().unwrap())
        .copied()
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..n).map(|i| i as u8).collect::<Vec<_>>());
    // Rows travel with their labels.
    for (row, &l) in va.rows().zip(va.labels().unwrap()) {
        assert_eq!(row[0], l as f64 / n as f64);
    }
    // Errors.
    for f in [0.0, 1.0, -0.1, f64::NAN, 0.001, 0.999] {
        assert!(
            matches!(ds.split(f, 1), Err(Error::InvalidParameter { .. })),
            "fraction {f}"
        );
    }
}

#[test]
fn minibatches_reproducible_disjoint_covering() {
    let mut a = Minibatches::new(103, 10).unwrap();
    let mut b = Minibatches::new(103, 10).unwrap();
    assert_eq!(a.n_batches(), 11);
    let mut ra = ChaCha8Rng::seed_from_u64(5);
    let mut rb = ChaCha8Rng::seed_from_u64(5);
    let mut orders = Vec::new();
    for _epoch in 0..3 {
        a.shuffle(&mut ra);
        b.shuffle(&mut rb);
        assert_eq!(a, b);
        let sizes: Vec<usize> = a.batches().map(|s| s.len()).collect();
        assert_eq!(sizes.len(), 11);
        assert!(sizes[..10].iter().all(|&s| s == 10));
        assert_eq!(sizes[10], 3, "last partial batch kept");
        let mut all: Vec<usize> = a.batches().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        orders.push(a.order().to_vec());
    }
    assert_ne!(orders[0], orders[1], "each epoch reshuffles");
    assert_ne!(orders[0], (0..103).collect::<Vec<_>>());
    assert!(matches!(
        Minibatches::new(5, 0),
        Err(Error::InvalidParameter { .. })
    ));
    assert_eq!(Minibatches::new(0, 4).unwrap().batches().count(), 0);
}

#[test]
fn fill_batch_and_to_mat_equal_rows() {
    let d = Dataset::digits();
    let idx = [5usize, 0, 1796, 5, 42];
    let mut m = Mat::<f64>::zeros(idx.len(), 64);
    d.fill_batch(&idx, m.as_mut());
    let mut m32 = Mat::<f32>::zeros(idx.len(), 64);
    d.fill_batch(&idx, m32.as_mut());
    for (r, &i) in idx.iter().enumerate() {
        for j in 0..64 {
            assert_eq!(m[(r, j)], d.row(i)[j]);
            assert_eq!(m32[(r, j)], d.row(i)[j] as f32);
        }
    }
    // Into a strided view (rows of a transposed matrix are not contiguous per column).
    let mut t = Mat::<f64>::zeros(64, idx.len());
    d.fill_batch(&idx, t.as_mut().transpose_mut());
    for (r, &i) in idx.iter().enumerate() {
        for j in 0..64 {
            assert_eq!(t[(j, r)], d.row(i)[j]);
        }
    }
    let full = d.to_mat::<f64>();
    assert_eq!((full.nrows(), full.ncols()), (1797, 64));
    for i in [0, 900, 1796] {
        for j in 0..64 {
            assert_eq!(full[(i, j)], d.row(i)[j]);
        }
    }
}

#[test]
fn binarize_means_subset() {
    let d = Dataset::digits();
    let s = d.binarize_stochastic(11);
    assert!(s.is_binary());
    assert_eq!(s, d.binarize_stochastic(11));
    assert_ne!(s, d.binarize_stochastic(12));
    assert_eq!(s.labels(), d.labels());
    // The stochastic share of ones matches the mean intensity.
    let mean: f64 = d.pixel_means().iter().sum::<f64>() / 64.0;
    let share = s.as_slice().iter().sum::<f64>() / s.as_slice().len() as f64;
    assert!((mean - share).abs() < 0.01, "{mean} vs {share}");
    let means = d.pixel_means();
    assert_eq!(means.len(), 64);
    assert_eq!(means[0], 0.0, "the corner pixel is always off");
    let sub = d.subset(&[3, 1]).unwrap();
    assert_eq!(sub.row(0), d.row(3));
    assert_eq!(sub.labels(), Some(&[3u8, 1][..]));
    assert!(matches!(
        d.subset(&[1797]),
        Err(Error::InvalidParameter { .. })
    ));
    assert_eq!(d.head(5).n_samples(), 5);
}

/// An IDX image file (3 dims, `n` images of `rows x cols`) with these raw pixel bytes.
fn raw_idx(path: &Path, n: u32, rows: u32, cols: u32, pixels: &[u8]) {
    let mut b = vec![0, 0, 8, 3];
    for d in [n, rows, cols] {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(pixels);
    fs::write(path, b).unwrap();
}

/// Binary images stored as 0/1 bytes (a common way to save binary data): read as 0 and 1,
/// with a note naming the file; the /255 reading is one explicit call away. Grey-level files,
/// including those whose largest byte is 2 or 0, are divided by 255 without a note.
#[test]
fn idx_of_zero_one_bytes_is_read_as_binary_with_a_note() {
    let dir = scratch("idx-binary");
    // 6 images of 2 x 3 pixels: a varied 0/1 pattern with about half the pixels on.
    let bits: Vec<u8> = (0..36).map(|k| ((k * 7 + k / 5) % 3 == 0) as u8).collect();
    assert!(bits.contains(&1) && bits.contains(&0));
    let want: Vec<f64> = bits.iter().map(|&b| f64::from(b)).collect();
    let p = dir.join("bits-images-idx3-ubyte");
    raw_idx(&p, 6, 2, 3, &bits);
    for ds in [
        Dataset::read_idx(&p).unwrap(),
        Dataset::load(p.to_str().unwrap()).unwrap(),
    ] {
        assert_eq!(ds.as_slice(), &want[..]);
        assert!(ds.is_binary());
        assert_eq!(ds.image_shape(), Some((2, 3)));
        assert_eq!(ds.notes().len(), 1, "{:?}", ds.notes());
        let note = &ds.notes()[0];
        assert!(
            note.contains("bits-images-idx3-ubyte")
                && note.contains("0 or 1")
                && note.contains("read_idx_with_scale"),
            "{note}"
        );
        // Thresholding keeps the data (it would empty a 0 and 1/255 reading), and the note
        // stays with every derived set.
        assert_eq!(ds.binarize(0.5).as_slice(), &want[..]);
        let (tr, va) = ds.split(0.5, 1).unwrap();
        for d in [
            ds.binarize(0.5),
            ds.head(2),
            tr,
            va,
            ds.subset(&[1]).unwrap(),
        ] {
            assert_eq!(d.notes(), ds.notes());
        }
    }
    // Gzip: the same.
    let gz = dir.join("bits.idx.gz");
    Dataset::read_idx(&p).unwrap().write_idx(&gz, None).unwrap();
    // (written as 0/255 bytes: grey-level encoding, no note)
    let back = Dataset::read_idx(&gz).unwrap();
    assert_eq!((back.as_slice(), back.notes().len()), (&want[..], 0));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &fs::read(&p).unwrap()).unwrap();
    fs::write(&gz, enc.finish().unwrap()).unwrap();
    let z = Dataset::read_idx(&gz).unwrap();
    assert_eq!((z.as_slice(), z.notes().len()), (&want[..], 1));
    // Forcing the grey-level reading: 0 and 1/255, no note.
    let grey = Dataset::read_idx_with_scale(&p, 255.0).unwrap();
    let scaled: Vec<f64> = want.iter().map(|x| x / 255.0).collect();
    assert_eq!(grey.as_slice(), &scaled[..]);
    assert!(grey.notes().is_empty());
    assert!(Dataset::read_idx_with_labels(&p, None, 255.0)
        .unwrap()
        .notes()
        .is_empty());
    // Grey levels: a largest byte of 2 is not binary data; an all-zero file has nothing to
    // decide. Both divided by 255, without a note.
    let two: Vec<u8> = bits.iter().map(|&b| 2 * b).collect();
    raw_idx(&p, 6, 2, 3, &two);
    let d = Dataset::read_idx(&p).unwrap();
    assert_eq!(d.as_slice()[..3], [2.0 / 255.0, 0.0, 0.0][..]);
    assert!(d.notes().is_empty());
    raw_idx(&p, 6, 2, 3, &[0; 36]);
    let d = Dataset::read_idx(&p).unwrap();
    assert!(d.as_slice().iter().all(|&x| x == 0.0) && d.notes().is_empty());
    // A truncated 0/1 file is the usual format error, not a panic.
    raw_idx(&p, 6, 2, 3, &bits[..30]);
    let (loc, _) = format_err(Dataset::read_idx(&p));
    assert_eq!(loc, "byte 46");
}

/// A MNIST-style folder whose training and test files are both 0/1 bytes is binary; one of
/// 0/1 bytes next to one of grey levels is refused, naming the grey file and its first byte
/// above 1.
#[test]
fn mnist_folder_of_zero_one_bytes() {
    let dir = scratch("idx-binary-folder");
    let bits: Vec<u8> = (0..16).map(|k| (k % 3 == 1) as u8).collect();
    let train = dir.join("train-images-idx3-ubyte");
    let test = dir.join("t10k-images-idx3-ubyte");
    raw_idx(&train, 4, 2, 2, &bits);
    raw_idx(&test, 2, 2, 2, &bits[..8]);
    let spec = dir.to_str().unwrap();
    let (tr, te) = Dataset::load_split(spec).unwrap();
    let te = te.unwrap();
    assert!(tr.is_binary() && te.is_binary());
    assert_eq!(tr.as_slice()[1], 1.0);
    assert_eq!((tr.notes().len(), te.notes().len()), (1, 1));
    assert!(te.notes()[0].contains("t10k-images-idx3-ubyte"));
    // Test images as grey levels: refused.
    let mut grey = bits[..8].to_vec();
    grey[5] = 200;
    raw_idx(&test, 2, 2, 2, &grey);
    let err = Dataset::load_split(spec).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("t10k-images-idx3-ubyte")
            && msg.contains("byte 21")
            && msg.contains("200")
            && msg.contains("train-images-idx3-ubyte"),
        "{msg}"
    );
    // An all-zero test file is compatible with either reading.
    raw_idx(&test, 2, 2, 2, &[0; 8]);
    let (_, te) = Dataset::load_split(spec).unwrap();
    assert!(te.unwrap().as_slice().iter().all(|&x| x == 0.0));
}

#[test]
fn crop_takes_a_rectangle_of_every_image() {
    let d = Dataset::digits();
    let patch = d.crop(1, 3, 4, 5).unwrap();
    assert_eq!((patch.n_samples(), patch.n_features()), (d.n_samples(), 20));
    assert_eq!(patch.image_shape(), Some((4, 5)));
    assert_eq!(patch.labels(), d.labels());
    for (p, row) in patch.rows().zip(d.rows()).take(50) {
        for r in 0..4 {
            for c in 0..5 {
                assert_eq!(p[r * 5 + c], row[(1 + r) * 8 + 3 + c]);
            }
        }
    }
    let e = d.crop(5, 0, 4, 4).unwrap_err().to_string();
    assert!(e.contains("does not fit 8 x 8"), "{e}");
    let flat = Dataset::new(vec![0.0; 6], 3, None).unwrap();
    assert!(flat.crop(0, 0, 1, 1).is_err());
}
