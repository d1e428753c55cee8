//! Logo loading with a per-path cache. A logo is decoration: any problem with it is
//! logged and the invoice is rendered without it.

use std::collections::HashMap;
use std::fs;
use std::io::Cursor;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView, ImageFormat, RgbImage};

/// Larger files are refused before reading: a logo is a few KB to a few hundred KB.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// Refused before decoding, so a small file cannot claim a huge canvas.
const MAX_PIXELS: u64 = 40_000_000;
/// Decoded logos are scaled down to this box: well above print resolution for the
/// space the logo gets on the page, and it keeps the PDF and the render time small.
pub(crate) const MAX_WIDTH_PX: u32 = 1200;
pub(crate) const MAX_HEIGHT_PX: u32 = 440;
/// Distinct paths remembered; more means a misconfiguration, so the cache restarts.
const MAX_ENTRIES: usize = 64;

/// What identifies one version of a file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

struct Entry {
    /// `None` when the file did not exist.
    stamp: Option<Stamp>,
    /// `None` when the file was missing or unusable (already warned about).
    image: Option<Arc<DynamicImage>>,
}

/// Decoded, print-ready logos by path. A path is decoded once per file version (size and
/// modification time), and a missing or broken one is warned about once per version.
#[derive(Default)]
pub(crate) struct LogoCache {
    entries: Mutex<HashMap<PathBuf, Entry>>,
}

impl LogoCache {
    /// The logo at `path` as 8-bit RGB without alpha, or `None` when there is none to draw.
    pub(crate) fn get(&self, path: &str) -> Option<Arc<DynamicImage>> {
        if path.trim().is_empty() {
            return None;
        }
        let path = Path::new(path);
        let stamp = fs::metadata(path)
            .ok()
            .filter(|meta| meta.is_file())
            .map(|meta| Stamp {
                len: meta.len(),
                modified: meta.modified().ok(),
            });
        if let Some(entry) = self.lock().get(path) {
            if entry.stamp == stamp {
                return entry.image.clone();
            }
        }
        // Decode outside the lock: other renders need not wait for this one.
        let loaded = match stamp {
            None => Err("the file does not exist or is not a regular file".to_owned()),
            Some(stamp) => load(path, stamp.len),
        };
        let image = match loaded {
            Ok(image) => Some(Arc::new(image)),
            Err(reason) => {
                tracing::warn!(
                    path = %path.display(),
                    %reason,
                    "invoice logo unusable; rendering invoices without it"
                );
                None
            }
        };
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(path) {
            entries.clear();
        }
        entries.insert(
            path.to_path_buf(),
            Entry {
                stamp,
                image: image.clone(),
            },
        );
        image
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PathBuf, Entry>> {
        // A panic elsewhere cannot leave a half-written entry: use the map as it is.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn load(path: &Path, len: u64) -> Result<DynamicImage, String> {
    if len > MAX_FILE_BYTES {
        return Err(format!(
            "the file has {len} bytes, more than the {MAX_FILE_BYTES} allowed"
        ));
    }
    let bytes = fs::read(path).map_err(|err| format!("cannot read the file: {err}"))?;
    let reader = image::io::Reader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|err| format!("cannot read the file: {err}"))?;
    let format = match reader.format() {
        Some(format @ (ImageFormat::Png | ImageFormat::Jpeg)) => format,
        _ => return Err("the file is not a PNG or JPEG image".to_owned()),
    };
    let (width, height) = reader
        .into_dimensions()
        .map_err(|err| format!("cannot read the image header: {err}"))?;
    if width == 0 || height == 0 || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(format!("unsupported image size {width}x{height}"));
    }
    // The decoders are not written for hostile input; a panic in one must not take the
    // invoice down with it.
    let decoded = panic::catch_unwind(AssertUnwindSafe(|| {
        image::load_from_memory_with_format(&bytes, format)
    }))
    .map_err(|_| "the image decoder crashed on this file".to_owned())?
    .map_err(|err| format!("cannot decode the image: {err}"))?;
    Ok(flatten_on_white(shrink(decoded)))
}

fn shrink(image: DynamicImage) -> DynamicImage {
    let (width, height) = image.dimensions();
    if width <= MAX_WIDTH_PX && height <= MAX_HEIGHT_PX {
        image
    } else {
        // Keeps the aspect ratio.
        image.resize(MAX_WIDTH_PX, MAX_HEIGHT_PX, FilterType::Triangle)
    }
}

/// 8-bit RGB with transparency composed over white paper. genpdf refuses images with an
/// alpha channel, and printpdf writes 16-bit and BGR pixels the way PDF does not read them.
fn flatten_on_white(image: DynamicImage) -> DynamicImage {
    if !image.color().has_alpha() {
        return DynamicImage::ImageRgb8(image.to_rgb8());
    }
    let rgba = image.to_rgba8();
    let mut rgb = RgbImage::new(rgba.width(), rgba.height());
    for (target, source) in rgb.pixels_mut().zip(rgba.pixels()) {
        let alpha = u32::from(source[3]);
        for channel in 0..3 {
            let over_white = (u32::from(source[channel]) * alpha + 255 * (255 - alpha) + 127) / 255;
            target[channel] = u8::try_from(over_white).unwrap_or(u8::MAX);
        }
    }
    DynamicImage::ImageRgb8(rgb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgba, RgbaImage};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn transparency_becomes_white_and_opaque_pixels_stay() {
        let mut rgba = RgbaImage::new(2, 1);
        rgba.put_pixel(0, 0, Rgba([10, 20, 30, 0]));
        rgba.put_pixel(1, 0, Rgba([10, 20, 30, 255]));
        let flat = flatten_on_white(DynamicImage::ImageRgba8(rgba)).to_rgb8();
        assert_eq!(flat.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(flat.get_pixel(1, 0).0, [10, 20, 30]);
    }

    #[test]
    fn large_logos_shrink_to_the_box_keeping_their_shape() {
        let big = DynamicImage::ImageRgb8(RgbImage::new(4000, 1000));
        let (width, height) = shrink(big).dimensions();
        assert_eq!((width, height), (MAX_WIDTH_PX, 300));
    }

    #[test]
    fn missing_and_garbage_files_give_no_logo() {
        let cache = LogoCache::default();
        assert!(cache.get("/nonexistent/logo.png").is_none());
        assert!(cache.get("").is_none());
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("logo.png");
        fs::write(&garbage, b"\x89PNG\r\n\x1a\nnot really a png").unwrap();
        assert!(cache.get(garbage.to_str().unwrap()).is_none());
        // Cached: the second call does not decode (nor warn) again.
        assert!(cache.get(garbage.to_str().unwrap()).is_none());
    }

    /// Counts WARN events; just enough of a subscriber for `with_default`.
    struct CountWarnings(Arc<AtomicUsize>);

    impl tracing::Subscriber for CountWarnings {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            if *event.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn a_broken_logo_is_warned_about_once_per_path_and_version() {
        let warnings = Arc::new(AtomicUsize::new(0));
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("logo.png");
        fs::write(&broken, b"garbage").unwrap();
        let broken = broken.to_str().unwrap().to_owned();
        let cache = LogoCache::default();
        tracing::subscriber::with_default(CountWarnings(Arc::clone(&warnings)), || {
            for _ in 0..3 {
                assert!(cache.get("/nonexistent/logo.png").is_none());
                assert!(cache.get(&broken).is_none());
            }
            assert_eq!(warnings.load(Ordering::SeqCst), 2);
            // A new (still broken) file at the same path is a new version: one more.
            fs::write(&broken, b"other garbage").unwrap();
            assert!(cache.get(&broken).is_none());
            assert!(cache.get(&broken).is_none());
            assert_eq!(warnings.load(Ordering::SeqCst), 3);
        });
    }

    #[test]
    fn a_fixed_logo_is_picked_up_without_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logo.png");
        let path_text = path.to_str().unwrap().to_owned();
        let cache = LogoCache::default();
        assert!(cache.get(&path_text).is_none());
        DynamicImage::ImageRgb8(RgbImage::new(30, 10))
            .save_with_format(&path, ImageFormat::Png)
            .unwrap();
        let logo = cache.get(&path_text).unwrap();
        assert_eq!(logo.dimensions(), (30, 10));
        // Served from the cache: the very same decoded image.
        assert!(Arc::ptr_eq(&logo, &cache.get(&path_text).unwrap()));
    }
}
