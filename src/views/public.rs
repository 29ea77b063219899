use super::{page, PageContext};
use maud::{html, Markup};

pub fn landing(ctx: &PageContext) -> Markup {
    page(
        ctx,
        "Private, fast VPN",
        html! {
            section.hero {
                h1 { "Your own private network, everywhere." }
                p { "WireGuard, OpenVPN or PhazeVPN on every device. One account, configs that just work, and a clear view of your usage." }
                @if ctx.user.is_some() {
                    a href="/dashboard" role="button" { "Go to your dashboard" }
                } @else {
                    a href="/signup" role="button" { "Create an account" }
                    " "
                    a href="/login" { "I already have one" }
                }
            }
            section.features {
                article { h3 { "Three protocols" } p { "WireGuard for speed, OpenVPN where it must pass any firewall, PhazeVPN for our apps." } }
                article { h3 { "Configs and QR codes" } p { "Download a working config file or scan a QR code on your phone." } }
                article { h3 { "Your usage, your sessions" } p { "See traffic and connection history per device, and sign out any session." } }
            }
        },
    )
}
