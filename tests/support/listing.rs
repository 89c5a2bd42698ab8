//! Reading the lists the API answers: the items of a list, one item by a field, one field of
//! every item.

use serde_json::Value;

/// The items of the array at `value[key]`.
pub fn items<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array in {value:#}"))
}

/// The item of `value[key]` whose `field` is `wanted`.
pub fn item_where<'a>(value: &'a Value, key: &str, field: &str, wanted: &str) -> &'a Value {
    items(value, key)
        .iter()
        .find(|item| item[field] == wanted)
        .unwrap_or_else(|| panic!("no {key} item with {field} {wanted} in {value:#}"))
}

/// The text `field` of every item of `value[key]`, in order.
pub fn texts_of<'a>(value: &'a Value, key: &str, field: &str) -> Vec<&'a str> {
    items(value, key)
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

/// The audit entries with `action`, in order.
pub fn with_action<'a>(entries: &'a [Value], action: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["action"] == action).collect()
}

/// The first audit entry with `action`.
pub fn first_with_action<'a>(entries: &'a [Value], action: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["action"] == action)
        .unwrap_or_else(|| panic!("no {action} entry in {entries:#?}"))
}

/// The action of every audit entry, in order.
pub fn action_names(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}
