//! The generated JSON Schemas accept what serde writes for real types and reject values of
//! the wrong shape.
//!
//! The fixture types in `fixtures/shapes` are compiled into this test and scanned by the
//! catalog builder, so every schema is checked against serde_json's own output.

#[path = "fixtures/shapes/mod.rs"]
#[allow(
    unreachable_pub,
    dead_code,
    reason = "the fixture is written as the public module of a crate, and the skipped \
              variant it tests is never built"
)]
mod shapes;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use ncl_schema::Catalog;
use ncl_schema::catalog::{TypeBody, TypeRef};
use serde::Serialize;
use serde_json::{Value, json};

use shapes::nested::{Limits, Page, Priority};
use shapes::{
    CamelFields, Collections, Command, Event, Flattened, KebabFields, Level, Loose, Meters, Pair,
    PascalFields, Ping, Presence, ScreamingFields, Shape, Strict, Tree, Wrapper,
};

/// Returns the catalog of the fixture directory, scanned once.
fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        ncl_schema::Builder::new()
            .source_dir("tests/fixtures/shapes")
            .scan()
            .unwrap_or_else(|error| panic!("the fixture should scan: {error}"))
    })
}

fn schema(wire_name: &str) -> Value {
    let catalog = catalog();
    let message = catalog
        .message(wire_name)
        .unwrap_or_else(|| panic!("the fixture has no payload {wire_name}"));
    let text = ncl_schema::render::json_schema(catalog, message);
    serde_json::from_str(&text).expect("the schema should be JSON")
}

fn validator(wire_name: &str) -> jsonschema::Validator {
    jsonschema::draft202012::new(&schema(wire_name))
        .unwrap_or_else(|error| panic!("the schema of {wire_name} should compile: {error}"))
}

/// Asserts that the schema of `wire_name` accepts serde's JSON for `value`.
fn assert_accepts(wire_name: &str, value: &impl Serialize) {
    let instance = serde_json::to_value(value).expect("the sample should serialize");
    let validator = validator(wire_name);
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|error| error.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{wire_name} rejects serde's {instance}: {errors:?}"
    );
}

/// Asserts that the schema of `wire_name` rejects `instance`.
fn assert_rejects(wire_name: &str, instance: Value) {
    assert!(
        !validator(wire_name).is_valid(&instance),
        "{wire_name} accepts the wrong value {instance}"
    );
}

/// Returns the JSON names of a struct payload's properties, in declaration order.
fn property_names(wire_name: &str) -> Vec<String> {
    let catalog = catalog();
    let message = catalog.message(wire_name).expect("payload exists");
    match &catalog.types[&message.type_key].body {
        TypeBody::Struct(body) => body
            .fields
            .iter()
            .map(|field| field.json_name.clone())
            .collect(),
        other => panic!("{wire_name} is not a struct: {other:?}"),
    }
}

fn required(wire_name: &str) -> Vec<String> {
    let schema = schema(wire_name);
    schema["required"]
        .as_array()
        .map(|names| {
            names
                .iter()
                .map(|name| name.as_str().expect("names are strings").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_schema_is_valid_draft_2020_12() {
    let catalog = catalog();
    assert_eq!(catalog.messages.len(), 16, "{:#?}", catalog.messages);
    for message in &catalog.messages {
        let schema = schema(&message.wire_name);
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{}",
            message.wire_name
        );
        if let Err(error) = jsonschema::meta::validate(&schema) {
            panic!("{} is not a valid schema: {error}", message.wire_name);
        }
    }
}

#[test]
fn rename_all_rules_name_properties() {
    assert_eq!(property_names("CamelFields"), ["jobId", "exitCodeV2", "ID"]);
    assert_eq!(property_names("KebabFields"), ["node-id", "retry-count"]);
    assert_eq!(property_names("ScreamingFields"), ["NODE_ID", "MAX_JOBS"]);
    assert_eq!(property_names("Pascal/v2"), ["NodeId"]);

    let camel = CamelFields {
        job_id: "job-1".to_owned(),
        exit_code_v2: -3,
        identifier: 7,
    };
    assert_accepts("CamelFields", &camel);
    assert_rejects(
        "CamelFields",
        json!({"job_id": "job-1", "exitCodeV2": 1, "ID": 1}),
    );
    assert_rejects(
        "CamelFields",
        json!({"jobId": "job-1", "exitCodeV2": 1, "ID": 256}),
    );
    assert_rejects(
        "CamelFields",
        json!({"jobId": "job-1", "exitCodeV2": "one", "ID": 1}),
    );

    let kebab = KebabFields {
        node_id: "node-1".to_owned(),
        retry_count: 3,
    };
    assert_accepts("KebabFields", &kebab);
    assert_rejects("KebabFields", json!({"node-id": "n", "retry-count": 70000}));

    let screaming = ScreamingFields {
        node_id: "node-1".to_owned(),
        max_jobs: 4,
    };
    assert_accepts("ScreamingFields", &screaming);
    assert_rejects("ScreamingFields", json!({"NODE_ID": "n", "MAX_JOBS": -1}));

    let pascal = PascalFields {
        node_id: "node-1".to_owned(),
    };
    assert_accepts("Pascal/v2", &pascal);
    assert_rejects("Pascal/v2", json!({"node_id": "node-1"}));
}

#[test]
fn presence_follows_skip_default_and_option() {
    assert_eq!(required("Presence"), ["required"]);
    assert_eq!(
        property_names("Presence"),
        [
            "required",
            "maybe",
            "omitted",
            "defaulted",
            "input_only",
            "output_only",
            "tags"
        ]
    );
    let schema = schema("Presence");
    assert_eq!(schema["properties"]["input_only"]["writeOnly"], true);
    assert_eq!(schema["properties"]["output_only"]["readOnly"], true);
    assert_eq!(
        schema["properties"]["maybe"]["type"],
        json!(["integer", "null"])
    );

    let empty = Presence {
        required: "r".to_owned(),
        maybe: None,
        omitted: None,
        defaulted: Vec::new(),
        internal: 9,
        input_only: Some("never written".to_owned()),
        output_only: true,
        tags: Vec::new(),
    };
    assert_accepts("Presence", &empty);
    let full = Presence {
        maybe: Some(4),
        omitted: Some("o".to_owned()),
        defaulted: vec!["d".to_owned()],
        tags: vec!["t".to_owned()],
        ..empty
    };
    assert_accepts("Presence", &full);
    assert_rejects("Presence", json!({"maybe": 1}));
    assert_rejects("Presence", json!({"required": "r", "maybe": "one"}));
    assert_rejects("Presence", json!({"required": "r", "omitted": 5}));
}

#[test]
fn flattened_struct_and_map_are_merged() {
    let schema = schema("Flattened");
    assert_eq!(required("Flattened"), ["name", "max_cpu"]);
    assert!(schema["properties"]["max_memory"].is_object(), "{schema:#}");
    assert_eq!(schema["additionalProperties"]["type"], "integer");

    let flattened = Flattened {
        name: "n".to_owned(),
        limits: Limits {
            max_cpu: 2,
            max_memory: Some(1 << 40),
        },
        extra: BTreeMap::from([("zone".to_owned(), 3), ("rack".to_owned(), -1)]),
    };
    assert_accepts("Flattened", &flattened);
    assert_rejects("Flattened", json!({"name": "n"}));
    assert_rejects(
        "Flattened",
        json!({"name": "n", "max_cpu": 1, "zone": "three"}),
    );
}

#[test]
fn internally_tagged_enum_is_described() {
    let samples = [
        Event::NodeJoined {
            node_id: "n1".to_owned(),
        },
        Event::NodeLeft {
            node_id: "n1".to_owned(),
            reason: None,
        },
        Event::NodeLeft {
            node_id: "n1".to_owned(),
            reason: Some("drained".to_owned()),
        },
        Event::Tick,
        Event::Limited(Limits {
            max_cpu: 4,
            max_memory: None,
        }),
    ];
    for sample in &samples {
        assert_accepts("Event", sample);
    }
    assert_rejects("Event", json!({"kind": "node_joined"}));
    assert_rejects("Event", json!({"kind": "node_crashed", "node_id": "n1"}));
    assert_rejects("Event", json!({"kind": "limited"}));
    assert_rejects("Event", json!({"NodeJoined": {"node_id": "n1"}}));
}

#[test]
fn adjacently_tagged_enum_is_described() {
    let samples = [
        Command::Start("job".to_owned()),
        Command::Stop,
        Command::Resize { cpu: 2 },
        Command::Move(1, 2),
    ];
    for sample in &samples {
        assert_accepts("Command", sample);
    }
    assert_rejects("Command", json!({"t": "Start", "c": 5}));
    assert_rejects("Command", json!({"t": "Resize", "c": {"cpu": 300}}));
    assert_rejects("Command", json!({"t": "Move", "c": [1]}));
    assert_rejects("Command", json!({"c": "job"}));
}

#[test]
fn untagged_enum_is_described() {
    let samples = [
        Loose::Number(-4),
        Loose::Text("t".to_owned()),
        Loose::Pair(1, 2),
        Loose::Record {
            key: "k".to_owned(),
        },
    ];
    for sample in &samples {
        assert_accepts("Loose", sample);
    }
    assert!(schema("Loose")["anyOf"].is_array());
    assert_rejects("Loose", json!(true));
    assert_rejects("Loose", json!({"key": 1}));
    assert_rejects("Loose", json!([1, 2, 3]));
}

#[test]
fn collections_and_nested_types_are_described() {
    let mut by_name = HashMap::new();
    by_name.insert("a".to_owned(), Priority::Urgent);
    let collections = Collections {
        priority: Priority::Normal,
        level: Level::Medium,
        by_name,
        by_id: BTreeMap::from([(7, "seven".to_owned())]),
        by_priority: BTreeMap::from([(Priority::Urgent, 1)]),
        unique: BTreeSet::from(["x".to_owned(), "y".to_owned()]),
        pair: ("p".to_owned(), u64::MAX),
        fixed: [1, 2, 3, 4],
        ratio: 0.5,
        small: -128,
        letter: 'é',
        shape: Shape::Poly {
            points: vec![(0, 0), (1, -1)],
        },
        result: Ok(3),
        page: Page {
            items: vec![Priority::Urgent],
            next: Some(2),
        },
        boxed: Box::new(Limits {
            max_cpu: 1,
            max_memory: None,
        }),
    };
    assert_accepts("Collections", &collections);
    for shape in [
        Shape::Dot,
        Shape::Circle(1.5),
        Shape::Rect(2, 3),
        Shape::Poly { points: Vec::new() },
    ] {
        let other = Collections {
            shape,
            result: Err("failed".to_owned()),
            level: Level::High,
            ..collections.clone()
        };
        assert_accepts("Collections", &other);
    }

    let valid = serde_json::to_value(&collections).expect("serializes");
    let cases = [
        ("small", json!(200)),
        ("fixed", json!([1, 2, 3])),
        ("letter", json!("ab")),
        ("level", json!("HIDDEN")),
        ("level", json!("MEDIUM")),
        ("priority", json!("Normal")),
        ("by_id", json!({"x": "not a number key"})),
        ("by_priority", json!({"low": 1})),
        ("unique", json!(["x", "x"])),
        ("pair", json!(["p"])),
        ("shape", json!({"Circle": "round"})),
        ("result", json!({"Ok": 1, "Err": "both"})),
        ("page", json!({"items": ["urgent"], "next": -1})),
    ];
    for (property, wrong) in cases {
        let mut instance = valid.clone();
        instance[property] = wrong;
        assert_rejects("Collections", instance);
    }

    let catalog = catalog();
    assert!(
        catalog.types.contains_key("Page_Priority"),
        "{:?}",
        catalog.types.keys()
    );
    let page = &catalog.types["Page_Priority"];
    assert_eq!(page.rust_path, "crate::nested::Page<Priority>");
    let defs = &schema("Collections")["$defs"];
    for key in ["Level", "Limits", "Page_Priority", "Priority", "Shape"] {
        assert!(defs[key].is_object(), "missing $defs/{key}");
    }
}

#[test]
fn tuple_newtype_and_unit_structs() {
    assert_accepts("Pair", &Pair("a".to_owned(), 1));
    assert_rejects("Pair", json!(["a"]));
    assert_rejects("Pair", json!(["a", 1, 2]));
    assert_accepts("Meters", &Meters(12));
    assert_rejects("Meters", json!(-1));
    assert_rejects("Meters", json!({"0": 12}));
    assert_accepts("Ping", &Ping);
    assert_rejects("Ping", json!({}));
}

#[test]
fn deny_unknown_fields_and_transparent() {
    let strict = Strict {
        id: 1,
        name: "n".to_owned(),
    };
    assert_accepts("Strict", &strict);
    assert_rejects("Strict", json!({"id": 1, "name": "n", "extra": true}));
    assert_accepts("Wrapper", &Wrapper { inner: strict });
    assert_rejects("Wrapper", json!({"inner": {"id": 1, "name": "n"}}));

    let catalog = catalog();
    let message = catalog.message("Strict").expect("payload exists");
    let TypeBody::Struct(body) = &catalog.types[&message.type_key].body else {
        panic!("Strict is a struct");
    };
    assert_eq!(body.fields[1].aliases, ["nm"]);
}

#[test]
fn recursive_type_refers_to_its_root() {
    let tree = Tree {
        label: "root".to_owned(),
        children: vec![Tree {
            label: "leaf".to_owned(),
            children: Vec::new(),
        }],
    };
    assert_accepts("Tree", &tree);
    assert_eq!(
        schema("Tree")["properties"]["children"]["items"]["$ref"],
        "#"
    );
    assert_rejects(
        "Tree",
        json!({"label": "root", "children": [{"label": 1, "children": []}]}),
    );
}

#[test]
fn alias_and_integer_widths_are_followed() {
    let catalog = catalog();
    let message = catalog.message("CamelFields").expect("payload exists");
    let TypeBody::Struct(body) = &catalog.types[&message.type_key].body else {
        panic!("CamelFields is a struct");
    };
    assert_eq!(body.fields[0].ty, TypeRef::String { format: None });
    let id = &schema("CamelFields")["properties"]["ID"];
    assert_eq!(id["minimum"], 0);
    assert_eq!(id["maximum"], 255);
    let exit_code = &schema("CamelFields")["properties"]["exitCodeV2"];
    assert_eq!(exit_code["minimum"], i64::MIN);
    assert_eq!(exit_code["maximum"], i64::MAX);
}
