//! Tishby's 12-bit task (SPEC: data sets): the generated labels reproduce `var_u.mat`.

use infoplane_core::data::{
    ICOSAHEDRON_ANTIPODE, ICOSAHEDRON_NEIGHBOURS, TISHBY_BITS, TISHBY_ROWS, row_to_columns,
    tishby_label_of_columns,
};
use infoplane_tests::fixtures;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// SHA-256 of the 4096 labels of `var_u.mat` as ASCII '0'/'1' in row order (SPEC).
const VAR_U_LABELS_SHA256: &str =
    "8adbd792d6400d00410815b5a1f01b05b59f15fd41ace0db85c7772aa5cf4566";
/// Number of label-1 rows in `var_u.mat`.
const VAR_U_ONES: usize = 2118;
/// Order of the full symmetry group of the icosahedron (rotations and reflections, `I_h`).
const ICOSAHEDRON_GROUP_ORDER: usize = 120;

#[test]
fn labels_hash_and_count_match_var_u() {
    let (_, y) = fixtures::tishby();
    assert_eq!(y.len(), TISHBY_ROWS);
    assert!(y.iter().all(|&v| v <= 1), "labels must be 0 or 1");
    let ascii: String = y.iter().map(|&v| if v == 1 { '1' } else { '0' }).collect();
    let digest = Sha256::digest(ascii.as_bytes());
    let hex = digest.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    assert_eq!(hex, VAR_U_LABELS_SHA256);
    assert_eq!(y.iter().filter(|&&v| v == 1).count(), VAR_U_ONES);
}

#[test]
fn inputs_are_binary_expansions_msb_first() {
    let (x, _) = fixtures::tishby();
    assert_eq!(x.len(), TISHBY_ROWS * TISHBY_BITS);
    for (i, row) in x.chunks_exact(TISHBY_BITS).enumerate() {
        let value = row.iter().fold(0usize, |acc, &v| {
            assert!(v == 0.0 || v == 1.0, "row {i}: {v}");
            acc * 2 + usize::from(v == 1.0)
        });
        assert_eq!(value, i);
        // Column c of the row is bit c of the column mask.
        let mask = row_to_columns(u16::try_from(i).unwrap());
        for (c, &v) in row.iter().enumerate() {
            assert_eq!(mask >> c & 1 == 1, v == 1.0, "row {i} column {c}");
        }
    }
}

/// Adjacency matrix of the icosahedron from core's neighbour table, checked to be a simple
/// undirected 5-regular graph on 12 vertices with 30 edges.
fn adjacency() -> [[bool; 12]; 12] {
    let mut adj = [[false; 12]; 12];
    for (v, ns) in ICOSAHEDRON_NEIGHBOURS.iter().enumerate() {
        for &w in ns {
            assert_ne!(v, w as usize, "self loop at {v}");
            assert!(!adj[v][w as usize], "duplicate neighbour {w} of {v}");
            adj[v][w as usize] = true;
        }
    }
    for (v, row) in adj.iter().enumerate() {
        for (w, &edge) in row.iter().enumerate() {
            assert_eq!(edge, adj[w][v], "neighbour table not symmetric at {v}-{w}");
        }
    }
    let edges: usize = adj
        .iter()
        .map(|r| r.iter().filter(|&&b| b).count())
        .sum::<usize>()
        / 2;
    assert_eq!(edges, 30);
    adj
}

/// Graph distances by breadth-first search from every vertex.
fn distances(adj: &[[bool; 12]; 12]) -> [[u32; 12]; 12] {
    let mut dist = [[u32::MAX; 12]; 12];
    for (s, row) in dist.iter_mut().enumerate() {
        row[s] = 0;
        let mut frontier = vec![s];
        while let Some(v) = frontier.first().copied() {
            frontier.remove(0);
            for w in 0..12 {
                if adj[v][w] && row[w] == u32::MAX {
                    row[w] = row[v] + 1;
                    frontier.push(w);
                }
            }
        }
    }
    dist
}

/// Every permutation of the 12 vertices that preserves adjacency, by backtracking: vertex
/// `v` is mapped to an unused vertex whose adjacency to the images of `0..v` matches.
fn automorphisms(adj: &[[bool; 12]; 12]) -> Vec<[usize; 12]> {
    fn extend(
        adj: &[[bool; 12]; 12],
        perm: &mut [usize; 12],
        used: &mut [bool; 12],
        v: usize,
        out: &mut Vec<[usize; 12]>,
    ) {
        if v == 12 {
            out.push(*perm);
            return;
        }
        for w in 0..12 {
            if used[w] || (0..v).any(|u| adj[u][v] != adj[perm[u]][w]) {
                continue;
            }
            perm[v] = w;
            used[w] = true;
            extend(adj, perm, used, v + 1, out);
            used[w] = false;
        }
    }
    let mut out = Vec::new();
    extend(adj, &mut [0; 12], &mut [false; 12], 0, &mut out);
    out
}

/// The column mask of `mask` with column `c` moved to `perm[c]`.
fn permute_mask(mask: u16, perm: &[usize; 12]) -> u16 {
    (0..12)
        .filter(|&c| mask >> c & 1 == 1)
        .fold(0, |m, c| m | 1 << perm[c])
}

#[test]
fn icosahedron_has_120_symmetries_and_the_label_is_invariant_under_all() {
    let adj = adjacency();
    let dist = distances(&adj);
    // The antipode is the unique vertex at distance 3, and core's table agrees.
    for v in 0..12 {
        let far: Vec<usize> = (0..12).filter(|&w| dist[v][w] == 3).collect();
        assert_eq!(far, [ICOSAHEDRON_ANTIPODE[v] as usize], "antipode of {v}");
    }
    let autos = automorphisms(&adj);
    assert_eq!(autos.len(), ICOSAHEDRON_GROUP_ORDER);
    // They form a group: closed under composition, and they commute with the antipodal map.
    let set: std::collections::BTreeSet<[usize; 12]> = autos.iter().copied().collect();
    for a in &autos {
        for b in &autos {
            let ab: [usize; 12] = core::array::from_fn(|v| a[b[v]]);
            assert!(set.contains(&ab));
        }
        for v in 0..12 {
            assert_eq!(
                a[ICOSAHEDRON_ANTIPODE[v] as usize],
                ICOSAHEDRON_ANTIPODE[a[v]] as usize
            );
        }
    }
    // Invariance, on the labels as the data set delivers them (row order, MSB first).
    let (_, y) = fixtures::tishby();
    let row_of_mask: Vec<usize> = {
        let mut r = vec![0usize; TISHBY_ROWS];
        for row in 0..TISHBY_ROWS {
            r[row_to_columns(u16::try_from(row).unwrap()) as usize] = row;
        }
        r
    };
    for (g, perm) in autos.iter().enumerate() {
        for row in 0..TISHBY_ROWS {
            let mask = row_to_columns(u16::try_from(row).unwrap());
            let image = row_of_mask[permute_mask(mask, perm) as usize];
            assert_eq!(
                y[row], y[image],
                "symmetry {g} {perm:?} changes the label of row {row}"
            );
        }
    }
}

#[test]
fn label_rule_recounted_from_the_graph() {
    // An independent count of k, n1, n2, n3 from adjacency and distance (not core's masks).
    let adj = adjacency();
    let dist = distances(&adj);
    let (_, y) = fixtures::tishby();
    for (row, &label) in y.iter().enumerate() {
        let mask = row_to_columns(u16::try_from(row).unwrap());
        let ones: Vec<usize> = (0..12).filter(|&c| mask >> c & 1 == 1).collect();
        let (mut n1, mut n2, mut n3) = (0i32, 0i32, 0i32);
        for (i, &a) in ones.iter().enumerate() {
            for &b in &ones[i + 1..] {
                match dist[a][b] {
                    1 => n1 += 1,
                    3 => n3 += 1,
                    _ => n2 += 1,
                }
            }
        }
        let k = i32::try_from(ones.len()).unwrap();
        let want = u32::from(23 * k + n1 - 5 * n2 - 8 * n3 >= 99);
        assert_eq!(label, want, "row {row}");
        assert_eq!(tishby_label_of_columns(mask), want, "row {row}");
    }
}

#[test]
fn matches_the_original_var_u_csv() {
    let Some(path) = fixtures::shared_data("tishby_var_u/var_u.csv") else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let (x, y) = fixtures::tishby();
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    assert_eq!(
        header.split(',').count(),
        TISHBY_BITS + 1,
        "header {header:?}"
    );
    let mut rows = 0;
    for (i, line) in lines.filter(|l| !l.trim().is_empty()).enumerate() {
        let fields: Vec<u32> = line.split(',').map(|f| f.trim().parse().unwrap()).collect();
        assert_eq!(fields.len(), TISHBY_BITS + 1, "line {}", i + 2);
        for (c, &v) in fields[..TISHBY_BITS].iter().enumerate() {
            assert_eq!(v as f32, x[i * TISHBY_BITS + c], "X row {i} column {c}");
        }
        assert_eq!(fields[TISHBY_BITS], y[i], "y row {i}");
        rows += 1;
    }
    assert_eq!(rows, TISHBY_ROWS);
}

/// The real MNIST 10k test set through the IDX reader: 10 000 images of 28 × 28 and the
/// label histogram the MNIST page gives, every label in 0..10, pixels covering 0..=255.
#[test]
fn mnist_test_set_parses_with_its_known_label_histogram() {
    use infoplane_core::idx::{IdxImages, IdxLabels};
    use std::io::Read as _;
    let (Some(images), Some(labels)) = (
        fixtures::shared_data("mnist/t10k-images-idx3-ubyte.gz"),
        fixtures::shared_data("mnist/t10k-labels-idx1-ubyte.gz"),
    ) else {
        return;
    };
    let gunzip = |path: &std::path::Path| {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    let (image_bytes, label_bytes) = (gunzip(&images), gunzip(&labels));
    let im = IdxImages::parse(&image_bytes).unwrap();
    assert_eq!((im.count(), im.rows(), im.cols()), (10_000, 28, 28));
    let (lo, hi) = im
        .pixels()
        .iter()
        .fold((u8::MAX, 0), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    assert_eq!((lo, hi), (0, 255));
    let lb = IdxLabels::parse(&label_bytes, 10).unwrap();
    assert_eq!(
        lb.histogram::<10>(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // The gzip file itself is not an IDX file, and says so.
    let raw = std::fs::read(&labels).unwrap();
    assert!(
        IdxLabels::parse(&raw, 10)
            .unwrap_err()
            .to_string()
            .contains("gzip")
    );
}
