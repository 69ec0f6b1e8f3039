//! Who is who in a simulated tenant: the customer, the partner, the target mailbox.

use jiff::Timestamp;

/// A partner (CSP / MSP) tenant acting in the customer tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerSpec {
    /// Display name (`Fabrikam Managed Services`).
    pub name: String,
    /// The partner's tenant id.
    pub tenant_id: String,
    /// The partner's domain (technician UPNs live here).
    pub domain: String,
    /// Addresses the technicians work from.
    pub ips: Vec<String>,
    /// The technician's UPN in the partner tenant.
    pub technician: String,
}

/// One customer tenant and the people an attack chain involves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// Customer tenant id.
    pub tenant_id: String,
    /// Customer mail domain (`contoso.com`).
    pub domain: String,
    /// Customer `*.onmicrosoft.com` organisation name.
    pub org_name: String,
    /// NetBIOS domain for Windows accounts (`CONTOSO`).
    pub netbios: String,
    /// The partner that acts (AN1350 / AN1347).
    pub partner: PartnerSpec,
    /// The mailbox the chain targets.
    pub mailbox: String,
    /// Who receives the permission.
    pub trustee: String,
    /// The internal (non-admin) user who runs Exchange PowerShell (AN1052) or shares a
    /// folder (AN1051).
    pub user: String,
    /// The user's workstation (AN1052).
    pub host: String,
    /// When the chain starts.
    pub start: Timestamp,
    /// Seed of every random value (GUIDs, ports, jitter).
    pub seed: u64,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            tenant_id: "6f1c3b2a-9d4e-4c1b-8a7f-2e5d0c9b1a34".into(),
            domain: "contoso.com".into(),
            org_name: "contoso.onmicrosoft.com".into(),
            netbios: "CONTOSO".into(),
            partner: PartnerSpec {
                name: "Fabrikam Managed Services".into(),
                tenant_id: "c0ffee00-1b2c-4d3e-9f40-5a6b7c8d9e0f".into(),
                domain: "fabrikam-msp.com".into(),
                ips: vec!["203.0.113.45".into(), "203.0.113.77".into()],
                technician: "tech.ops@fabrikam-msp.com".into(),
            },
            mailbox: "ceo@contoso.com".into(),
            trustee: "svc-archive@contoso.com".into(),
            user: "jdoe@contoso.com".into(),
            host: "WS-FIN-07".into(),
            start: Timestamp::from_second(1_741_251_600).unwrap_or(Timestamp::UNIX_EPOCH), // 2025-03-06T09:00:00Z
            seed: 0x7157_7A7E,
        }
    }
}

impl Scenario {
    /// The `sAMAccountName` part of the user (`jdoe`).
    pub fn user_sam(&self) -> &str {
        self.user.split('@').next().unwrap_or(&self.user)
    }

    /// `CONTOSO\jdoe`.
    pub fn user_domain_account(&self) -> String {
        format!("{}\\{}", self.netbios, self.user_sam())
    }
}
