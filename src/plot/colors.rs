//! One colour per series name, the same in every figure: the study's methods have fixed
//! colours (a persistent variant in the light shade of its restarted one's hue, or a hue of
//! its own), any other name one of the ten strong shades picked from its hash; two names of
//! one chart share a colour only beyond 20 names.

use plotters::style::RGBColor;

/// The palette (Tableau 20: ten hues, each in a strong and a light shade).
pub const PALETTE: [RGBColor; 20] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(174, 199, 232),
    RGBColor(255, 187, 120),
    RGBColor(152, 223, 138),
    RGBColor(255, 152, 150),
    RGBColor(197, 176, 213),
    RGBColor(196, 156, 148),
    RGBColor(247, 182, 210),
    RGBColor(199, 199, 199),
    RGBColor(219, 219, 141),
    RGBColor(158, 218, 229),
];

/// Fixed palette entries of the names the library and its studies use.
const KNOWN: [(&str, usize); 14] = [
    ("cd1", 0),
    ("pcd1", 9),
    ("pcd10", 10),
    ("mf", 2),
    ("pmf", 12),
    ("tap2", 1),
    ("ptap2", 11),
    ("tap3", 3),
    ("ptap3", 13),
    ("tap2-30", 4),
    ("tap2-tol", 14),
    ("ptap2-tol", 5),
    ("exact", 7),
    ("AIS", 6),
];

/// The preferred palette entry of a name: fixed for the known names, else a strong shade
/// (entries 0-9) from its FNV-1a hash.
pub fn preferred(name: &str) -> usize {
    if let Some(&(_, k)) = KNOWN.iter().find(|(n, _)| *n == name) {
        return k;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % 10) as usize
}

/// The colour of each distinct name, in order of first appearance: its preferred entry, or
/// the next free one when an earlier name of the same chart holds it (a chart of more than
/// 20 names reuses colours).
pub fn assign<'a>(names: impl Iterator<Item = &'a str>) -> Vec<(String, RGBColor)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for name in names {
        if out.iter().any(|(n, _)| n == name) {
            continue;
        }
        let mut k = preferred(name);
        for _ in 0..PALETTE.len() {
            if !out.iter().any(|(_, used)| *used == k) {
                break;
            }
            k = (k + 1) % PALETTE.len();
        }
        out.push((name.to_string(), k));
    }
    out.into_iter().map(|(n, k)| (n, PALETTE[k])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known names keep their entry; clashing names get distinct colours; the order of
    /// appearance decides who moves.
    #[test]
    fn names_get_stable_distinct_colours() {
        let a = assign(["tap2", "cd1"].into_iter());
        assert_eq!((a[0].1, a[1].1), (PALETTE[1], PALETTE[0]));
        let names: Vec<String> = (0..20).map(|i| format!("series {i}")).collect();
        let all = assign(names.iter().map(String::as_str));
        for i in 0..20 {
            for j in 0..i {
                assert_ne!(all[i].1, all[j].1, "{i} {j}");
            }
        }
        assert_eq!(assign(["x", "x"].into_iter()).len(), 1);
    }
}
