//! Reading plan files for `tariff plans import`: TOML (`[[plans]]`) or JSON (a list, or
//! `{"plans": [...]}`), in the same field names as the admin API.

use std::path::Path;

use anyhow::{bail, Context};
use tariff_domain::PlanDraft;
use tariff_http_api::dto::plan::PlanInput;

/// Parses a plan file into drafts; validation happens in the catalogue service.
pub fn read_plan_file(path: &Path) -> anyhow::Result<Vec<PlanDraft>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let value = match extension.as_deref() {
        Some("json") => parse_json(path, &text)?,
        Some("toml") => parse_toml(path, &text)?,
        // No telling extension: JSON if it reads as JSON (a TOML file may start with
        // `[[plans]]` too, so the first character decides nothing), TOML otherwise.
        _ => match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(json_error) => parse_toml(path, &text)
                .map_err(|toml_error| anyhow::anyhow!("{toml_error}; as JSON: {json_error}"))?,
        },
    };
    let list = match value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(mut map) => match map.remove("plans") {
            Some(serde_json::Value::Array(items)) => items,
            _ => bail!(
                "{} must hold a list of plans (`[[plans]]` in TOML)",
                path.display()
            ),
        },
        _ => bail!("{} must hold a list of plans", path.display()),
    };
    list.into_iter()
        .enumerate()
        .map(|(index, item)| {
            let name = item
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("unnamed")
                .to_owned();
            let input: PlanInput = tariff_http_api::json::from_object_value(item)
                .with_context(|| format!("plan #{} ({name})", index + 1))?;
            if input.name.is_none() {
                bail!("plan #{}: name: is required", index + 1);
            }
            Ok(input.into_draft())
        })
        .collect()
}

fn parse_json(path: &Path, text: &str) -> anyhow::Result<serde_json::Value> {
    serde_json::from_str(text).with_context(|| format!("{} is not valid JSON", path.display()))
}

fn parse_toml(path: &Path, text: &str) -> anyhow::Result<serde_json::Value> {
    let toml: toml::Value = toml::from_str(text)
        .map_err(|e| anyhow::anyhow!("{} is not valid TOML: {}", path.display(), e.message()))?;
    Ok(toml_to_json(toml))
}

/// TOML floats become decimal strings (Rust prints the shortest text that reads back
/// as the same float, i.e. what the author wrote), so prices are parsed exactly later.
fn toml_to_json(value: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => J::String(format!("{f}")),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => J::Object(
            table
                .into_iter()
                .map(|(k, v)| (k, toml_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tariff-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn toml_prices_stay_exact() {
        let path = write("a.toml", "[[plans]]\nname = \"Pro\"\nprice = 9.99\nserverLimit = 5\n\n[[plans]]\nname = \"Big\"\nprice = 0.1\n");
        let drafts = read_plan_file(&path).unwrap();
        assert_eq!(drafts[0].price, "9.99");
        assert_eq!(drafts[1].price, "0.1");
        assert_eq!(
            drafts[0]
                .limits
                .get(tariff_domain::Resource::Servers)
                .value(),
            5
        );
    }

    #[test]
    fn toml_starting_with_its_table_is_toml_whatever_the_extension() {
        let text = "[[plans]]\nname = \"A\"\nprice_hourly = 0.05\n";
        for name in ["e.toml", "e.plans", "e"] {
            let drafts = read_plan_file(&write(name, text)).unwrap();
            assert_eq!(drafts[0].price_hourly, "0.05", "{name}");
        }
        let path = write("f.plans", r#"[{"name":"J"}]"#);
        assert_eq!(read_plan_file(&path).unwrap()[0].name, "J");
        let err = format!(
            "{:#}",
            read_plan_file(&write("g.toml", "[[plans]\n")).unwrap_err()
        );
        assert!(err.contains("not valid TOML"), "{err}");
    }

    #[test]
    fn json_list_and_wrapped_object_both_work() {
        let path = write("b.json", r#"[{"name":"A","price":1.5}]"#);
        assert_eq!(read_plan_file(&path).unwrap()[0].price, "1.5");
        let path = write("c.json", r#"{"plans":[{"name":"B","maximum_servers":2}]}"#);
        assert_eq!(read_plan_file(&path).unwrap()[0].name, "B");
    }

    #[test]
    fn unknown_fields_name_the_plan() {
        let path = write("d.json", r#"[{"name":"A"},{"name":"Typo","prise":1}]"#);
        let err = format!("{:#}", read_plan_file(&path).unwrap_err());
        assert!(
            err.contains("plan #2 (Typo)") && err.contains("prise"),
            "{err}"
        );
    }
}
