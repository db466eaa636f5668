//! AWS region names, checked offline so a typo (`us-est-1`, `mars-north-9`) is refused before any
//! call instead of as a connection failure after several.
//!
//! A region name is `PARTITION-AREA-DIRECTION-N`: the partitions and areas AWS uses, a compass
//! direction, and a number. New regions follow the same shape, so the check does not go stale the
//! way a fixed list would.

/// Geographic prefixes of AWS regions (`us`, `eu`, `ap` …).
const AREAS: &[&str] = &["af", "ap", "ca", "cn", "eu", "il", "me", "mx", "sa", "us"];
const DIRECTIONS: &[&str] =
    &["central", "east", "north", "northeast", "northwest", "south", "southeast", "southwest", "west"];

/// The same rule as [`region_problem`], for the JSON Schema and the loader's pattern check (a unit
/// test keeps the two and the lists above in step).
pub const REGION_PATTERN: &str = "^(?:af|ap|ca|cn|eu|il|me|mx|sa|us)-(?:(?:gov|iso|isob|isoe|isof)-)?(?:central|east|north|northeast|northwest|south|southeast|southwest|west)-[0-9]{1,2}$";

/// [`region_problem`] as a descriptor's check.
pub fn check_region(name: &str) -> Result<(), String> {
    region_problem(name).map_or(Ok(()), Err)
}

/// `None` when `name` is a region name; otherwise what is wrong with it.
pub fn region_problem(name: &str) -> Option<String> {
    let parts: Vec<&str> = name.split('-').collect();
    let shape = "a region name looks like `us-east-1` or `eu-central-2`";
    let (area, middle, number) = match parts.as_slice() {
        [area, direction, number] => (*area, vec![*direction], *number),
        // `us-gov-west-1`, `us-isob-east-1`
        [area, partition, direction, number] => (*area, vec![*partition, *direction], *number),
        _ => return Some(format!("`{name}` is not an AWS region: {shape}")),
    };
    if !AREAS.contains(&area) {
        return Some(format!(
            "`{name}` is not an AWS region: `{area}` is not one of AWS's areas ({})",
            AREAS.join(", ")
        ));
    }
    let direction = middle.last().copied().unwrap_or_default();
    let partition_ok = middle.len() == 1 || matches!(middle[0], "gov" | "iso" | "isob" | "isoe" | "isof");
    if !DIRECTIONS.contains(&direction) || !partition_ok {
        return Some(format!("`{name}` is not an AWS region: {shape}"));
    }
    if number.is_empty() || number.len() > 2 || !number.chars().all(|c| c.is_ascii_digit()) {
        return Some(format!("`{name}` is not an AWS region: it must end in a number, e.g. `-1`"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_is_the_same_rule() {
        let expected = format!(
            "^(?:{})-(?:(?:gov|iso|isob|isoe|isof)-)?(?:{})-[0-9]{{1,2}}$",
            AREAS.join("|"),
            DIRECTIONS.join("|")
        );
        assert_eq!(REGION_PATTERN, expected);
        let pattern = regex_lite::Regex::new(REGION_PATTERN).unwrap();
        for name in [
            "us-east-1",
            "us-gov-west-1",
            "eu-central-12",
            "mars-north-9",
            "us-est-1",
            "us-east",
            "us-east-123",
            "us-gov-east",
        ] {
            assert_eq!(pattern.is_match(name), region_problem(name).is_none(), "{name}");
        }
    }

    #[test]
    fn real_region_names_pass_and_made_up_ones_are_named() {
        for region in ["us-east-1", "eu-central-2", "ap-southeast-4", "us-gov-west-1", "il-central-1", "mx-central-1"] {
            assert_eq!(region_problem(region), None, "{region}");
        }
        assert!(region_problem("mars-north-9").unwrap().contains("`mars`"));
        assert!(region_problem("us-est-1").is_some());
        assert!(region_problem("us-east").is_some());
        assert!(region_problem("us-east-one").unwrap().contains("number"));
    }
}
