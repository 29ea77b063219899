//! QR codes as inline SVG (scan a config with a phone).
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An SVG QR code of `data`, or None if it is too long for one.
pub fn svg(data: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::L).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(280, 280)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // Inline in HTML: drop the XML prolog.
    Some(image.split_once("?>").map_or(image.as_str(), |(_, svg)| svg).trim().to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn svg_is_inline_ready() {
        let svg = super::svg("[Interface]\nPrivateKey = x\n").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(!svg.contains("style="), "no inline style (CSP)");
    }
}
