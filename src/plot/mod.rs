//! Figures with plotters: line charts (metrics against epoch or time), image mosaics (learned
//! filters, samples). Each figure saves as PNG or SVG (chosen by the file extension) and
//! displays inline in evcxr notebooks through [`Figure`].

pub mod census;
pub mod colors;
pub mod couplings;
mod line;
mod mosaic;
pub mod spectrum;

pub use line::{Band, Legend, LineChart, Reference, Scale, Series, SeriesStyle};
pub use mosaic::Mosaic;

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};

/// Registers the bundled DejaVu Sans font (Bitstream Vera licence, see `assets/`) for the
/// bitmap backend. Called by every PNG-producing function; idempotent.
pub fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/DejaVuSans.ttf");
        for family in ["sans-serif", "serif", "monospace"] {
            let _ = plotters::style::register_font(family, FontStyle::Normal, bytes);
            let _ = plotters::style::register_font(family, FontStyle::Bold, bytes);
        }
    });
}

/// An SVG figure that evcxr notebooks display inline (it implements `evcxr_display`).
#[derive(Clone, Debug)]
pub struct Figure {
    /// The SVG document.
    pub svg: String,
}

impl Figure {
    /// Reads an SVG file written earlier (for example a study's saved figure), to show it in a
    /// notebook. Refuses a file that is not an SVG document.
    ///
    /// ```
    /// use emf_rbm::plot::{Figure, LineChart};
    /// let path = std::env::temp_dir().join(format!("emf-rbm-doc-figure-{}.svg", std::process::id()));
    /// LineChart::new("LL", "epoch", "nats").series("cd1", vec![(1.0, -3.0), (2.0, -2.0)]).save(&path)?;
    /// let shown = Figure::from_svg_file(&path)?;
    /// assert!(shown.svg.contains("cd1"));
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), emf_rbm::Error>(())
    /// ```
    pub fn from_svg_file(path: &Path) -> Result<Figure> {
        let svg = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        if !svg.contains("<svg") {
            return Err(plot_err(path, "not an SVG document (no <svg element)"));
        }
        Ok(Figure { svg })
    }

    /// Called by evcxr to show the figure in a notebook cell.
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT image/svg+xml\n{}\nEVCXR_END_CONTENT",
            self.svg
        );
    }
}

/// A drawing backend's error as the crate's (the file is named where it is saved).
pub(crate) fn drawing_error<E: std::error::Error + Send + Sync>(
    e: DrawingAreaErrorKind<E>,
) -> Error {
    Error::Plot {
        path: "<figure>".into(),
        message: e.to_string(),
    }
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Plot {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Saves through either backend, chosen by the file extension. The figure is rendered in
/// memory (an RGB buffer encoded as PNG, or an SVG string) and written through the atomic
/// writer ([`crate::output::write_atomic`]): an old file is replaced whole or not at all.
pub fn save_dyn(
    path: &Path,
    size: (u32, u32),
    png: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>,
    svg: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let fix = |r: Result<()>| {
        r.map_err(|e| match e {
            Error::Plot { message, .. } => plot_err(path, message),
            other => other,
        })
    };
    let bytes = match ext.as_str() {
        "svg" => {
            ensure_font();
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
                fix(svg(&root))?;
                root.present().map_err(|e| plot_err(path, e))?;
            }
            text.into_bytes()
        }
        "png" => {
            check_png(path, size)?;
            ensure_font();
            let mut rgb = vec![0u8; 3 * size.0 as usize * size.1 as usize];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
                fix(png(&root))?;
                root.present().map_err(|e| plot_err(path, e))?;
            }
            encode_png(path, &rgb, size)?
        }
        other => {
            return Err(Error::param(
                "path",
                format!(
                    "`{}`: expected a .png or .svg file name, found extension `{other}`",
                    path.display()
                ),
            ))
        }
    };
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
    }
    crate::output::write_atomic(path, &bytes)
}

/// PNG bytes of an RGB buffer of `size` pixels.
fn encode_png(path: &Path, rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(rgb, w, h, image::ColorType::Rgb8)
        .map_err(|e| plot_err(path, e))?;
    Ok(out)
}

/// Largest side of a PNG, in pixels.
pub const MAX_PNG_SIDE: u32 = 32_768;

/// Refuses a PNG larger than [`MAX_PNG_SIDE`] per side or than the memory cap (3 bytes a
/// pixel), before the backend allocates it.
pub fn check_png(path: &Path, (w, h): (u32, u32)) -> Result<()> {
    if w > MAX_PNG_SIDE || h > MAX_PNG_SIDE {
        return Err(plot_err(
            path,
            format!(
                "a {w} x {h} pixel image is too large (at most {MAX_PNG_SIDE} pixels a side): \
                 draw fewer or smaller tiles"
            ),
        ));
    }
    crate::memory::check(
        format!("the {w} x {h} pixel image {}", path.display()),
        3 * u128::from(w) * u128::from(h),
    )
}

/// Renders into an in-memory SVG.
pub fn svg_string(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<Figure> {
    ensure_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(&root)?;
        root.present()
            .map_err(|e| plot_err(Path::new("<svg>"), e))?;
    }
    Ok(Figure { svg })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A saved chart reads back as the same SVG; a PNG, a text file or a missing file is an error
    /// naming it.
    #[test]
    fn svg_files_read_back_and_other_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("emf-rbm-figure-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let chart = LineChart::new("t", "x", "y").series("a", vec![(0.0, 1.0), (1.0, 2.0)]);
        let (svg, png) = (dir.join("c.svg"), dir.join("c.png"));
        chart.save(&svg).unwrap();
        chart.save(&png).unwrap();
        assert_eq!(
            Figure::from_svg_file(&svg).unwrap().svg,
            chart.to_svg().unwrap().svg
        );
        let err = Figure::from_svg_file(&png).unwrap_err().to_string();
        assert!(err.contains("c.png"), "{err}");
        let text = dir.join("c.txt");
        std::fs::write(&text, "a text file").unwrap();
        let err = Figure::from_svg_file(&text).unwrap_err().to_string();
        assert!(err.contains("c.txt") && err.contains("not an SVG"), "{err}");
        let err = Figure::from_svg_file(&dir.join("none.svg"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("none.svg"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
