use super::{page, PageContext};
use maud::{html, Markup};

pub struct AdminOverview {
    pub users: i64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub cache_bypasses: u64,
}

pub fn overview(ctx: &PageContext, o: &AdminOverview) -> Markup {
    page(
        ctx,
        "Admin",
        html! {
            h1 { "Admin" }
            p { "Users, payments, tickets and nodes panels arrive in later releases." }
            dl #admin-figures {
                dt { "Users" } dd #admin-users { (o.users) }
                dt { "Fragment cache (this instance)" }
                dd #admin-cache { (o.cache_hits) " hits, " (o.cache_misses) " misses, " (o.cache_bypasses) " bypassed" }
            }
        },
    )
}
