//! Widgets shared by several pages.

pub mod layout;
pub mod live;
pub mod theme_toggle;
