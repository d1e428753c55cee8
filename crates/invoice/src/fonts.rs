//! The fonts, parsed once per renderer: Liberation Sans (bundled) and, optionally, a
//! font for scripts it lacks (`invoice.font_path`); and the per-document families
//! genpdf lays text out with.

use std::collections::BTreeMap;
use std::path::Path;

use genpdf::fonts::{FontData, FontFamily};
use printpdf::BuiltinFont;

use crate::encoding::{carrier, CodeTable};
use crate::text::Metrics;
use crate::truetype::{self, Face, FontError, MeasuringSkeleton, SubsetMap};

const REGULAR: &[u8] = include_bytes!("../fonts/LiberationSans-Regular.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/LiberationSans-Bold.ttf");

/// Why the fonts cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Font { path: String, source: FontError },
    #[error("{0}")]
    Genpdf(String),
}

impl From<genpdf::error::Error> for LoadError {
    fn from(err: genpdf::error::Error) -> Self {
        LoadError::Genpdf(err.to_string())
    }
}

/// Where a character's glyph comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    /// Liberation Sans (regular and bold).
    Primary,
    /// The font of `invoice.font_path` (one face, drawn for bold too).
    Extra,
}

/// One embedded face of a document: a source and a weight. Each has its own one-byte
/// codes and its own built-in carrier font in genpdf's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Slot {
    Regular,
    Bold,
    ExtraRegular,
    ExtraBold,
}

impl Slot {
    pub(crate) fn of(source: Source, bold: bool) -> Slot {
        match (source, bold) {
            (Source::Primary, false) => Slot::Regular,
            (Source::Primary, true) => Slot::Bold,
            (Source::Extra, false) => Slot::ExtraRegular,
            (Source::Extra, true) => Slot::ExtraBold,
        }
    }

    /// The built-in font genpdf writes for this slot, replaced after rendering.
    pub(crate) fn carrier(self) -> BuiltinFont {
        match self {
            Slot::Regular => BuiltinFont::Helvetica,
            Slot::Bold => BuiltinFont::HelveticaBold,
            Slot::ExtraRegular => BuiltinFont::Courier,
            Slot::ExtraBold => BuiltinFont::CourierBold,
        }
    }

    pub(crate) fn carrier_name(self) -> &'static str {
        self.carrier().into()
    }

    pub(crate) fn is_bold(self) -> bool {
        matches!(self, Slot::Bold | Slot::ExtraBold)
    }
}

/// A parsed font file and the name its subsets are embedded under.
pub(crate) struct Loaded {
    pub(crate) name: String,
    pub(crate) face: Face<'static>,
    /// Its metrics without outlines, for genpdf to measure carrier text with.
    measuring: MeasuringSkeleton,
}

impl Loaded {
    fn new(name: &str, bytes: &'static [u8], path: &str) -> Result<Loaded, LoadError> {
        let font_error = |source| LoadError::Font {
            path: path.to_owned(),
            source,
        };
        let face = Face::parse(bytes).map_err(font_error)?;
        let measuring = MeasuringSkeleton::new(&face).map_err(font_error)?;
        Ok(Loaded {
            name: name.to_owned(),
            face,
            measuring,
        })
    }
}

pub(crate) struct Fonts {
    pub(crate) regular: Loaded,
    pub(crate) bold: Loaded,
    pub(crate) extra: Option<Loaded>,
    /// PDF built-in Helvetica measured with Liberation Sans: WinAnsi-only documents.
    builtin: FontFamily<FontData>,
    /// Never-drawn italic faces of the extra family (genpdf wants four faces).
    extra_italics: Option<(FontData, FontData)>,
    pub(crate) metrics: Metrics,
}

impl Fonts {
    /// The bundled fonts, plus the file at `extra` (read once; it stays in memory for
    /// the life of the process).
    pub(crate) fn load(extra: Option<&Path>) -> Result<Fonts, LoadError> {
        let face = |bytes: &[u8], builtin| FontData::new(bytes.to_vec(), Some(builtin));
        // Liberation Sans has Helvetica's metrics: genpdf measures with the TTF and the
        // PDF only names the built-in font, so nothing is embedded.
        let builtin = FontFamily {
            regular: face(REGULAR, BuiltinFont::Helvetica)?,
            bold: face(BOLD, BuiltinFont::HelveticaBold)?,
            italic: face(REGULAR, BuiltinFont::HelveticaOblique)?,
            bold_italic: face(BOLD, BuiltinFont::HelveticaBoldOblique)?,
        };
        let (extra, extra_measure, extra_italics) = match extra {
            None => (None, None, None),
            Some(path) => {
                let shown = path.display().to_string();
                let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
                    path: shown.clone(),
                    source,
                })?;
                // Read once per process and kept: faces borrow it for the process's life.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                let name = path
                    .file_stem()
                    .map(|stem| {
                        stem.to_string_lossy()
                            .chars()
                            .filter(char::is_ascii_alphanumeric)
                            .collect::<String>()
                    })
                    .filter(|name| !name.is_empty())
                    .unwrap_or_else(|| "ExtraFont".to_owned());
                let loaded = Loaded::new(&name, bytes, &shown)?;
                // One face for every weight (measuring does not care which built-in font
                // a face names); the italics only fill genpdf's family and are never
                // drawn, but must name fonts of their own.
                let upright = face(bytes, BuiltinFont::Courier)?;
                let italic = face(bytes, BuiltinFont::CourierOblique)?;
                let measure = FontFamily {
                    regular: upright.clone(),
                    bold: upright,
                    italic: italic.clone(),
                    bold_italic: italic.clone(),
                };
                let italics = (italic, face(bytes, BuiltinFont::CourierBoldOblique)?);
                (Some(loaded), Some(measure), Some(italics))
            }
        };
        let metrics = Metrics::new(builtin.clone(), extra_measure);
        Ok(Fonts {
            regular: Loaded::new("LiberationSans", REGULAR, "LiberationSans-Regular.ttf")?,
            bold: Loaded::new("LiberationSans-Bold", BOLD, "LiberationSans-Bold.ttf")?,
            extra,
            builtin,
            extra_italics,
            metrics,
        })
    }

    /// The family of a WinAnsi-only document (cheap: the parsed fonts are shared).
    pub(crate) fn builtin_family(&self) -> FontFamily<FontData> {
        self.builtin.clone()
    }

    pub(crate) fn loaded(&self, slot: Slot) -> Option<&Loaded> {
        match slot {
            Slot::Regular => Some(&self.regular),
            Slot::Bold => Some(&self.bold),
            Slot::ExtraRegular | Slot::ExtraBold => self.extra.as_ref(),
        }
    }

    /// The family genpdf lays out the primary text of an embedded-font document with:
    /// Liberation Sans's metrics and kerning with a character map that sends each
    /// carrier character to the glyph of the real character its code stands for.
    pub(crate) fn primary_family(
        &self,
        codes: &BTreeMap<Slot, CodeTable>,
    ) -> Result<FontFamily<FontData>, LoadError> {
        let proxy = |slot: Slot, loaded: &Loaded| -> Result<FontData, LoadError> {
            let map = carrier_map(loaded, codes.get(&slot));
            let bytes = loaded.measuring.with_cmap(&map);
            Ok(FontData::new(bytes, Some(slot.carrier()))?)
        };
        Ok(FontFamily {
            regular: proxy(Slot::Regular, &self.regular)?,
            bold: proxy(Slot::Bold, &self.bold)?,
            italic: self.builtin.italic.clone(),
            bold_italic: self.builtin.bold_italic.clone(),
        })
    }

    /// The same for the extra font, if there is one. It may be large (a CJK font is
    /// megabytes), so the measuring font is a subset of the glyphs used.
    pub(crate) fn extra_family(
        &self,
        codes: &BTreeMap<Slot, CodeTable>,
    ) -> Result<Option<FontFamily<FontData>>, LoadError> {
        let (Some(extra), Some((italic, bold_italic))) = (&self.extra, &self.extra_italics) else {
            return Ok(None);
        };
        let proxy = |slot: Slot| -> Result<FontData, LoadError> {
            let glyphs: BTreeMap<u8, u16> = codes
                .get(&slot)
                .map(|table| {
                    table
                        .entries()
                        .map(|(c, code)| (code, extra.face.glyph_id(c)))
                        .collect()
                })
                .unwrap_or_default();
            let bytes =
                truetype::subset(&extra.face, &glyphs, SubsetMap::Carriers).map_err(|source| {
                    LoadError::Font {
                        path: extra.name.clone(),
                        source,
                    }
                })?;
            Ok(FontData::new(bytes, Some(slot.carrier()))?)
        };
        Ok(Some(FontFamily {
            regular: proxy(Slot::ExtraRegular)?,
            bold: proxy(Slot::ExtraBold)?,
            italic: italic.clone(),
            bold_italic: bold_italic.clone(),
        }))
    }
}

/// Carrier character -> glyph of the real character, for one slot's codes.
fn carrier_map(loaded: &Loaded, codes: Option<&CodeTable>) -> BTreeMap<char, u16> {
    codes
        .map(|table| {
            table
                .entries()
                .filter_map(|(c, code)| Some((carrier(code)?, loaded.face.glyph_id(c))))
                .collect()
        })
        .unwrap_or_default()
}
