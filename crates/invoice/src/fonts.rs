//! The two font families, parsed once per renderer.

use genpdf::fonts::{FontData, FontFamily};
use printpdf::BuiltinFont;

use crate::deflate::KnownStream;
use crate::text::{FontMode, Metrics};

const REGULAR: &[u8] = include_bytes!("../fonts/LiberationSans-Regular.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/LiberationSans-Bold.ttf");

/// The font programs as they appear in a PDF that embeds them, deflated once per process.
pub(crate) static PROGRAMS: [KnownStream; 2] = [KnownStream::new(REGULAR), KnownStream::new(BOLD)];

pub(crate) struct Fonts {
    builtin: FontFamily<FontData>,
    embedded: FontFamily<FontData>,
    pub(crate) metrics: Metrics,
}

impl Fonts {
    pub(crate) fn load() -> Result<Fonts, genpdf::error::Error> {
        let face = |bytes: &[u8], builtin| FontData::new(bytes.to_vec(), builtin);
        // Liberation Sans has Helvetica's metrics: genpdf measures with the TTF and the
        // PDF only names the built-in font, so nothing is embedded.
        let builtin = FontFamily {
            regular: face(REGULAR, Some(BuiltinFont::Helvetica))?,
            bold: face(BOLD, Some(BuiltinFont::HelveticaBold))?,
            italic: face(REGULAR, Some(BuiltinFont::HelveticaOblique))?,
            bold_italic: face(BOLD, Some(BuiltinFont::HelveticaBoldOblique))?,
        };
        let embedded = FontFamily {
            regular: face(REGULAR, None)?,
            bold: face(BOLD, None)?,
            // Never drawn. genpdf embeds every face of the family, so these stay built-in
            // to keep a fallback PDF at two embedded fonts instead of four.
            italic: builtin.italic.clone(),
            bold_italic: builtin.bold_italic.clone(),
        };
        let metrics = Metrics::new(builtin.clone());
        Ok(Fonts {
            builtin,
            embedded,
            metrics,
        })
    }

    /// The family for one document. Cloning is cheap for the built-in family (the parsed
    /// font is shared); the embedded one copies its TTF bytes, which it then embeds anyway.
    pub(crate) fn family(&self, mode: FontMode) -> FontFamily<FontData> {
        match mode {
            FontMode::Builtin => self.builtin.clone(),
            FontMode::Embedded => self.embedded.clone(),
        }
    }
}
