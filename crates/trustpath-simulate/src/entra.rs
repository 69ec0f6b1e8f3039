//! Entra ID records: Graph `signIn` and `directoryAudit` objects (beta schema).

use crate::record::iso_z;
use crate::rng::Rng;
use crate::scenario::Scenario;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// Partner customer delegated administration (sets up the XTAP service-provider policy).
pub const GDAP_APP: &str = "2832473f-ec63-45fb-976f-5d45a7d4bb91";
/// Partner customer delegated admin offline processor (access assignments).
pub const GDAP_OFFLINE_APP: &str = "a3475900-ccec-4a69-98f5-a65cd5dc5306";

/// What a sign-in looks like.
#[derive(Debug, Clone)]
pub struct SignIn<'a> {
    /// UPN.
    pub upn: &'a str,
    /// Home tenant of the user (the customer tenant for members).
    pub home_tenant: &'a str,
    /// Client address.
    pub ip: &'a str,
    /// `crossTenantAccessType` (`none`, `serviceProvider`, `b2bCollaboration`).
    pub cross_tenant: &'a str,
    /// `authenticationRequirement` (`multiFactorAuthentication` / `singleFactorAuthentication`).
    pub auth_requirement: &'a str,
    /// App display name and id.
    pub app: (&'a str, &'a str),
    /// Interactive or not.
    pub interactive: bool,
    /// `status.errorCode` (0 = success).
    pub error_code: u32,
}

/// A few well-known first-party apps used by sign-ins.
pub const APPS: [(&str, &str); 4] = [
    (
        "Office 365 Exchange Online",
        "00000002-0000-0ff1-ce00-000000000000",
    ),
    ("Microsoft Office", "d3590ed6-52b3-4102-aeff-aad2292ab01c"),
    ("Microsoft Teams", "1fec8e78-bce4-4aaf-ab1b-5451cc387264"),
    ("OfficeHome", "4765445b-32c6-49b0-83e6-1d93765276ca"),
];

/// A Graph `signIn` object.
pub fn sign_in(
    rng: &mut Rng,
    s: &Scenario,
    time: Timestamp,
    si: &SignIn<'_>,
) -> Map<String, Value> {
    let external = si.home_tenant != s.tenant_id;
    let name = si.upn.split('@').next().unwrap_or(si.upn).replace('.', " ");
    let mut m = Map::new();
    m.insert("id".into(), json!(rng.guid()));
    m.insert("createdDateTime".into(), json!(iso_z(time)));
    m.insert("userDisplayName".into(), json!(name));
    m.insert("userPrincipalName".into(), json!(si.upn));
    m.insert("userId".into(), json!(rng.guid()));
    m.insert("appId".into(), json!(si.app.1));
    m.insert("appDisplayName".into(), json!(si.app.0));
    m.insert("ipAddress".into(), json!(si.ip));
    m.insert("ipAddressFromResourceProvider".into(), Value::Null);
    m.insert("clientAppUsed".into(), json!("Browser"));
    m.insert("userAgent".into(), json!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0"));
    m.insert("correlationId".into(), json!(rng.guid()));
    m.insert(
        "conditionalAccessStatus".into(),
        json!(if si.auth_requirement == "multiFactorAuthentication" {
            "success"
        } else {
            "notApplied"
        }),
    );
    m.insert("isInteractive".into(), json!(si.interactive));
    m.insert("riskDetail".into(), json!("none"));
    m.insert("riskLevelAggregated".into(), json!("none"));
    m.insert("riskLevelDuringSignIn".into(), json!("none"));
    m.insert("riskState".into(), json!("none"));
    m.insert(
        "resourceDisplayName".into(),
        json!("Office 365 Exchange Online"),
    );
    m.insert(
        "resourceId".into(),
        json!("00000002-0000-0ff1-ce00-000000000000"),
    );
    m.insert("resourceTenantId".into(), json!(s.tenant_id));
    m.insert("homeTenantId".into(), json!(si.home_tenant));
    m.insert(
        "homeTenantName".into(),
        json!(if external { "" } else { s.org_name.as_str() }),
    );
    m.insert(
        "authenticationRequirement".into(),
        json!(si.auth_requirement),
    );
    m.insert("crossTenantAccessType".into(), json!(si.cross_tenant));
    m.insert(
        "userType".into(),
        json!(if external && si.cross_tenant != "serviceProvider" {
            "guest"
        } else {
            "member"
        }),
    );
    m.insert(
        "signInEventTypes".into(),
        json!([if si.interactive {
            "interactiveUser"
        } else {
            "nonInteractiveUser"
        }]),
    );
    m.insert("uniqueTokenIdentifier".into(), json!(rng.hex(22)));
    m.insert("sessionId".into(), json!(rng.guid()));
    m.insert(
        "autonomousSystemNumber".into(),
        json!(8075 + rng.below(3) as u32),
    );
    m.insert(
        "status".into(),
        json!({"errorCode": si.error_code, "failureReason": if si.error_code == 0 { "Other." } else { "Invalid username or password or Invalid on-premise username or password." }, "additionalDetails": Value::Null}),
    );
    m.insert("deviceDetail".into(), json!({"deviceId": "", "displayName": "", "operatingSystem": "Windows10", "browser": "Edge 122.0.0", "isCompliant": false, "isManaged": false, "trustType": ""}));
    m.insert("location".into(), json!({"city": "London", "state": "England", "countryOrRegion": "GB", "geoCoordinates": {"altitude": Value::Null, "latitude": 51.5, "longitude": -0.12}}));
    m
}

/// Who initiated a directory change.
#[derive(Debug, Clone)]
pub enum Initiator<'a> {
    /// A user (UPN, home tenant, IP).
    User(&'a str, &'a str, &'a str),
    /// An application (app id, display name).
    App(&'a str, &'a str),
}

/// A target of a directory change: (type, display name, id, modified properties).
pub type TargetResource<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, &'a str)>);

/// A Graph `directoryAudit` object; every modified property's `newValue` is the JSON
/// encoding of a string (`"\"Exchange Administrator\""`).
pub fn directory_audit(
    rng: &mut Rng,
    time: Timestamp,
    category: &str,
    activity: &str,
    operation_type: &str,
    initiator: &Initiator<'_>,
    targets: &[TargetResource<'_>],
) -> Map<String, Value> {
    let encoded: Vec<Vec<(&str, String)>> = targets
        .iter()
        .map(|(_, _, _, props)| {
            props
                .iter()
                .map(|(n, v)| (*n, Value::String((*v).to_string()).to_string()))
                .collect()
        })
        .collect();
    let raw: Vec<RawTargetResource<'_>> = targets
        .iter()
        .zip(&encoded)
        .map(|((kind, name, id, _), props)| {
            (
                *kind,
                *name,
                *id,
                props.iter().map(|(n, v)| (*n, v.as_str())).collect(),
            )
        })
        .collect();
    directory_audit_raw(
        rng,
        time,
        category,
        activity,
        operation_type,
        initiator,
        &raw,
    )
}

/// A target whose modified properties carry `newValue` exactly as given (already JSON
/// encoded: `"[\"9a8b…\"]"`, `"[true]"`, `"\"Policy\""`).
pub type RawTargetResource<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, &'a str)>);

/// A Graph `directoryAudit` object whose modified properties are given JSON-encoded, as
/// Entra writes them (`newValue` of `Add service principal` is a list: `"[\"…\"]"`).
pub fn directory_audit_raw(
    rng: &mut Rng,
    time: Timestamp,
    category: &str,
    activity: &str,
    operation_type: &str,
    initiator: &Initiator<'_>,
    targets: &[RawTargetResource<'_>],
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "id".into(),
        json!(format!("Directory_{}_{}", rng.guid(), rng.hex(5))),
    );
    m.insert("category".into(), json!(category));
    m.insert("correlationId".into(), json!(rng.guid()));
    m.insert("result".into(), json!("success"));
    m.insert("resultReason".into(), json!(""));
    m.insert("activityDisplayName".into(), json!(activity));
    m.insert("activityDateTime".into(), json!(iso_z(time)));
    m.insert("loggedByService".into(), json!("Core Directory"));
    m.insert("operationType".into(), json!(operation_type));
    let initiated_by = match initiator {
        Initiator::User(upn, home, ip) => json!({
            "app": Value::Null,
            "user": {"id": rng.guid(), "displayName": Value::Null, "userPrincipalName": upn,
                     "ipAddress": ip, "userType": Value::Null, "homeTenantId": home, "homeTenantName": Value::Null}
        }),
        Initiator::App(app_id, name) => json!({
            "app": {"appId": app_id, "displayName": name, "servicePrincipalId": rng.guid(), "servicePrincipalName": Value::Null},
            "user": Value::Null
        }),
    };
    m.insert("initiatedBy".into(), initiated_by);
    let targets: Vec<Value> = targets
        .iter()
        .map(|(kind, name, id, props)| {
            let props: Vec<Value> = props
                .iter()
                .map(|(n, v)| json!({"displayName": n, "oldValue": Value::Null, "newValue": v}))
                .collect();
            json!({"id": id, "displayName": name, "type": kind, "userPrincipalName": Value::Null, "groupType": Value::Null, "modifiedProperties": props})
        })
        .collect();
    m.insert("targetResources".into(), Value::Array(targets));
    m.insert("additionalDetails".into(), json!([]));
    m
}
