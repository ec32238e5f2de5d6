//! A queue's settings on its page: each value in force in this server and where it came
//! from (`hoist.toml` and its line, an environment variable, or the default).

use leptos::prelude::*;

use crate::components::data_table::DataTable;
use crate::i18n::use_i18n;
use crate::t;
use crate::types::SettingView;

#[component]
pub fn QueueSettings(settings: Vec<SettingView>) -> impl IntoView {
    let i18n = use_i18n();
    let from_file = settings.iter().filter(|s| s.origin != "default").count();
    let columns = vec![t!(i18n, "settings-col-setting"), t!(i18n, "settings-col-value"), t!(i18n, "settings-col-from")];
    view! {
        <details class="queue-settings">
            <summary>{t!(i18n, "settings-title", changed = from_file)}</summary>
            <DataTable caption=t!(i18n, "settings-table") class="settings" columns>
                {settings
                    .into_iter()
                    .map(|s| {
                        let from = match s.origin.as_str() {
                            "file" => t!(i18n, "settings-from-file", place = s.detail.clone()),
                            "environment" => t!(i18n, "settings-from-environment", variable = s.detail.clone()),
                            _ => t!(i18n, "settings-from-default"),
                        };
                        let name = s.setting.clone();
                        view! {
                            <tr data-setting=name data-origin=s.origin.clone()>
                                <td class="mono" translate="no">{s.setting}</td>
                                <td>{s.value}</td>
                                <td>{from}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </DataTable>
        </details>
    }
}
