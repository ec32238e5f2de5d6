//! Widgets shared by several pages.

pub mod bar_chart;
pub mod confirm;
pub mod data_table;
pub mod enqueue_as_curl;
pub mod firing_banner;
pub mod keyboard_shortcuts;
pub mod language_menu;
pub mod layout;
pub mod live;
pub mod minute_chart;
pub mod queue_limits;
pub mod queue_settings;
pub mod sign_in_guard;
pub mod table_head;
pub mod theme_toggle;
pub mod throughput_chart;
pub mod when;
