//! Unified audit log enums that exports write as numbers (the Management Activity API)
//! or as names (Sentinel `OfficeActivity`): index = number.

/// `UserType` (schema doc "Enum: User Type"), by Sentinel's names; 9 is a GDAP partner
/// technician.
pub const USER_TYPES: [&str; 11] = [
    "Regular",
    "Reserved",
    "Admin",
    "DcAdmin",
    "System",
    "Application",
    "ServicePrincipal",
    "CustomPolicy",
    "SystemPolicy",
    "PartnerTechnician",
    "Guest",
];

/// Exchange mailbox `LogonType`, by Sentinel's names; 6 is a delegated admin.
pub const LOGON_TYPES: [&str; 7] = [
    "Owner",
    "Admin",
    "Delegated",
    "Transport",
    "SystemService",
    "BestAccess",
    "DelegatedAdmin",
];
