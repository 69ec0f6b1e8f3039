//! Unified audit log records (Office 365 Management Activity API schema).
//!
//! Shapes follow real exports: `CreationTime` without `Z`, ExchangeAdmin `Parameters` as
//! Name/Value pairs with string values and `ResultStatus` "True", `ClientIP` with a port,
//! AAD operation names with a trailing period, mailbox `LogonType` numbers.

use crate::record::ual_time;
use crate::rng::Rng;
use crate::scenario::Scenario;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// The Exchange system account that runs permission cmdlets routinely (benign noise).
pub const SERVICE_HOST: &str = "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)";

/// UAL `UserType` values used here.
pub mod user_type {
    /// Regular user.
    pub const REGULAR: u8 = 0;
    /// Admin.
    pub const ADMIN: u8 = 2;
    /// Datacenter admin (system accounts such as the ServiceHost).
    pub const DC_ADMIN: u8 = 3;
    /// Partner technician (GDAP).
    pub const PARTNER_TECHNICIAN: u8 = 9;
}

/// Who runs a cmdlet or performs a mailbox action.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `UserId`.
    pub upn: String,
    /// `UserType`.
    pub user_type: u8,
    /// Home tenant when it differs from the customer tenant (partner).
    pub home_tenant: Option<String>,
    /// Client address without port.
    pub ip: Option<String>,
}

impl Actor {
    /// A customer-tenant user.
    pub fn user(upn: &str, user_type: u8, ip: &str) -> Self {
        Actor {
            upn: upn.to_string(),
            user_type,
            home_tenant: None,
            ip: Some(ip.to_string()),
        }
    }

    /// The Exchange ServiceHost system account.
    pub fn service_host() -> Self {
        Actor {
            upn: SERVICE_HOST.to_string(),
            user_type: user_type::DC_ADMIN,
            home_tenant: None,
            ip: None,
        }
    }

    /// The scenario's partner technician from one of its IPs.
    pub fn partner(s: &Scenario, ip: &str) -> Self {
        Actor {
            upn: s.partner.technician.clone(),
            user_type: user_type::PARTNER_TECHNICIAN,
            home_tenant: Some(s.partner.tenant_id.clone()),
            ip: Some(ip.to_string()),
        }
    }
}

/// Record type, workload and result status of a UAL record.
type Kind<'a> = (u8, &'a str, &'a str);

fn base(
    rng: &mut Rng,
    s: &Scenario,
    time: Timestamp,
    (record_type, workload, result_status): Kind<'_>,
    operation: &str,
    actor: &Actor,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("CreationTime".into(), json!(ual_time(time)));
    m.insert("Id".into(), json!(rng.guid()));
    m.insert("Operation".into(), json!(operation));
    m.insert("OrganizationId".into(), json!(s.tenant_id));
    m.insert("RecordType".into(), json!(record_type));
    m.insert("ResultStatus".into(), json!(result_status));
    m.insert("UserKey".into(), json!(user_key(actor)));
    m.insert("UserType".into(), json!(actor.user_type));
    m.insert("Version".into(), json!(1));
    m.insert("Workload".into(), json!(workload));
    m
}

fn user_key(actor: &Actor) -> String {
    if actor.upn == SERVICE_HOST {
        "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)".into()
    } else {
        // A stable PUID-like key per actor name, independent of the RNG stream position.
        let h = actor
            .upn
            .to_lowercase()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
        format!("1003{:012X}", h & 0xffff_ffff_ffff)
    }
}

fn ip_with_port(rng: &mut Rng, ip: &str) -> String {
    let port = rng.range(1025, 65000);
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// The Exchange `ObjectId` path of a mailbox in the hosted organisation.
pub fn exchange_object(s: &Scenario, mailbox: &str) -> String {
    let alias = mailbox.split('@').next().unwrap_or(mailbox);
    format!(
        "NAMPR10A011.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/{}/{}",
        s.org_name, alias
    )
}

/// An ExchangeAdmin (RecordType 1) cmdlet record.
pub fn exchange_admin(
    rng: &mut Rng,
    s: &Scenario,
    time: Timestamp,
    actor: &Actor,
    cmdlet: &str,
    params: &[(&str, &str)],
    object: &str,
) -> Map<String, Value> {
    let mut m = base(rng, s, time, (1, "Exchange", "True"), cmdlet, actor);
    if let Some(ip) = &actor.ip {
        m.insert("ClientIP".into(), json!(ip_with_port(rng, ip)));
    }
    m.insert("ObjectId".into(), json!(object));
    m.insert("UserId".into(), json!(actor.upn));
    m.insert(
        "AppId".into(),
        json!(if actor.ip.is_some() {
            "fb78d390-0c51-40cd-8e17-fdbfab77341b"
        } else {
            ""
        }),
    );
    m.insert("ClientAppId".into(), json!(""));
    let system = actor.user_type == user_type::DC_ADMIN;
    m.insert(
        "ExternalAccess".into(),
        json!(system || actor.home_tenant.is_some()),
    );
    m.insert("OrganizationName".into(), json!(s.org_name));
    m.insert("OriginatingServer".into(), json!(originating_server(rng)));
    let parameters: Vec<Value> = params
        .iter()
        .map(|(n, v)| json!({"Name": n, "Value": v}))
        .collect();
    m.insert("Parameters".into(), Value::Array(parameters));
    if let Some(home) = &actor.home_tenant {
        m.insert("ActorContextId".into(), json!(home));
        m.insert("TokenTenantId".into(), json!(home));
    }
    if !system {
        m.insert("SessionId".into(), json!(rng.guid()));
    }
    m
}

fn originating_server(rng: &mut Rng) -> String {
    format!(
        "CH3PR10MB{:04} (15.20.{}.{:03})",
        rng.below(10_000),
        rng.range(8000, 8999),
        rng.below(40)
    )
}

/// A `MailItemsAccessed` (RecordType 50, ExchangeItemAggregated) record.
pub fn mail_items_accessed(
    rng: &mut Rng,
    s: &Scenario,
    time: Timestamp,
    actor: &Actor,
    owner: &str,
    logon_type: u8,
    count: u32,
) -> Map<String, Value> {
    let mut m = base(
        rng,
        s,
        time,
        (50, "Exchange", "Succeeded"),
        "MailItemsAccessed",
        actor,
    );
    m.insert("UserId".into(), json!(actor.upn));
    m.insert(
        "AppId".into(),
        json!("00000002-0000-0ff1-ce00-000000000000"),
    );
    m.insert(
        "ClientAppId".into(),
        json!(if logon_type == 0 {
            "5e3ce6c0-2b1f-4285-8d4b-75ee78787346"
        } else {
            "1fec8e78-bce4-4aaf-ab1b-5451cc387264"
        }),
    );
    m.insert(
        "ClientIPAddress".into(),
        json!(actor.ip.clone().unwrap_or_default()),
    );
    m.insert(
        "ClientInfoString".into(),
        json!(if logon_type == 6 {
            "Client=REST;Client=RESTSystem;;"
        } else {
            "Client=OWA;Action=ViaProxy"
        }),
    );
    m.insert("ExternalAccess".into(), json!(actor.home_tenant.is_some()));
    m.insert("InternalLogonType".into(), json!(0));
    m.insert("LogonType".into(), json!(logon_type));
    m.insert("LogonUserSid".into(), json!(sid_for(&actor.upn)));
    m.insert("MailboxGuid".into(), json!(stable_guid(owner)));
    m.insert("MailboxOwnerSid".into(), json!(sid_for(owner)));
    m.insert("MailboxOwnerUPN".into(), json!(owner));
    if let Some(home) = &actor.home_tenant {
        m.insert("ExternalUserTenantId".into(), json!(home));
        m.insert("ActorContextId".into(), json!(home));
    }
    m.insert(
        "OperationProperties".into(),
        json!([{"Name": "MailAccessType", "Value": "Bind"}, {"Name": "IsThrottled", "Value": "False"}]),
    );
    m.insert("OrganizationName".into(), json!(s.org_name));
    m.insert(
        "OriginatingServer".into(),
        json!(format!("{}\r\n", originating_server(rng))),
    );
    m.insert("SessionId".into(), json!(rng.guid()));
    m.insert("OperationCount".into(), json!(count));
    let items: Vec<Value> = (0..count.min(2))
        .map(|_| json!({"InternetMessageId": format!("<{}@{}>", rng.hex(24), s.domain), "SizeInBytes": rng.range(4_000, 90_000)}))
        .collect();
    m.insert(
        "Folders".into(),
        json!([{"FolderItems": items, "Id": format!("LgAAAA{}", rng.hex(20)), "Path": "\\Inbox"}]),
    );
    m
}

/// A mailbox item action (RecordType 2, ExchangeItem): `AddFolderPermissions`,
/// `UpdateFolderPermissions`, `UpdateCalendarDelegation`, `SendAs`, `Send`.
pub struct MailboxAction<'a> {
    /// Operation name.
    pub operation: &'a str,
    /// Mailbox owner.
    pub owner: &'a str,
    /// `LogonType` (0 owner, 1 admin, 2 delegated, 6 delegated admin).
    pub logon_type: u8,
    /// Folder path for folder operations (`\Inbox`, `\Calendar`).
    pub folder: Option<&'a str>,
    /// Member and rights for permission operations.
    pub member: Option<(&'a str, &'a str)>,
    /// Subject for SendAs / Send.
    pub subject: Option<&'a str>,
}

/// A RecordType 2 mailbox record.
pub fn mailbox_item(
    rng: &mut Rng,
    s: &Scenario,
    time: Timestamp,
    actor: &Actor,
    action: &MailboxAction<'_>,
) -> Map<String, Value> {
    let mut m = base(
        rng,
        s,
        time,
        (2, "Exchange", "Succeeded"),
        action.operation,
        actor,
    );
    m.insert("UserId".into(), json!(actor.upn));
    m.insert(
        "ClientIP".into(),
        json!(actor.ip.clone().unwrap_or_default()),
    );
    m.insert(
        "ClientIPAddress".into(),
        json!(actor.ip.clone().unwrap_or_default()),
    );
    m.insert("ClientInfoString".into(), json!("Client=MSExchangeRPC"));
    m.insert("ExternalAccess".into(), json!(actor.home_tenant.is_some()));
    m.insert("InternalLogonType".into(), json!(0));
    m.insert("LogonType".into(), json!(action.logon_type));
    m.insert("LogonUserSid".into(), json!(sid_for(&actor.upn)));
    m.insert("MailboxGuid".into(), json!(stable_guid(action.owner)));
    m.insert("MailboxOwnerSid".into(), json!(sid_for(action.owner)));
    m.insert("MailboxOwnerUPN".into(), json!(action.owner));
    m.insert("OrganizationName".into(), json!(s.org_name));
    m.insert("OriginatingServer".into(), json!(originating_server(rng)));
    let mut item = Map::new();
    item.insert("Id".into(), json!(format!("RgAAAA{}", rng.hex(28))));
    if let Some(subject) = action.subject {
        item.insert("Subject".into(), json!(subject));
        item.insert(
            "InternetMessageId".into(),
            json!(format!("<{}@{}>", rng.hex(24), s.domain)),
        );
        item.insert("SizeInBytes".into(), json!(rng.range(3_000, 60_000)));
    }
    if let Some(folder) = action.folder {
        let mut parent = Map::new();
        parent.insert("Id".into(), json!(format!("LgAAAA{}", rng.hex(20))));
        parent.insert("Path".into(), json!(folder));
        if let Some((member, rights)) = action.member {
            parent.insert("MemberRights".into(), json!(rights));
            parent.insert("MemberSid".into(), json!(sid_for(member)));
            parent.insert("MemberUpn".into(), json!(member));
        }
        item.insert("ParentFolder".into(), Value::Object(parent));
    }
    m.insert("Item".into(), Value::Object(item));
    if action.operation == "SendAs" {
        m.insert("SendAsUserSmtp".into(), json!(action.owner));
        m.insert("SendAsUserMailboxGuid".into(), json!(rng.guid()));
    }
    m
}

/// An AzureActiveDirectory (RecordType 8) directory record (`Add partner to company.`,
/// `Add member to role.`, `Update user.`).
pub fn aad(
    rng: &mut Rng,
    s: &Scenario,
    time: Timestamp,
    actor: &Actor,
    operation: &str,
    target: &str,
    modified: &[(&str, &str)],
) -> Map<String, Value> {
    let mut m = base(
        rng,
        s,
        time,
        (8, "AzureActiveDirectory", "Success"),
        operation,
        actor,
    );
    m.insert("ObjectId".into(), json!(target));
    m.insert("UserId".into(), json!(actor.upn));
    m.insert("AzureActiveDirectoryEventType".into(), json!(1));
    m.insert("ExtendedProperties".into(), json!([{"Name": "additionalDetails", "Value": "{}"}, {"Name": "extendedAuditEventCategory", "Value": "Company"}]));
    let props: Vec<Value> = modified
        .iter()
        .map(|(n, v)| json!({"Name": n, "NewValue": v, "OldValue": ""}))
        .collect();
    m.insert("ModifiedProperties".into(), Value::Array(props));
    m.insert(
        "Actor".into(),
        json!([{"ID": actor.upn, "Type": 5}, {"ID": user_key(actor), "Type": 3}]),
    );
    m.insert(
        "ActorContextId".into(),
        json!(
            actor
                .home_tenant
                .clone()
                .unwrap_or_else(|| s.tenant_id.clone())
        ),
    );
    if let Some(ip) = &actor.ip {
        m.insert("ActorIpAddress".into(), json!(ip));
    }
    m.insert("InterSystemsId".into(), json!(rng.guid()));
    m.insert("IntraSystemId".into(), json!(rng.guid()));
    m.insert("SupportTicketId".into(), json!(""));
    m.insert("Target".into(), json!([{"ID": target, "Type": 1}]));
    m.insert("TargetContextId".into(), json!(s.tenant_id));
    m
}

/// An STS logon (RecordType 15) `UserLoggedIn`.
pub fn user_logged_in(
    rng: &mut Rng,
    s: &Scenario,
    time: Timestamp,
    actor: &Actor,
) -> Map<String, Value> {
    let mut m = base(
        rng,
        s,
        time,
        (15, "AzureActiveDirectory", "Success"),
        "UserLoggedIn",
        actor,
    );
    let ip = actor.ip.clone().unwrap_or_default();
    m.insert("ClientIP".into(), json!(ip));
    m.insert(
        "ObjectId".into(),
        json!("00000002-0000-0ff1-ce00-000000000000"),
    );
    m.insert("UserId".into(), json!(actor.upn));
    m.insert("AzureActiveDirectoryEventType".into(), json!(1));
    m.insert("ActorContextId".into(), json!(s.tenant_id));
    m.insert("ActorIpAddress".into(), json!(ip));
    m.insert(
        "ApplicationId".into(),
        json!("00000002-0000-0ff1-ce00-000000000000"),
    );
    m.insert("DeviceProperties".into(), json!([{"Name": "OS", "Value": "Windows10"}, {"Name": "BrowserType", "Value": "Edge"}, {"Name": "SessionId", "Value": rng.guid()}]));
    m.insert("ErrorNumber".into(), json!("0"));
    m
}

/// A stable fake on-prem-synced SID for an account name.
pub fn sid_for(account: &str) -> String {
    let h = account.to_lowercase().bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!(
        "S-1-5-21-3623811015-3361044348-30300820-{}",
        1100 + (h % 50_000)
    )
}

/// A GUID derived from a name (the same mailbox always has the same `MailboxGuid`).
pub fn stable_guid(name: &str) -> String {
    let h = name
        .to_lowercase()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    Rng::new(h).guid()
}

/// Who acts in an AzureActiveDirectory record.
#[derive(Debug, Clone)]
pub enum AadActor<'a> {
    /// A user (UPN, `UserType`, home tenant, IP).
    User(&'a Actor),
    /// A service principal of a (first-party) app in the customer tenant: app id,
    /// display name, service-principal object id.
    App(&'a str, &'a str, &'a str),
}

/// One target of an AzureActiveDirectory record: `Target[]` entries (`ID`, `Type`).
pub type AadTarget<'a> = (&'a str, u8);

/// An AzureActiveDirectory (RecordType 8) directory record by a user or by a service
/// principal, with the modified properties given exactly as the UAL writes them
/// (`NewValue` / `OldValue` already JSON encoded: `"[\"9a8b…\"]"`, `"[true]"`, `"[]"`).
///
/// Service-principal actors follow the documented shape: `UserId`
/// `ServicePrincipal_<objectId>`, `UserKey` `Not Available`, `UserType` 4, the app id in
/// `Actor[]` (Type 2) and in `ExtendedProperties` (`actorAppID`), no client address.
#[allow(clippy::too_many_arguments)]
pub fn aad_directory(
    rng: &mut Rng,
    s: &Scenario,
    time: Timestamp,
    actor: &AadActor<'_>,
    operation: &str,
    object: &str,
    targets: &[AadTarget<'_>],
    target_context: &str,
    modified: &[(&str, &str, &str)],
) -> Map<String, Value> {
    let (upn, user_key_value, kind_user_type, actors, context, ip, app_id) = match actor {
        AadActor::User(a) => (
            a.upn.clone(),
            user_key(a),
            // Admins acting in Entra are logged as UserType 0 (schema doc note).
            0u8,
            json!([{"ID": a.upn, "Type": 5}, {"ID": user_key(a), "Type": 3}, {"ID": "User", "Type": 2}]),
            a.home_tenant.clone().unwrap_or_else(|| s.tenant_id.clone()),
            a.ip.clone(),
            None,
        ),
        AadActor::App(app_id, name, object_id) => (
            format!("ServicePrincipal_{object_id}"),
            "Not Available".to_string(),
            4u8,
            json!([{"ID": name, "Type": 1}, {"ID": app_id, "Type": 2}, {"ID": format!("ServicePrincipal_{object_id}"), "Type": 2}, {"ID": "ServicePrincipal", "Type": 2}]),
            s.tenant_id.clone(),
            None,
            Some(*app_id),
        ),
    };
    let who = Actor {
        upn: upn.clone(),
        user_type: kind_user_type,
        home_tenant: None,
        ip: None,
    };
    let mut m = base(
        rng,
        s,
        time,
        (8, "AzureActiveDirectory", "Success"),
        operation,
        &who,
    );
    m.insert("UserKey".into(), json!(user_key_value));
    m.insert("ObjectId".into(), json!(object));
    m.insert("UserId".into(), json!(upn));
    m.insert("AzureActiveDirectoryEventType".into(), json!(1));
    let mut extended = vec![
        json!({"Name": "additionalDetails", "Value": "{}"}),
        json!({"Name": "extendedAuditEventCategory", "Value": "Policy"}),
    ];
    if let Some(app) = app_id {
        extended.push(json!({"Name": "actorAppID", "Value": app}));
    }
    m.insert("ExtendedProperties".into(), Value::Array(extended));
    let props: Vec<Value> = modified
        .iter()
        .map(|(n, new, old)| json!({"Name": n, "NewValue": new, "OldValue": old}))
        .collect();
    m.insert("ModifiedProperties".into(), Value::Array(props));
    m.insert("Actor".into(), actors);
    m.insert("ActorContextId".into(), json!(context));
    if let Some(ip) = &ip {
        m.insert("ActorIpAddress".into(), json!(ip));
        m.insert("ClientIP".into(), json!(ip));
    }
    m.insert("InterSystemsId".into(), json!(rng.guid()));
    m.insert("IntraSystemId".into(), json!(rng.guid()));
    m.insert("SupportTicketId".into(), json!(""));
    let targets: Vec<Value> = targets
        .iter()
        .map(|(id, kind)| json!({"ID": id, "Type": kind}))
        .collect();
    m.insert("Target".into(), Value::Array(targets));
    m.insert("TargetContextId".into(), json!(target_context));
    m
}
