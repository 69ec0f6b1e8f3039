//! The planted attack chains, step by step, as records in their canonical shapes.
//!
//! * AN1350: (1) partner relationship (UAL `Add partner to company.`, Entra
//!   `Add partner to company`, GDAP `Add member to role` and cross-tenant access update
//!   by the partner service principals) → (2) mailbox delegation by the partner
//!   technician (ExchangeAdmin, UserType 9, ExternalAccess true) → (3) access from the
//!   partner IP (`serviceProvider` sign-in, `MailItemsAccessed` LogonType 6).
//! * AN1052: Exchange PowerShell on a workstation (4688 / Sysmon 1 / 4104 / 4103), the
//!   ExchangeAdmin record of the same change minutes later, then use by the trustee.
//! * AN1051: folder / calendar delegation in the unified audit log.
//! * AN1347: partner sign-ins without MFA and a Global Administrator role assignment by
//!   the GDAP service principal.

use crate::entra::{
    GDAP_APP, GDAP_OFFLINE_APP, Initiator, SignIn, directory_audit, directory_audit_raw, sign_in,
};
use crate::record::{Body, Record};
use crate::rng::Rng;
use crate::scenario::Scenario;
use crate::ual::{
    AadActor, Actor, MailboxAction, aad, aad_directory, exchange_admin, exchange_object,
    mail_items_accessed, mailbox_item, user_type,
};
use crate::windows::{
    HostUser, ProcessStart, module_logging, powershell_image, process_4688, script_block, sysmon_1,
};
use jiff::{SignedDuration, Timestamp};

/// How an AN1052 chain looks on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsVariant {
    /// Plain command line and single-part script block; host events only.
    Plain,
    /// Backticks, odd case, abbreviated parameter, splatting, a 2-part script block,
    /// launched from Word; host events only.
    Obfuscated,
    /// Plain host events plus the ExchangeAdmin record of the same change and the
    /// trustee's follow-on `SendAs` and `MailItemsAccessed`.
    WithExchange,
}

/// Collects the records of one chain.
pub(crate) struct Chain<'a> {
    pub rng: &'a mut Rng,
    pub s: &'a Scenario,
    pub plant: Option<usize>,
    pub records: Vec<Record>,
}

impl<'a> Chain<'a> {
    pub fn new(rng: &'a mut Rng, s: &'a Scenario, plant: Option<usize>) -> Self {
        Chain {
            rng,
            s,
            plant,
            records: Vec::new(),
        }
    }

    fn push(&mut self, time: Timestamp, step: &str, body: Body) {
        self.records.push(Record {
            time,
            step: step.to_string(),
            plant: self.plant,
            body,
        });
    }

    /// `start + minutes` plus a few random seconds.
    fn at(&mut self, minutes: i64) -> Timestamp {
        let jitter = self.rng.range(0, 59);
        self.s.start + SignedDuration::from_secs(minutes * 60 + jitter)
    }

    fn partner_ip(&mut self, i: usize) -> String {
        let ips = &self.s.partner.ips;
        ips.get(i % ips.len().max(1))
            .cloned()
            .unwrap_or_else(|| "203.0.113.45".into())
    }
}

/// AN1350. `all_delegations`: all four delegation cmdlets (else only
/// Add-MailboxPermission); `relationship`: step 1; `access`: step 3.
pub(crate) fn an1350(c: &mut Chain<'_>, relationship: bool, all_delegations: bool, access: bool) {
    let s = c.s;
    let ip = c.partner_ip(0);
    let tech = Actor::partner(s, &ip);
    let partner = &s.partner;
    if relationship {
        let t = c.at(0);
        let body = aad(
            c.rng,
            s,
            t,
            &tech,
            "Add partner to company.",
            &partner.name,
            &[
                ("Partner.TenantId", &partner.tenant_id),
                ("Partner.Type", "Reseller"),
            ],
        );
        c.push(
            t,
            "AN1350 step 1: Add partner to company. (UAL)",
            Body::Ual(body),
        );
        let t = c.at(1);
        let body = directory_audit(
            c.rng,
            t,
            "DirectoryManagement",
            "Add partner to company",
            "Add",
            &Initiator::User(&partner.technician, &partner.tenant_id, &ip),
            &[(
                "Other",
                &partner.name,
                &partner.tenant_id,
                vec![("PartnerTenantId", &partner.tenant_id)],
            )],
        );
        c.push(
            t,
            "AN1350 step 1: Add partner to company (Entra)",
            Body::DirectoryAudit(body),
        );
        // The target is the policy object; the partner tenant is in the modified
        // properties (Entra writes `newValue` JSON-encoded).
        let t = c.at(6);
        let policy = c.rng.guid();
        let tenant = serde_json::Value::String(partner.tenant_id.clone()).to_string();
        let body = directory_audit_raw(
            c.rng,
            t,
            "CrossTenantAccessSettings",
            "Update a partner cross-tenant access setting",
            "Update",
            &Initiator::App(GDAP_APP, GDAP_APP_NAME),
            &[(
                "Policy",
                "",
                &policy,
                vec![("tenantId", &tenant), ("isServiceProvider", "true")],
            )],
        );
        c.push(
            t,
            "AN1350 step 1: cross-tenant access (service provider) set by GDAP",
            Body::DirectoryAudit(body),
        );
        let group = format!("{} Admin Agents", partner.name);
        let group_id = c.rng.guid();
        let t = c.at(8);
        let body = directory_audit(
            c.rng,
            t,
            "RoleManagement",
            "Add member to role",
            "Assign",
            &Initiator::App(
                GDAP_OFFLINE_APP,
                "Partner Customer Delegated Admin Offline Processor",
            ),
            &[
                (
                    "Role",
                    "Exchange Administrator",
                    "29232cdf-9323-42fd-ade2-1d097af3e4de",
                    vec![("Role.DisplayName", "Exchange Administrator")],
                ),
                ("Group", &group, &group_id, vec![]),
            ],
        );
        c.push(
            t,
            "AN1350 step 1: Add member to role (GDAP access assignment)",
            Body::DirectoryAudit(body),
        );
    }
    delegations(c, &tech, all_delegations);
    if access {
        partner_access(c, &tech, &ip);
    }
}

/// Display name of [`GDAP_APP`].
const GDAP_APP_NAME: &str = "Partner Customer Delegated Administration";
/// Display name of [`GDAP_OFFLINE_APP`].
const GDAP_OFFLINE_APP_NAME: &str = "Partner Customer Delegated Admin Offline Processor";

/// AN1350 over GDAP only (no DAP `Add partner to company`): (1) the customer-side GDAP
/// evidence in the unified audit log (AzureActiveDirectory workload: `Add service
/// principal.` of the partner first-party app, `Add a partner to cross-tenant access
/// setting.` with the partner tenant in `ModifiedProperties` as a JSON-encoded list, `Add
/// member to role.` of the partner's group by the offline processor) and the same three
/// activities in the Entra directory audit; (2) FullAccess for the technician
/// (`UserType` 9); (3) two failed `serviceProvider` sign-ins (tagged `failed_tag`: they
/// are look-alikes, not access), then a successful one and `MailItemsAccessed`
/// (LogonType 6) from the partner IP.
pub(crate) fn an1350_gdap(c: &mut Chain<'_>, failed_tag: Option<usize>) {
    let s = c.s;
    let partner = &s.partner;
    let ip = c.partner_ip(0);
    let tech = Actor::partner(s, &ip);
    let gdap_sp = c.rng.guid();
    let offline_sp = c.rng.guid();
    let policy = c.rng.guid();
    let group_id = c.rng.guid();
    let role_object = c.rng.guid();
    let group = format!("{} Admin Agents", partner.name);
    let exchange_admin_role = "29232cdf-9323-42fd-ade2-1d097af3e4de";
    let gdap = AadActor::App(GDAP_APP, GDAP_APP_NAME, &gdap_sp);
    let offline = AadActor::App(GDAP_OFFLINE_APP, GDAP_OFFLINE_APP_NAME, &offline_sp);
    let listed = |v: &str| format!("[\"{v}\"]");

    // Unified audit log, AzureActiveDirectory workload.
    let t = c.at(0);
    let body = aad_directory(
        c.rng,
        s,
        t,
        &gdap,
        "Add service principal.",
        GDAP_OFFLINE_APP,
        &[
            (&offline_sp, 2),
            (GDAP_OFFLINE_APP_NAME, 1),
            (GDAP_OFFLINE_APP, 2),
        ],
        &s.tenant_id,
        &[
            ("AccountEnabled", "[true]", "[]"),
            ("AppPrincipalId", &listed(GDAP_OFFLINE_APP), "[]"),
            ("DisplayName", &listed(GDAP_OFFLINE_APP_NAME), "[]"),
            ("ServicePrincipalName", &listed(GDAP_OFFLINE_APP), "[]"),
        ],
    );
    c.push(
        t,
        "AN1350 step 1 (GDAP): Add service principal. of the partner first-party app (UAL)",
        Body::Ual(body),
    );
    let t = c.at(1);
    let body = aad_directory(
        c.rng,
        s,
        t,
        &gdap,
        "Add a partner to cross-tenant access setting.",
        &policy,
        &[(&policy, 2), ("CrossTenantAccessPolicy", 1)],
        &s.tenant_id,
        &[
            ("tenantId", &listed(&partner.tenant_id), "[]"),
            ("isServiceProvider", "[true]", "[]"),
        ],
    );
    c.push(
        t,
        "AN1350 step 1 (GDAP): Add a partner to cross-tenant access setting. (UAL)",
        Body::Ual(body),
    );
    let t = c.at(3);
    let body = aad_directory(
        c.rng,
        s,
        t,
        &offline,
        "Add member to role.",
        &group_id,
        &[(&group_id, 2), (&group, 1), ("Group", 2)],
        &partner.tenant_id,
        &[
            ("Role.ObjectID", &role_object, ""),
            ("Role.DisplayName", "Exchange Administrator", ""),
            ("Role.TemplateId", exchange_admin_role, ""),
            (
                "Role.WellKnownObjectName",
                "ExchangeServiceAdministrator",
                "",
            ),
        ],
    );
    c.push(
        t,
        "AN1350 step 1 (GDAP): Add member to role. by the offline processor (UAL)",
        Body::Ual(body),
    );

    // The same activities in the Entra directory audit.
    let gdap_init = Initiator::App(GDAP_APP, GDAP_APP_NAME);
    let t = c.at(0);
    let body = directory_audit_raw(
        c.rng,
        t,
        "ApplicationManagement",
        "Add service principal",
        "Add",
        &gdap_init,
        &[(
            "ServicePrincipal",
            GDAP_OFFLINE_APP_NAME,
            &offline_sp,
            vec![
                ("AccountEnabled", "[true]"),
                ("AppPrincipalId", &listed(GDAP_OFFLINE_APP)),
                ("DisplayName", &listed(GDAP_OFFLINE_APP_NAME)),
                ("ServicePrincipalName", &listed(GDAP_OFFLINE_APP)),
            ],
        )],
    );
    c.push(
        t,
        "AN1350 step 1 (GDAP): Add service principal (Entra)",
        Body::DirectoryAudit(body),
    );
    let t = c.at(1);
    let quoted = serde_json::Value::String(partner.tenant_id.clone()).to_string();
    let body = directory_audit_raw(
        c.rng,
        t,
        "CrossTenantAccessSettings",
        "Add a partner to cross-tenant access setting",
        "Add",
        &gdap_init,
        &[(
            "Policy",
            "",
            &policy,
            vec![("tenantId", &quoted), ("isServiceProvider", "true")],
        )],
    );
    c.push(
        t,
        "AN1350 step 1 (GDAP): Add a partner to cross-tenant access setting (Entra)",
        Body::DirectoryAudit(body),
    );
    let t = c.at(3);
    let body = directory_audit(
        c.rng,
        t,
        "RoleManagement",
        "Add member to role",
        "Assign",
        &Initiator::App(GDAP_OFFLINE_APP, GDAP_OFFLINE_APP_NAME),
        &[
            (
                "Role",
                "Exchange Administrator",
                &role_object,
                vec![
                    ("Role.DisplayName", "Exchange Administrator"),
                    ("Role.TemplateId", exchange_admin_role),
                ],
            ),
            ("Group", &group, &group_id, vec![]),
        ],
    );
    c.push(
        t,
        "AN1350 step 1 (GDAP): Add member to role by the offline processor (Entra)",
        Body::DirectoryAudit(body),
    );

    // Failed sign-ins of the technician before the delegation: look-alikes of access.
    let plant = c.plant;
    c.plant = failed_tag;
    for minutes in [40, 43] {
        let t = c.at(minutes);
        let body = sign_in(
            c.rng,
            s,
            t,
            &SignIn {
                upn: &partner.technician,
                home_tenant: &partner.tenant_id,
                ip: &ip,
                cross_tenant: "serviceProvider",
                auth_requirement: "multiFactorAuthentication",
                app: crate::entra::APPS[0],
                interactive: true,
                error_code: 50126,
            },
        );
        c.push(
            t,
            "look-alike: failed serviceProvider sign-in of the partner technician",
            Body::SignIn(body),
        );
    }
    c.plant = plant;
    delegations(c, &tech, false);
    partner_access(c, &tech, &ip);
}

fn delegations(c: &mut Chain<'_>, tech: &Actor, all: bool) {
    let s = c.s;
    let (mailbox, trustee) = (s.mailbox.as_str(), s.trustee.as_str());
    let object = exchange_object(s, mailbox);
    let t = c.at(55);
    let body = exchange_admin(
        c.rng,
        s,
        t,
        tech,
        "Add-MailboxPermission",
        &[
            ("Identity", mailbox),
            ("User", trustee),
            ("AccessRights", "FullAccess"),
            ("InheritanceType", "All"),
            ("AutoMapping", "False"),
        ],
        &object,
    );
    c.push(
        t,
        "AN1350 step 2: Add-MailboxPermission FullAccess",
        Body::Ual(body),
    );
    if !all {
        return;
    }
    let t = c.at(57);
    let body = exchange_admin(
        c.rng,
        s,
        t,
        tech,
        "Add-RecipientPermission",
        &[
            ("Identity", mailbox),
            ("Trustee", trustee),
            ("AccessRights", "SendAs"),
            ("Confirm", "False"),
        ],
        &object,
    );
    c.push(
        t,
        "AN1350 step 2: Add-RecipientPermission SendAs",
        Body::Ual(body),
    );
    let t = c.at(58);
    let body = exchange_admin(
        c.rng,
        s,
        t,
        tech,
        "Set-Mailbox",
        &[("Identity", mailbox), ("GrantSendOnBehalfTo", trustee)],
        &object,
    );
    c.push(
        t,
        "AN1350 step 2: Set-Mailbox -GrantSendOnBehalfTo",
        Body::Ual(body),
    );
    let t = c.at(61);
    let name = format!(
        "EWS-Impersonation-{}",
        trustee.split('@').next().unwrap_or(trustee)
    );
    let body = exchange_admin(
        c.rng,
        s,
        t,
        tech,
        "New-ManagementRoleAssignment",
        &[
            ("Name", &name),
            ("Role", "ApplicationImpersonation"),
            ("User", trustee),
        ],
        &format!("ApplicationImpersonation\\{name}"),
    );
    c.push(
        t,
        "AN1350 step 2: New-ManagementRoleAssignment ApplicationImpersonation",
        Body::Ual(body),
    );
}

fn partner_access(c: &mut Chain<'_>, tech: &Actor, ip: &str) {
    let s = c.s;
    let t = c.at(140);
    let body = sign_in(
        c.rng,
        s,
        t,
        &SignIn {
            upn: &s.partner.technician,
            home_tenant: &s.partner.tenant_id,
            ip,
            cross_tenant: "serviceProvider",
            auth_requirement: "multiFactorAuthentication",
            app: (
                "Office 365 Exchange Online",
                "00000002-0000-0ff1-ce00-000000000000",
            ),
            interactive: true,
            error_code: 0,
        },
    );
    c.push(
        t,
        "AN1350 step 3: serviceProvider sign-in from the partner IP",
        Body::SignIn(body),
    );
    for (i, minutes) in [146, 171].into_iter().enumerate() {
        let t = c.at(minutes);
        let body = mail_items_accessed(c.rng, s, t, tech, &s.mailbox, 6, 35 + 20 * i as u32);
        c.push(
            t,
            "AN1350 step 3: MailItemsAccessed LogonType 6 from the partner IP",
            Body::Ual(body),
        );
    }
}

/// AN1052: Exchange PowerShell on a workstation.
pub(crate) fn an1052(c: &mut Chain<'_>, variant: PsVariant) {
    let s = c.s;
    let computer = format!("{}.{}.local", s.host, s.netbios.to_lowercase());
    let sid = crate::ual::sid_for(&s.user);
    let user = HostUser {
        sid: &sid,
        domain: &s.netbios,
        name: s.user_sam(),
    };
    let (mailbox, trustee) = (s.mailbox.as_str(), s.trustee.as_str());
    let plain = format!(
        "Add-MailboxPermission -Identity {mailbox} -User {trustee} -AccessRights FullAccess"
    );
    let (command_line, parent, parent_cmd) = match variant {
        PsVariant::Obfuscated => (
            format!("powershell.exe -nop -w hidden -c \"$p=@{{Identity='{mailbox}';User='{trustee}';Acc='FullAccess'}}; aDd-MaIlBoXpErMiSsIoN @p\""),
            "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
            "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE\" /n \"C:\\Users\\Public\\Invoice_0325.docm\"".to_string(),
        ),
        _ => (
            format!("powershell.exe -c \"{plain}\""),
            "C:\\Windows\\System32\\cmd.exe",
            "\"C:\\Windows\\System32\\cmd.exe\" ".to_string(),
        ),
    };
    let pid = 4000 + c.rng.below(4000) as u32;
    let parent_pid = pid - 12 - c.rng.below(300) as u32;
    let start = ProcessStart {
        computer: &computer,
        user: user.clone(),
        image: powershell_image(),
        command_line: &command_line,
        parent_image: parent,
        parent_command_line: &parent_cmd,
        pid,
        parent_pid,
    };
    let t = c.at(0);
    c.push(
        t,
        "AN1052: 4688 powershell.exe with the cmdlet on the command line",
        Body::Windows(process_4688(&start)),
    );
    let seed = c.rng.next_u64();
    c.push(
        t,
        "AN1052: Sysmon 1 powershell.exe with the cmdlet on the command line",
        Body::Windows(sysmon_1(&start, t, seed)),
    );
    let block_id = c.rng.guid();
    let t = c.at(1);
    match variant {
        PsVariant::Obfuscated => {
            let part1 = format!(
                "Import-Module ExchangeOnlineManagement; Connect-ExchangeOnline -UserPrincipalName {} -ShowBanner:$false\n$p=@{{Identity='{mailbox}';User='{trustee}';Acc='FullAccess'}}\nA`dd-Mail",
                s.user
            );
            let part2 = "box`Permission @p -Confirm:$false\naDd-MaIlBoXpErMiSsIoN -Identity "
                .to_string()
                + mailbox
                + " -User "
                + trustee
                + " -Acc FullAccess";
            c.push(
                t,
                "AN1052: 4104 script block part 1 of 2 (obfuscated)",
                Body::Windows(script_block(
                    &computer,
                    &user,
                    &part1,
                    (1, 2),
                    &block_id,
                    pid,
                )),
            );
            c.push(
                t,
                "AN1052: 4104 script block part 2 of 2 (obfuscated)",
                Body::Windows(script_block(
                    &computer,
                    &user,
                    &part2,
                    (2, 2),
                    &block_id,
                    pid,
                )),
            );
        }
        _ => {
            c.push(
                t,
                "AN1052: 4104 script block with Add-MailboxPermission",
                Body::Windows(script_block(
                    &computer,
                    &user,
                    &plain,
                    (1, 1),
                    &block_id,
                    pid,
                )),
            );
        }
    }
    let runspace = c.rng.guid();
    let t = c.at(2);
    let binding = [
        ("Identity", mailbox),
        ("User", trustee),
        ("AccessRights", "FullAccess"),
    ];
    c.push(
        t,
        "AN1052: 4103 CommandInvocation(Add-MailboxPermission)",
        Body::Windows(module_logging(
            &computer,
            &user,
            "Add-MailboxPermission",
            &binding,
            pid,
            &runspace,
        )),
    );
    if variant == PsVariant::WithExchange {
        exchange_side(c, &binding);
    }
}

fn exchange_side(c: &mut Chain<'_>, binding: &[(&str, &str)]) {
    let s = c.s;
    let actor = Actor::user(&s.user, user_type::REGULAR, "198.18.10.24");
    let t = c.at(6);
    let body = exchange_admin(
        c.rng,
        s,
        t,
        &actor,
        "Add-MailboxPermission",
        binding,
        &exchange_object(s, &s.mailbox),
    );
    c.push(
        t,
        "AN1052: ExchangeAdmin Add-MailboxPermission (same change)",
        Body::Ual(body),
    );
    let trustee = Actor::user(&s.trustee, user_type::REGULAR, "198.18.10.61");
    let t = c.at(24);
    let send_as = MailboxAction {
        operation: "SendAs",
        owner: &s.mailbox,
        logon_type: 2,
        folder: None,
        member: None,
        subject: Some("Urgent: updated wire instructions"),
    };
    let body = mailbox_item(c.rng, s, t, &trustee, &send_as);
    c.push(t, "AN1052: SendAs by the new trustee", Body::Ual(body));
    let t = c.at(31);
    let body = mail_items_accessed(c.rng, s, t, &trustee, &s.mailbox, 2, 60);
    c.push(
        t,
        "AN1052: MailItemsAccessed by the new trustee",
        Body::Ual(body),
    );
}

/// AN1051: delegate / folder permissions in the unified audit log.
pub(crate) fn an1051(c: &mut Chain<'_>) {
    let s = c.s;
    let owner = Actor::user(&s.mailbox, user_type::REGULAR, "198.18.10.33");
    let steps = [
        (
            "AddFolderPermissions",
            "\\Inbox",
            "Editor",
            "AN1051: AddFolderPermissions on \\Inbox",
        ),
        (
            "UpdateFolderPermissions",
            "\\Inbox",
            "Owner",
            "AN1051: UpdateFolderPermissions on \\Inbox",
        ),
        (
            "UpdateCalendarDelegation",
            "\\Calendar",
            "Delegate",
            "AN1051: UpdateCalendarDelegation",
        ),
    ];
    for (i, (operation, folder, rights, step)) in steps.into_iter().enumerate() {
        let t = c.at(i as i64 * 3);
        let action = MailboxAction {
            operation,
            owner: &s.mailbox,
            logon_type: 0,
            folder: Some(folder),
            member: Some((&s.trustee, rights)),
            subject: None,
        };
        let body = mailbox_item(c.rng, s, t, &owner, &action);
        c.push(t, step, Body::Ual(body));
    }
    let admin = Actor::user(&s.user, user_type::REGULAR, "198.18.10.24");
    let t = c.at(12);
    let identity = format!("{}:\\Inbox", s.mailbox);
    let body = exchange_admin(
        c.rng,
        s,
        t,
        &admin,
        "Add-MailboxFolderPermission",
        &[
            ("Identity", &identity),
            ("User", &s.trustee),
            ("AccessRights", "PublishingEditor"),
        ],
        &exchange_object(s, &s.mailbox),
    );
    c.push(
        t,
        "AN1051: Add-MailboxFolderPermission PublishingEditor on Inbox",
        Body::Ual(body),
    );
}

/// AN1347: untrusted partner sign-ins without MFA and a Global Administrator assignment.
pub(crate) fn an1347(c: &mut Chain<'_>) {
    let s = c.s;
    let partner = &s.partner;
    let group = format!("{} Admin Agents", partner.name);
    let group_id = c.rng.guid();
    let t = c.at(0);
    let body = directory_audit(
        c.rng,
        t,
        "RoleManagement",
        "Add member to role",
        "Assign",
        &Initiator::App(GDAP_APP, "Partner Customer Delegated Administration"),
        &[
            (
                "Role",
                "Global Administrator",
                "62e90394-69f5-4237-9190-012177145e10",
                vec![("Role.DisplayName", "Global Administrator")],
            ),
            ("Group", &group, &group_id, vec![]),
        ],
    );
    c.push(
        t,
        "AN1347: Add member to role Global Administrator by the GDAP service principal",
        Body::DirectoryAudit(body),
    );
    for (i, minutes) in [35, 80, 190].into_iter().enumerate() {
        let ip = c.partner_ip(i);
        let t = c.at(minutes);
        let app = crate::entra::APPS[i % crate::entra::APPS.len()];
        let body = sign_in(
            c.rng,
            s,
            t,
            &SignIn {
                upn: &partner.technician,
                home_tenant: &partner.tenant_id,
                ip: &ip,
                cross_tenant: "serviceProvider",
                auth_requirement: "singleFactorAuthentication",
                app,
                interactive: i != 1,
                error_code: 0,
            },
        );
        c.push(
            t,
            "AN1347: serviceProvider sign-in without MFA from an untrusted partner",
            Body::SignIn(body),
        );
    }
}
