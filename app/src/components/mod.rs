//! Widgets shared by several pages.

pub mod layout;
pub mod live;
pub mod table_head;
pub mod theme_toggle;
