//! The one naming of choices (`d4`, `cosine`, `group`): the value names clap gives the flags, for
//! the form, the legend, exports and messages alike. A leaf, so data and the core can name their
//! choices as the CLI does.

use clap::ValueEnum;

/// The name of a choice as its flag takes it.
pub fn name<T: ValueEnum>(value: T) -> String {
    value
        .to_possible_value()
        .map_or(String::new(), |v| v.get_name().to_string())
}

/// Every name of a choice, in declaration order.
pub fn names<T: ValueEnum>() -> Vec<String> {
    T::value_variants()
        .iter()
        .map(|v| name(v.clone()))
        .collect()
}

/// The choice called `text`, or why not.
pub fn choice<T: ValueEnum>(text: &str) -> std::result::Result<T, String> {
    T::from_str(text, false).map_err(|_| format!("is not one of {}", names::<T>().join(", ")))
}
