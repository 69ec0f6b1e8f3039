#!/usr/bin/env python3
"""Independent synthetic corpus for trustpath (AN1350, AN1052, AN1051, AN1347).

Deterministic (fixed seeds), standard library only.  Writes three tenant folders
and ground-truth.json next to this script:

    python3 generate.py

Record shapes follow Microsoft's documented schemas (see README.md); nothing here
was derived from the trustpath engine or its fixtures.
"""
import base64
import csv
import io
import json
import os
import random
import uuid
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
UTC = timezone.utc

# Well-known first-party apps / role templates (see README for sources)
APP_PCDA = ("2832473f-ec63-45fb-976f-5d45a7d4bb91", "Partner Customer Delegated Administration")
APP_OFFLINE = ("a3475900-ccec-4a69-98f5-a65cd5dc5306", "Partner Customer Delegated Admin Offline Processor")
EXO_APP = "00000002-0000-0ff1-ce00-000000000000"
GRAPH_APP = "00000003-0000-0000-c000-000000000000"
EXO_PS_APP = ("fb78d390-0c51-40cd-8e17-fdbfab77341b", "Microsoft Exchange REST API Based Powershell")
OUTLOOK_APP = ("5d661950-3475-41cd-a2c3-d671a3162bc1", "Outlook Mobile")
OWA_APP = ("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online")
PC_APP = ("fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd", "Partner Center")
ROLES = {
    "Exchange Administrator": ("29232cdf-9323-42fd-ade2-1d097af3e4de", "ExchangeServiceAdmins"),
    "Helpdesk Administrator": ("729827e3-9c14-49f7-bb1b-9608f156bbb8", "HelpdeskAdmins"),
    "Global Administrator": ("62e90394-69f5-4237-9190-012177145e10", "TenantAdmins"),
    "User Administrator": ("fe930be7-5e62-47db-91af-98c3a49a38b1", "UserAccountAdmins"),
}


def dt(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


class Gen:
    """Per-tenant deterministic id/record factory."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.rec = 1000 + seed % 1000

    def guid(self):
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def hexid(self, n):
        return "".join(self.r.choice("0123456789ABCDEF") for _ in range(n))

    def pick(self, seq):
        return self.r.choice(seq)

    def port(self):
        return self.r.randint(49152, 65000)

    def sid(self, rid=None):
        return "S-1-5-21-3623811015-3361044348-30300820-%d" % (rid or self.r.randint(1100, 9000))


# ----------------------------------------------------------------------------
# Unified audit log (Office 365 Management Activity API) records
# ----------------------------------------------------------------------------

def ual_time(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def ual_exchange_admin(g, t, org, orgname, op, user, params, *, user_type=2, result="True",
                       external=False, ip=None, token_tenant=None, object_id=None):
    ident = next((p["Value"] for p in params if p["Name"] == "Identity"), "")
    rec = {
        "CreationTime": ual_time(t), "Id": g.guid(), "Operation": op, "OrganizationId": org,
        "RecordType": 1, "ResultStatus": result,
        "UserKey": user if user_type in (3, 4) else "1003" + g.hexid(12),
        "UserType": user_type, "Version": 1, "Workload": "Exchange",
        "ObjectId": object_id if object_id is not None else ident,
        "UserId": user, "AppId": "" if user_type == 3 else EXO_PS_APP[0], "ClientAppId": "",
        "ExternalAccess": external, "OrganizationName": orgname,
        "OriginatingServer": "%sPR%02dMB%04d (15.20.%d.%03d)\r\n" % (g.pick(["AM", "DB", "CH3", "BN9"]), g.r.randint(1, 9), g.r.randint(1000, 9999), g.r.randint(7000, 8999), g.r.randint(1, 40)),
        "Parameters": params,
    }
    if user_type not in (3, 4):
        rec["SessionId"] = g.guid()
        rec["AppAccessContext"] = {"IssuedAtTime": ual_time(t - timedelta(minutes=g.r.randint(2, 40))), "UniqueTokenId": g.hexid(22)}
        if ip:
            rec["ClientIP"] = "%s:%d" % (ip, g.port())
        rec["TokenObjectId"] = g.guid()
        rec["TokenTenantId"] = token_tenant or org
    else:
        rec["AppAccessContext"] = {"UniqueTokenId": ""}
    return rec


def P(**kw):
    return [{"Name": k, "Value": v} for k, v in kw.items()]


def ual_mail_items_accessed(g, t, org, orgname, user, owner, ip, *, logon_type=0, user_type=0,
                            external=False, ext_tenant=None, token_tenant=None, folders=("\\Inbox",),
                            client="Client=OWA;Action=ViewInbox;", access="Bind", nitems=None):
    fl = []
    total = 0
    for f in folders:
        n = nitems or g.r.randint(1, 6)
        total += n
        fl.append({"FolderItems": [{"InternetMessageId": "<%s@%s.prod.outlook.com>" % (g.hexid(16).lower(), g.pick(["AM6PR04MB", "DB9PR02MB", "CH2PR11MB"]) + str(g.r.randint(1000, 9999))), "SizeInBytes": g.r.randint(4000, 220000)} for _ in range(n)],
                   "Id": "LgAAAAA" + g.hexid(40), "Path": f})
    rec = {
        "CreationTime": ual_time(t), "Id": g.guid(), "Operation": "MailItemsAccessed", "OrganizationId": org,
        "RecordType": 50, "ResultStatus": "Succeeded", "UserKey": "1003" + g.hexid(12), "UserType": user_type,
        "Version": 1, "Workload": "Exchange", "UserId": user, "AppId": OWA_APP[0], "ClientAppId": "",
        "ClientIPAddress": ip, "ClientInfoString": client, "ExternalAccess": external,
        "InternalLogonType": 0, "LogonType": logon_type, "LogonUserSid": g.sid(), "MailboxGuid": g.guid(),
        "MailboxOwnerSid": g.sid(), "MailboxOwnerUPN": owner,
        "OperationProperties": [{"Name": "MailAccessType", "Value": access}, {"Name": "IsThrottled", "Value": "False"}],
        "OrganizationName": orgname, "OriginatingServer": "AM6PR04MB%04d (15.20.8207.017)\r\n" % g.r.randint(1000, 9999),
        "SessionId": g.guid(), "Folders": fl, "OperationCount": total,
    }
    if ext_tenant:
        rec["ExternalUserTenantId"] = ext_tenant
    if token_tenant:
        rec["TokenTenantId"] = token_tenant
    return rec


def ual_folder_perm_audit(g, t, org, orgname, owner, member, rights, folder, op="AddFolderPermissions", ip="198.18.0.1"):
    """Mailbox audit AddFolderPermissions / UpdateFolderPermissions (ExchangeItem, RecordType 2)."""
    return {
        "CreationTime": ual_time(t), "Id": g.guid(), "Operation": op, "OrganizationId": org,
        "RecordType": 2, "ResultStatus": "Succeeded", "UserKey": "1003" + g.hexid(12), "UserType": 0,
        "Version": 1, "Workload": "Exchange", "ClientIP": ip, "UserId": owner, "ClientIPAddress": ip,
        "ClientInfoString": "Client=MSExchangeRPC", "ClientProcessName": "OUTLOOK.EXE", "ClientVersion": "16.0.18324.20194",
        "ExternalAccess": False, "InternalLogonType": 0, "LogonType": 0, "LogonUserSid": g.sid(),
        "MailboxGuid": g.guid(), "MailboxOwnerSid": g.sid(), "MailboxOwnerUPN": owner,
        "OrganizationName": orgname, "OriginatingServer": "DB9PR02MB%04d (15.20.8207.017)\r\n" % g.r.randint(1000, 9999),
        "Item": {"Id": "LgAAAAA" + g.hexid(40),
                 "ParentFolder": {"Id": "LgAAAAA" + g.hexid(40), "MemberRights": rights, "MemberSid": g.sid(),
                                  "MemberUpn": member, "Name": folder.strip("\\"), "Path": folder}},
    }


def ual_aad(g, t, org, op, *, actor, target, actor_ctx, target_ctx, object_id, modified=(), extended=(),
            user_id, user_key="Not Available", user_type=4, result="Success"):
    rid = g.guid()
    return {
        "CreationTime": ual_time(t), "Id": rid, "Operation": op, "OrganizationId": org, "RecordType": 8,
        "ResultStatus": result, "UserKey": user_key, "UserType": user_type, "Version": 1,
        "Workload": "AzureActiveDirectory", "ObjectId": object_id, "UserId": user_id,
        "AzureActiveDirectoryEventType": 1,
        "ExtendedProperties": list(extended), "ModifiedProperties": list(modified),
        "Actor": actor, "ActorContextId": actor_ctx, "InterSystemsId": g.guid(), "IntraSystemId": g.guid(),
        "SupportTicketId": "", "Target": target, "TargetContextId": target_ctx,
    }


def sp_actor(g, app):
    spid = g.guid()
    return spid, [{"ID": app[1], "Type": 1}, {"ID": app[0], "Type": 2}, {"ID": "ServicePrincipal_" + spid, "Type": 2},
                  {"ID": spid, "Type": 2}, {"ID": "ServicePrincipal", "Type": 2}]


def ual_xtap(g, t, org, partner_tid, op="Add a partner to cross-tenant access setting.", service_provider=True,
             actor_user=None):
    """Cross-tenant access (XTAP) partner configuration change.  GDAP: done by the
    'Partner Customer Delegated Administration' service principal; B2B: by an admin."""
    policy = g.guid()
    mods = [{"Name": "tenantId", "NewValue": json.dumps([partner_tid]), "OldValue": "[]"}]
    if service_provider:
        mods.append({"Name": "isServiceProvider", "NewValue": "[true]", "OldValue": "[]" if op.startswith("Add") else "[false]"})
        mods.append({"Name": "inboundTrust", "NewValue": json.dumps([{"isMfaAccepted": True, "isCompliantDeviceAccepted": False, "isHybridAzureADJoinedDeviceAccepted": False}]), "OldValue": "[]"})
    else:
        mods.append({"Name": "b2bCollaborationInbound", "NewValue": json.dumps([{"usersAndGroups": {"accessType": "allowed", "targets": [{"target": "AllUsers", "targetType": "user"}]}}]), "OldValue": "[]"})
    if actor_user is None:
        spid, actor = sp_actor(g, APP_PCDA)
        uid, ukey, utype = "ServicePrincipal_" + spid, "Not Available", 4
        ext = [{"Name": "additionalDetails", "Value": "{}"}, {"Name": "extendedAuditEventCategory", "Value": "CrossTenantAccessSettings"},
               {"Name": "actorAppID", "Value": APP_PCDA[0]}]
    else:
        upn, puid = actor_user
        actor = [{"ID": g.guid(), "Type": 0}, {"ID": upn, "Type": 5}, {"ID": puid, "Type": 3}]
        uid, ukey, utype = upn, puid + "@" + upn.split("@")[1], 0
        ext = [{"Name": "additionalDetails", "Value": "{}"}, {"Name": "extendedAuditEventCategory", "Value": "CrossTenantAccessSettings"}]
    return ual_aad(g, t, org, op, actor=actor, target=[{"ID": policy, "Type": 2}, {"ID": "Policy", "Type": 2}],
                   actor_ctx=org, target_ctx=org, object_id=policy, modified=mods, extended=ext,
                   user_id=uid, user_key=ukey, user_type=utype)


def ual_gdap_role(g, t, org, partner_tid, role, group_name="AdminAgents"):
    """GDAP approval: the partner's security group (a foreign principal) is added to a
    directory role by the 'Partner Customer Delegated Admin Offline Processor'."""
    rid, wk = ROLES[role]
    grp = g.guid()
    spid, actor = sp_actor(g, APP_OFFLINE)
    mods = [{"Name": "Role.ObjectID", "NewValue": g.guid(), "OldValue": ""},
            {"Name": "Role.DisplayName", "NewValue": role, "OldValue": ""},
            {"Name": "Role.TemplateId", "NewValue": rid, "OldValue": ""},
            {"Name": "Role.WellKnownObjectName", "NewValue": wk, "OldValue": ""}]
    ext = [{"Name": "additionalDetails", "Value": "{}"}, {"Name": "extendedAuditEventCategory", "Value": "Role"},
           {"Name": "actorAppID", "Value": APP_OFFLINE[0]}]
    return ual_aad(g, t, org, "Add member to role.", actor=actor,
                   target=[{"ID": "Group_" + grp, "Type": 2}, {"ID": grp, "Type": 2}, {"ID": "Group", "Type": 2}, {"ID": group_name, "Type": 1}],
                   actor_ctx=org, target_ctx=partner_tid, object_id=grp, modified=mods, extended=ext,
                   user_id="ServicePrincipal_" + spid)


def ual_add_partner(g, t, org, partner_tid, partner_name, actor_upn, actor_ctx, op="Add partner to company."):
    puid = "1003" + g.hexid(12)
    return ual_aad(g, t, org, op,
                   actor=[{"ID": g.guid(), "Type": 0}, {"ID": actor_upn, "Type": 5}, {"ID": puid, "Type": 3}],
                   target=[{"ID": partner_tid, "Type": 2}, {"ID": partner_name, "Type": 1}],
                   actor_ctx=actor_ctx, target_ctx=partner_tid, object_id=partner_tid,
                   modified=[{"Name": "PartnerTenantId", "NewValue": partner_tid, "OldValue": ""},
                             {"Name": "PartnerType", "NewValue": "ResellerAndDelegatedAdministrator", "OldValue": ""}],
                   extended=[{"Name": "additionalDetails", "Value": "{}"}, {"Name": "extendedAuditEventCategory", "Value": "Company"}],
                   user_id=actor_upn, user_key=puid + "@" + actor_upn.split("@")[1], user_type=0)


def ual_aad_admin_noise(g, t, org, admin, op, target_upn):
    puid = "1003" + g.hexid(12)
    return ual_aad(g, t, org, op,
                   actor=[{"ID": g.guid(), "Type": 0}, {"ID": admin, "Type": 5}, {"ID": puid, "Type": 3}],
                   target=[{"ID": "User_" + g.guid(), "Type": 2}, {"ID": target_upn, "Type": 5}],
                   actor_ctx=org, target_ctx=org, object_id=target_upn,
                   modified=[{"Name": "Included Updated Properties", "NewValue": "Department", "OldValue": ""}],
                   extended=[{"Name": "extendedAuditEventCategory", "Value": "User"}],
                   user_id=admin, user_key=puid + "@" + admin.split("@")[1], user_type=0)


def ual_sts_logon(g, t, org, user, ip, ok=True, actor_ctx=None, user_type=0):
    uid = g.guid()
    return {
        "CreationTime": ual_time(t), "Id": g.guid(), "Operation": "UserLoggedIn" if ok else "UserLoginFailed",
        "OrganizationId": org, "RecordType": 15, "ResultStatus": "Success" if ok else "Failed", "UserKey": uid,
        "UserType": user_type, "Version": 1, "Workload": "AzureActiveDirectory", "ClientIP": ip, "ObjectId": OWA_APP[0],
        "UserId": user, "AzureActiveDirectoryEventType": 1,
        "ExtendedProperties": [{"Name": "ResultStatusDetail", "Value": "Success" if ok else "UserError"},
                               {"Name": "UserAgent", "Value": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36 Edg/133.0.0.0"},
                               {"Name": "RequestType", "Value": "Login:login"}],
        "ModifiedProperties": [], "Actor": [{"ID": uid, "Type": 0}, {"ID": user, "Type": 5}],
        "ActorContextId": actor_ctx or org, "ActorIpAddress": ip, "InterSystemsId": g.guid(), "IntraSystemId": g.guid(),
        "SupportTicketId": "", "Target": [{"ID": OWA_APP[0], "Type": 0}], "TargetContextId": org,
        "ApplicationId": "4765445b-32c6-49b0-83e6-1d93765276ca",
        "DeviceProperties": [{"Name": "OS", "Value": "Windows10"}, {"Name": "BrowserType", "Value": "Edge"},
                             {"Name": "SessionId", "Value": g.guid()}],
        "ErrorNumber": "0" if ok else "50126",
    }


# ----------------------------------------------------------------------------
# Microsoft Graph signIn / directoryAudit
# ----------------------------------------------------------------------------

def graph_time(t, frac=None):
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ("" if frac is None else ".%07d" % frac).rstrip("0").rstrip(".") + "Z"


def graph_signin(g, t, *, upn, display, ip, resource_tenant, home_tenant=None, home_name="", cta="none",
                 app=OWA_APP, error=0, failure="Other.", mfa=True, interactive=True, user_type="member",
                 city=("Seattle", "Washington", "US"), mfa_method="Previously satisfied"):
    home_tenant = home_tenant or resource_tenant
    auth_req = "multiFactorAuthentication" if mfa else "singleFactorAuthentication"
    details = [{"authenticationStepDateTime": graph_time(t), "authenticationMethod": "Password", "authenticationMethodDetail": "Password in the cloud",
                "succeeded": error == 0, "authenticationStepResultDetail": "Correct password" if error == 0 else "Invalid username or password or Invalid on-premise username or password.",
                "authenticationStepRequirement": "Primary authentication"}]
    if mfa and error == 0:
        details.append({"authenticationStepDateTime": graph_time(t), "authenticationMethod": mfa_method, "authenticationMethodDetail": None,
                        "succeeded": True, "authenticationStepResultDetail": "MFA requirement satisfied by claim in the token",
                        "authenticationStepRequirement": "Multifactor authentication"})
    return {
        "id": g.guid(), "createdDateTime": graph_time(t), "userDisplayName": display, "userPrincipalName": upn,
        "userId": g.guid(), "appId": app[0], "appDisplayName": app[1], "ipAddress": ip,
        "clientAppUsed": "Browser" if interactive else "Mobile Apps and Desktop clients", "correlationId": g.guid(),
        "conditionalAccessStatus": "success" if error == 0 else "notApplied", "isInteractive": interactive,
        "riskDetail": "none", "riskLevelAggregated": "none", "riskLevelDuringSignIn": "none", "riskState": "none",
        "riskEventTypes_v2": [], "resourceDisplayName": "Office 365 Exchange Online", "resourceId": EXO_APP,
        "resourceTenantId": resource_tenant, "homeTenantId": home_tenant, "homeTenantName": home_name,
        "crossTenantAccessType": cta, "userType": user_type,
        "signInEventTypes": ["interactiveUser" if interactive else "nonInteractiveUser"],
        "authenticationRequirement": auth_req, "authenticationDetails": details,
        "mfaDetail": {"authMethod": "Previously satisfied", "authDetail": None} if (mfa and error == 0) else None,
        "status": {"errorCode": error, "failureReason": failure if error else "Other.",
                   "additionalDetails": None if error == 0 else "The user didn't enter the right credentials."},
        "location": {"city": city[0], "state": city[1], "countryOrRegion": city[2], "geoCoordinates": {"altitude": None, "latitude": None, "longitude": None}},
        "deviceDetail": {"deviceId": "", "displayName": "", "operatingSystem": "Windows 10", "browser": "Edge 133.0.0", "isCompliant": False, "isManaged": False, "trustType": ""},
        "sessionId": g.guid(), "uniqueTokenIdentifier": g.hexid(22), "autonomousSystemNumber": g.pick([8075, 3320, 64496, 64511]),
    }


def graph_audit(g, t, activity, category, *, initiated_user=None, initiated_app=None, targets, op_type="Add",
                result="success", additional=()):
    corr = g.guid()
    iu = None
    if initiated_user:
        upn, ip, home = initiated_user
        iu = {"id": g.guid(), "displayName": None, "userPrincipalName": upn, "ipAddress": ip, "userType": None,
              "homeTenantId": home, "homeTenantName": None}
    ia = None
    if initiated_app:
        ia = {"appId": initiated_app[0], "displayName": initiated_app[1], "servicePrincipalId": g.guid(), "servicePrincipalName": None}
    return {
        "id": "Directory_%s_%s_%d" % (corr, g.hexid(5), g.r.randint(10000000, 99999999)), "category": category,
        "correlationId": corr, "result": result, "resultReason": "", "activityDisplayName": activity,
        "activityDateTime": graph_time(t, g.r.randint(0, 9999999)), "loggedByService": "Core Directory",
        "operationType": op_type, "initiatedBy": {"app": ia, "user": iu}, "targetResources": targets,
        "additionalDetails": list(additional),
    }


def mp(name, old, new):
    return {"displayName": name, "oldValue": old, "newValue": new}


# ----------------------------------------------------------------------------
# Windows event renderings
# ----------------------------------------------------------------------------
PS_GUID = "{A0C1853B-5C40-4B15-8766-3CF1C58F985A}"
SEC_GUID = "{54849625-5478-4994-A5BA-3E3B0328C30D}"
SYSMON_GUID = "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"


def evtx_system(provider, guid, eid, ver, level, task, opcode, keywords, t, recid, channel, computer, user_sid, pid, tid, activity=None, qualifiers=None):
    prov = {"#attributes": {"Name": provider}}
    if guid:
        prov["#attributes"]["Guid"] = guid
    return {
        "Provider": prov,
        "EventID": eid if qualifiers is None else {"#attributes": {"Qualifiers": qualifiers}, "#text": eid},
        "Version": ver, "Level": level, "Task": task, "Opcode": opcode, "Keywords": keywords,
        "TimeCreated": {"#attributes": {"SystemTime": t.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % ((recid * 7919) % 1000000)}},
        "EventRecordID": recid,
        "Correlation": {"#attributes": {"ActivityID": activity}} if activity else None,
        "Execution": {"#attributes": {"ProcessID": pid, "ThreadID": tid}},
        "Channel": channel, "Computer": computer,
        "Security": {"#attributes": {"UserID": user_sid}} if user_sid else None,
    }


def evtx_event(system, data):
    return {"Event": {"#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"}, "System": system, "EventData": data}}


def b64_utf16(s):
    return base64.b64encode(s.encode("utf-16-le")).decode()


class Host:
    """A Windows host with its own monotonically increasing record ids per channel."""

    def __init__(self, g, computer, domain, start_ids):
        self.g = g
        self.computer = computer
        self.domain = domain
        self.ids = dict(start_ids)

    def next(self, channel):
        self.ids[channel] += self.g.r.randint(1, 9)
        return self.ids[channel]


# ---- evtx_dump JSON ----

def evtx_4104(h, t, user_sid, text, sbid, num=1, total=1, path="", level=5):
    rid = h.next("ps")
    s = evtx_system("Microsoft-Windows-PowerShell", PS_GUID, 4104, 1, level, 2, 15, "0x0", t, rid,
                    "Microsoft-Windows-PowerShell/Operational", h.computer, user_sid, h.g.r.randint(2000, 9000), h.g.r.randint(2000, 9000),
                    activity="{%s}" % h.g.guid().upper())
    return rid, evtx_event(s, {"MessageNumber": num, "MessageTotal": total, "ScriptBlockText": text, "ScriptBlockId": sbid, "Path": path})


def evtx_4103(h, t, user_sid, user, cmd, bindings, host_app):
    rid = h.next("ps")
    s = evtx_system("Microsoft-Windows-PowerShell", PS_GUID, 4103, 1, 4, 106, 20, "0x0", t, rid,
                    "Microsoft-Windows-PowerShell/Operational", h.computer, user_sid, h.g.r.randint(2000, 9000), h.g.r.randint(2000, 9000),
                    activity="{%s}" % h.g.guid().upper())
    ctx = ("        Severity = Informational\r\n        Host Name = ConsoleHost\r\n        Host Version = 5.1.26100.3476\r\n"
           "        Host ID = %s\r\n        Host Application = %s\r\n        Engine Version = 5.1.26100.3476\r\n"
           "        Runspace ID = %s\r\n        Pipeline ID = %d\r\n        Command Name = %s\r\n        Command Type = Function\r\n"
           "        Script Name = \r\n        Command Path = \r\n        Sequence Number = %d\r\n        User = %s\r\n"
           "        Connected User = \r\n        Shell ID = Microsoft.PowerShell\r\n") % (
        h.g.guid(), host_app, h.g.guid(), h.g.r.randint(5, 60), cmd, h.g.r.randint(20, 400), user)
    payload = 'CommandInvocation(%s): "%s"\r\n' % (cmd, cmd) + "".join(
        'ParameterBinding(%s): name="%s"; value="%s"\r\n' % (cmd, k, v) for k, v in bindings)
    return rid, evtx_event(s, {"ContextInfo": ctx, "UserData": "", "Payload": payload})


def evtx_4688(h, t, subj_sid, subj_user, subj_dom, image, cmdline, parent, logon="0x3e7"):
    rid = h.next("sec")
    s = evtx_system("Microsoft-Windows-Security-Auditing", SEC_GUID, 4688, 2, 0, 13312, 0, "0x8020000000000000", t, rid,
                    "Security", h.computer, None, 4, h.g.r.randint(100, 9000))
    return rid, evtx_event(s, {
        "SubjectUserSid": subj_sid, "SubjectUserName": subj_user, "SubjectDomainName": subj_dom, "SubjectLogonId": logon,
        "NewProcessId": "0x%x" % h.g.r.randint(0x400, 0x3fff), "NewProcessName": image, "TokenElevationType": "%%1938",
        "ProcessId": "0x%x" % h.g.r.randint(0x400, 0x3fff), "CommandLine": cmdline, "TargetUserSid": "S-1-0-0",
        "TargetUserName": "-", "TargetDomainName": "-", "TargetLogonId": "0x0", "ParentProcessName": parent,
        "MandatoryLabel": "S-1-16-8192"})


def evtx_sysmon1(h, t, user, image, cmdline, parent_image, parent_cmd, desc="Windows PowerShell", ofn="PowerShell.EXE"):
    rid = h.next("sysmon")
    s = evtx_system("Microsoft-Windows-Sysmon", SYSMON_GUID, 1, 5, 4, 1, 0, "0x8000000000000000", t, rid,
                    "Microsoft-Windows-Sysmon/Operational", h.computer, "S-1-5-18", 3320, h.g.r.randint(1000, 9000))
    return rid, evtx_event(s, {
        "RuleName": "-", "UtcTime": t.strftime("%Y-%m-%d %H:%M:%S.") + "%03d" % (rid % 1000),
        "ProcessGuid": "{%s}" % h.g.guid().upper(), "ProcessId": h.g.r.randint(1000, 20000), "Image": image,
        "FileVersion": "10.0.26100.3476 (WinBuild.160101.0800)", "Description": desc,
        "Product": "Microsoft\u00ae Windows\u00ae Operating System", "Company": "Microsoft Corporation",
        "OriginalFileName": ofn, "CommandLine": cmdline, "CurrentDirectory": "C:\\Users\\%s\\" % user.split("\\")[-1],
        "User": user, "LogonGuid": "{%s}" % h.g.guid().upper(), "LogonId": "0x%x" % h.g.r.randint(0x10000, 0xfffff),
        "TerminalSessionId": 1, "IntegrityLevel": "Medium",
        "Hashes": "SHA256=" + h.g.hexid(64), "ParentProcessGuid": "{%s}" % h.g.guid().upper(),
        "ParentProcessId": h.g.r.randint(1000, 20000), "ParentImage": parent_image, "ParentCommandLine": parent_cmd,
        "ParentUser": user})


def evtx_msexch(h, t, eid, cmdlet, params, caller, caller_sid):
    rid = h.next("exch")
    s = evtx_system("MSExchange CmdletLogs", None, eid, 0, 4 if eid == 1 else 2, 1, 0, "0x80000000000000", t, rid,
                    "MSExchange Management", h.computer, None, h.g.r.randint(2000, 9000), h.g.r.randint(2000, 9000),
                    qualifiers=16384 if eid == 1 else 49152)
    data = [cmdlet, params, caller, caller_sid, caller_sid, "Remote-PowerShell-Unknown",
            "%d w3wp#MSExchangePowerShellAppPool" % h.g.r.randint(2000, 9000), None, "00:00:00.%07d" % h.g.r.randint(100000, 9999999),
            "View Entry - None", "Modified Properties - None", "Original Properties - None",
            "ActivityId: %s" % h.g.guid(), "ServicePlan:;IsAdmin:True;", "0", "0"]
    return rid, evtx_event(s, {"Data": {"#text": data}})


# ---- Winlogbeat / ECS ----

def ecs_4104(h, t, user_sid, user, text, sbid, num=1, total=1):
    rid = h.next("ps")
    return rid, {
        "@timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (rid % 1000),
        "agent": {"type": "winlogbeat", "version": "8.17.0", "name": h.computer.split(".")[0]},
        "ecs": {"version": "8.11.0"},
        "event": {"code": "4104", "kind": "event", "module": "powershell", "provider": "Microsoft-Windows-PowerShell",
                  "created": (t + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "category": ["process"], "type": ["info"],
                  "sequence": num},
        "host": {"name": h.computer.lower(), "hostname": h.computer.split(".")[0]},
        "log": {"level": "verbose"},
        "message": "Creating Scriptblock text (%d of %d):\n%s\n\nScriptBlock ID: %s\nPath: " % (num, total, text, sbid),
        "powershell": {"file": {"script_block_id": sbid, "script_block_text": text}, "sequence": num, "total": total},
        "user": {"id": user_sid, "name": user.split("\\")[1], "domain": user.split("\\")[0]},
        "winlog": {"api": "wineventlog", "channel": "Microsoft-Windows-PowerShell/Operational", "computer_name": h.computer,
                   "event_data": {"MessageNumber": str(num), "MessageTotal": str(total), "Path": "", "ScriptBlockId": sbid, "ScriptBlockText": text},
                   "event_id": "4104", "opcode": "On create calls", "process": {"pid": h.g.r.randint(2000, 9000), "thread": {"id": h.g.r.randint(2000, 9000)}},
                   "provider_guid": PS_GUID, "provider_name": "Microsoft-Windows-PowerShell", "record_id": str(rid),
                   "task": "Execute a Remote Command", "user": {"identifier": user_sid, "name": user.split("\\")[1], "domain": user.split("\\")[0], "type": "User"},
                   "version": 1},
    }


def ecs_4688(h, t, sid, user, image, cmdline, parent):
    rid = h.next("sec")
    dom, name = user.split("\\")
    return rid, {
        "@timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (rid % 1000),
        "agent": {"type": "winlogbeat", "version": "8.17.0", "name": h.computer.split(".")[0]},
        "ecs": {"version": "8.11.0"},
        "event": {"code": "4688", "kind": "event", "module": "security", "provider": "Microsoft-Windows-Security-Auditing",
                  "action": "created-process", "category": ["process"], "type": ["start"], "outcome": "success"},
        "host": {"name": h.computer.lower(), "hostname": h.computer.split(".")[0]},
        "message": "A new process has been created.",
        "process": {"executable": image, "name": image.split("\\")[-1], "command_line": cmdline, "pid": h.g.r.randint(1000, 20000),
                    "parent": {"executable": parent, "name": parent.split("\\")[-1]}},
        "user": {"id": sid, "name": name, "domain": dom},
        "winlog": {"api": "wineventlog", "channel": "Security", "computer_name": h.computer,
                   "event_data": {"SubjectUserSid": sid, "SubjectUserName": name, "SubjectDomainName": dom, "SubjectLogonId": "0x%x" % h.g.r.randint(0x10000, 0xfffff),
                                  "NewProcessId": "0x%x" % h.g.r.randint(0x400, 0x3fff), "NewProcessName": image, "TokenElevationType": "%%1938",
                                  "ProcessId": "0x%x" % h.g.r.randint(0x400, 0x3fff), "CommandLine": cmdline, "TargetUserSid": "S-1-0-0",
                                  "TargetUserName": "-", "TargetDomainName": "-", "TargetLogonId": "0x0", "ParentProcessName": parent,
                                  "MandatoryLabel": "S-1-16-8192"},
                   "event_id": "4688", "keywords": ["Audit Success"], "opcode": "Info", "process": {"pid": 4, "thread": {"id": h.g.r.randint(100, 9000)}},
                   "provider_guid": SEC_GUID, "provider_name": "Microsoft-Windows-Security-Auditing", "record_id": str(rid),
                   "task": "Process Creation", "version": 2},
    }


# ---- NXLog flat JSON (host time zone: Europe/Paris; Feb 2026 = UTC+1) ----
NX_OFFSET = timedelta(hours=1)


def nx_common(h, t, eid, rid, channel, source, guid, task, opcode_val, opcode, sid, user, level_sev="INFO"):
    dom, name = user.split("\\") if user else ("NT AUTHORITY", "SYSTEM")
    loc = t + NX_OFFSET
    return {"EventTime": loc.strftime("%Y-%m-%d %H:%M:%S"), "EventReceivedTime": (loc + timedelta(seconds=2)).strftime("%Y-%m-%d %H:%M:%S"),
            "@timestamp": (t + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "@version": "1",
            "Hostname": h.computer, "Keywords": 0, "EventType": level_sev, "SeverityValue": 2 if level_sev == "INFO" else 1,
            "Severity": level_sev, "EventID": eid, "SourceName": source, "ProviderGuid": guid, "Version": 1,
            "Task": task, "OpcodeValue": opcode_val, "Opcode": opcode, "RecordNumber": rid,
            "ExecutionProcessID": h.g.r.randint(2000, 9000), "ThreadID": h.g.r.randint(2000, 9000), "Channel": channel,
            "Domain": dom, "AccountName": name, "UserID": sid, "AccountType": "User",
            "SourceModuleName": "eventlog", "SourceModuleType": "im_msvistalog"}


def nx_4104(h, t, sid, user, text, sbid, num=1, total=1):
    rid = h.next("ps")
    d = nx_common(h, t, 4104, rid, "Microsoft-Windows-PowerShell/Operational", "Microsoft-Windows-PowerShell", PS_GUID, 2, 15, "On create calls", sid, user, "VERBOSE")
    d.update({"ActivityID": "{%s}" % h.g.guid().upper(), "MessageNumber": str(num), "MessageTotal": str(total),
              "ScriptBlockText": text, "ScriptBlockId": sbid, "Path": "",
              "Message": "Creating Scriptblock text (%d of %d):\r\n%s\r\n\r\nScriptBlock ID: %s\r\nPath: " % (num, total, text, sbid),
              "Category": "Execute a Remote Command"})
    return rid, d


def nx_4103(h, t, sid, user, cmd, bindings, host_app):
    rid = h.next("ps")
    d = nx_common(h, t, 4103, rid, "Microsoft-Windows-PowerShell/Operational", "Microsoft-Windows-PowerShell", PS_GUID, 106, 20,
                  "To be used when operation is just executing a method", sid, user)
    ctx = ("        Severity = Informational\r\n        Host Name = ConsoleHost\r\n        Host Version = 5.1.20348.3207\r\n"
           "        Host ID = %s\r\n        Host Application = %s\r\n        Engine Version = 5.1.20348.3207\r\n"
           "        Runspace ID = %s\r\n        Pipeline ID = 14\r\n        Command Name = %s\r\n        Command Type = Function\r\n"
           "        Script Name = \r\n        Command Path = \r\n        Sequence Number = 52\r\n        User = %s\r\n"
           "        Connected User = \r\n        Shell ID = Microsoft.PowerShell\r\n") % (h.g.guid(), host_app, h.g.guid(), cmd, user)
    payload = 'CommandInvocation(%s): "%s"\r\n' % (cmd, cmd) + "".join('ParameterBinding(%s): name="%s"; value="%s"\r\n' % (cmd, k, v) for k, v in bindings)
    d.update({"ActivityID": "{%s}" % h.g.guid().upper(), "ContextInfo": ctx, "Payload": payload, "Category": "Executing Pipeline",
              "ERROR_EVT_UNRESOLVED": True})
    return rid, d


def nx_4688(h, t, sid, user, image, cmdline, parent):
    rid = h.next("sec")
    dom, name = user.split("\\")
    d = nx_common(h, t, 4688, rid, "Security", "Microsoft-Windows-Security-Auditing", SEC_GUID, 13312, 0, "Info", "S-1-5-18", "NT AUTHORITY\\SYSTEM", "AUDIT_SUCCESS")
    d.update({"SubjectUserSid": sid, "SubjectUserName": name, "SubjectDomainName": dom, "SubjectLogonId": "0x%x" % h.g.r.randint(0x10000, 0xfffff),
              "NewProcessId": "0x%x" % h.g.r.randint(0x400, 0x3fff), "NewProcessName": image, "TokenElevationType": "%%1938",
              "ProcessId": "0x%x" % h.g.r.randint(0x400, 0x3fff), "CommandLine": cmdline, "TargetUserSid": "S-1-0-0", "TargetUserName": "-",
              "TargetDomainName": "-", "TargetLogonId": "0x0", "ParentProcessName": parent, "MandatoryLabel": "S-1-16-8192",
              "Category": "Process Creation", "Version": 2, "Message": "A new process has been created."})
    return rid, d


# ----------------------------------------------------------------------------
# writers
# ----------------------------------------------------------------------------

def sort_time(recs, key):
    return sorted(recs, key=key)


def write_jsonl(path, recs):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")


def write_json(path, obj, bom=False, indent=None):
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="\n") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
        f.write("\n")


def purview_date(t):
    h = t.hour % 12 or 12
    return "%d/%d/%d %d:%02d:%02d %s" % (t.month, t.day, t.year, h, t.minute, t.second, "AM" if t.hour < 12 else "PM")


def write_purview_csv(path, recs):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(["RecordId", "CreationDate", "RecordType", "Operation", "UserId", "AuditData", "AssociatedAdminUnits", "AssociatedAdminUnitsNames"])
    for r in recs:
        t = datetime.strptime(r["CreationTime"], "%Y-%m-%dT%H:%M:%S")
        w.writerow([r["Id"], purview_date(t), r["RecordType"], r["Operation"], r["UserId"],
                    json.dumps(r, ensure_ascii=False, separators=(",", ":")), "", ""])
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        f.write(buf.getvalue())


def ual_key(r):
    return r["CreationTime"]


def win_id(computer, rid):
    return "%s/%d" % (computer, rid)


# ============================================================================
# Ground truth collection
# ============================================================================
EXPECTED = []
SILENT = []


def expect(**kw):
    base = {"tenant_folder": None, "analytic": None, "kind": "alert", "customer_tenant_id": None, "partner_tenant_id": None,
            "mailbox": None, "trustee": None, "host": None, "evidence_record_ids": [], "evidence_any_of": [],
            "related_record_ids": [], "authorized": False, "why": ""}
    base.update(kw)
    EXPECTED.append(base)


def silent(folder, analytic, description, ids):
    SILENT.append({"tenant_folder": folder, "analytic": analytic, "description": description, "record_ids": list(ids),
                   "rule": "no %s alert may cite any of these record ids" % analytic})


# ============================================================================
# Tenant A — Northwind Traders: GDAP chain in the UAL (AzureActiveDirectory
# workload), approved partner inside its window, DAP relationship with nothing
# after it, internal ticketed delegation; host logs as evtx_dump JSON.
# ============================================================================

def tenant_northwind():
    F = "tenant-northwind"
    out = os.path.join(HERE, F)
    os.makedirs(out, exist_ok=True)
    g = Gen(1101)
    ORG = "6f1d2c3b-8a4e-4b5f-9c7d-1e2f3a4b5c6d"
    DOM = "northwindtraders.onmicrosoft.com"
    ORGNAME = DOM
    OTHER_ORG = "0b7e5a91-2c4d-4e8f-a1b3-5d6c7e8f9a0b"  # Northwind Traders (Dev) — a second tenant in the same export
    NAT = ["198.18.0.%d" % i for i in range(10, 21)]
    HOME = ["198.19.%d.%d" % (a, b) for a, b in [(4, 20), (7, 33), (12, 9), (22, 140), (40, 2)]]
    # partners
    LIT = "3b8e1f0a-6c2d-4e7f-9a1b-2c3d4e5f6a7b"   # Litware MSP — NOT in context (unknown) — attacker
    LIT_IP = "203.0.113.77"
    ADA = "a9e2b4c6-1d3f-4a5b-8c7d-9e0f1a2b3c4d"   # Adatum Managed Services — approved
    ADA_IP = "198.51.100.10"
    TREY = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"  # Trey Research — DAP relationship, nothing follows
    users = ["olivia.chen", "marcus.webb", "priya.nair", "tom.becker", "sofia.rossi", "liam.ocon", "emma.fischer",
             "noah.kim", "ava.martin", "lucas.meyer", "mia.dubois", "ethan.clark", "it.admin", "helpdesk.t2"]
    U = {u: "%s@%s" % (u, DOM) for u in users}
    ual, signins, audits = [], [], []

    base = dt("2026-03-09T07:00:00")
    # ---------------- noise (7 days) ----------------
    for day in range(7):
        d0 = base + timedelta(days=day)
        if d0.weekday() >= 5:
            continue
        for u in users[:12]:
            ip = g.pick(NAT) if g.r.random() < 0.8 else g.pick(HOME)
            t = d0 + timedelta(minutes=g.r.randint(0, 540))
            ual.append(ual_sts_logon(g, t, ORG, U[u], ip))
            signins.append(graph_signin(g, t + timedelta(seconds=2), upn=U[u], display=u.replace(".", " ").title(), ip=ip, resource_tenant=ORG,
                                        mfa=g.r.random() < 0.7))
            for _ in range(g.r.randint(1, 3)):
                t2 = t + timedelta(minutes=g.r.randint(1, 400))
                ual.append(ual_mail_items_accessed(g, t2, ORG, ORGNAME, U[u], U[u], ip, client=g.pick(["Client=OWA;Action=ViewInbox;", "Client=REST;Client=RESTSystem;;", "Client=MSExchangeRPC"])))
        # a failed internal sign-in
        u = g.pick(users[:12])
        signins.append(graph_signin(g, d0 + timedelta(minutes=g.r.randint(0, 500)), upn=U[u], display=u, ip=g.pick(HOME), resource_tenant=ORG, error=50126,
                                    failure="Invalid username or password or Invalid on-premise username or password.", mfa=False))
        # system maintenance in Exchange (must never alert)
        ual.append(ual_exchange_admin(g, d0 + timedelta(minutes=g.r.randint(0, 60)), ORG, ORGNAME, "Set-Mailbox",
                                      "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
                                      P(Identity="NAMPR04A002.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/%s/%s" % (DOM, g.pick(users)), RetainDeletedItemsFor="30.00:00:00", Force="True"),
                                      user_type=3, external=True))
        audits.append(graph_audit(g, d0 + timedelta(minutes=g.r.randint(30, 300)), "Update user", "UserManagement",
                                  initiated_user=(U["it.admin"], g.pick(NAT), None), op_type="Update",
                                  targets=[{"id": g.guid(), "displayName": None, "type": "User", "userPrincipalName": U[g.pick(users)], "groupType": None,
                                            "modifiedProperties": [mp("Department", "[]", "[\"Sales\"]"), mp("Included Updated Properties", None, "\"Department\"")]}]))
        audits.append(graph_audit(g, d0 + timedelta(minutes=g.r.randint(30, 300)), "Add member to group", "GroupManagement",
                                  initiated_user=(U["it.admin"], g.pick(NAT), None),
                                  targets=[{"id": g.guid(), "displayName": None, "type": "User", "userPrincipalName": U[g.pick(users)], "groupType": None, "modifiedProperties": [
                                      mp("Group.ObjectID", None, "\"%s\"" % g.guid()), mp("Group.DisplayName", None, "\"Sales-EMEA\"")]}]))
    sys_perm = ual_exchange_admin(g, dt("2026-03-09T07:42:10"), ORG, ORGNAME, "Add-MailboxPermission",
                                  "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
                                  P(DomainController="", Identity="NAMPR04A002.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/%s/DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}" % DOM,
                                    User="NAMPR04A002.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/%s/Discovery Management" % DOM, AccessRights="FullAccess"),
                                  user_type=3, external=True)
    ual.append(sys_perm)
    # records of another tenant in the same export (its own traffic; must never join Northwind chains)
    other_ids = []
    for i in range(6):
        t = dt("2026-03-10T10:00:00") + timedelta(minutes=37 * i)
        r = ual_mail_items_accessed(g, t, OTHER_ORG, "northwinddev.onmicrosoft.com", "kevin.ross@litware-msp.com", "olivia.chen@northwinddev.onmicrosoft.com",
                                    LIT_IP, logon_type=2, external=True, ext_tenant=LIT)
        ual.append(r)
        other_ids.append(r["Id"])
    silent(F, "AN1350", "Records of another tenant (Northwind Traders Dev, OrganizationId %s) in the same export: the Litware technician reads a mailbox THERE from the same IP; these must never be cited by the Northwind chain." % OTHER_ORG, other_ids)

    # ---------------- ATTACK A-1: Litware (unknown partner), GDAP → FullAccess → access ----------------
    sp_prov = ual_aad(g, dt("2026-03-10T09:12:00"), ORG, "Add service principal.",
                      actor=[{"ID": "Microsoft Azure AD Internal - Jit Provisioning", "Type": 1}, {"ID": "Certificate", "Type": 2}],
                      target=[{"ID": "ServicePrincipal_" + g.guid(), "Type": 2}, {"ID": APP_PCDA[1], "Type": 1}],
                      actor_ctx=ORG, target_ctx=ORG, object_id=APP_PCDA[0],
                      extended=[{"Name": "additionalDetails", "Value": json.dumps({"AppId": APP_PCDA[0]})}, {"Name": "extendedAuditEventCategory", "Value": "ServicePrincipal"}],
                      user_id="Certificate")
    xtap = ual_xtap(g, dt("2026-03-10T09:12:41"), ORG, LIT)
    role = ual_gdap_role(g, dt("2026-03-10T09:13:05"), ORG, LIT, "Exchange Administrator", "Litware AdminAgents")
    si_lit = graph_signin(g, dt("2026-03-10T13:58:12"), upn="kevin.ross@litware-msp.com", display="Litware MSP Technician", ip=LIT_IP,
                          resource_tenant=ORG, home_tenant=LIT, home_name="Litware MSP", cta="serviceProvider", app=EXO_PS_APP,
                          mfa=False, city=("Rotterdam", "Zuid-Holland", "NL"))
    deleg = ual_exchange_admin(g, dt("2026-03-10T14:03:27"), ORG, ORGNAME, "Add-MailboxPermission", "kevin.ross@litware-msp.com",
                               P(Identity=U["olivia.chen"], User="kevin.ross@litware-msp.com", AccessRights="FullAccess", InheritanceType="All", AutoMapping="False"),
                               user_type=9, external=True, ip=LIT_IP, token_tenant=LIT, object_id=U["olivia.chen"])
    si_lit2 = graph_signin(g, dt("2026-03-10T14:20:40"), upn="kevin.ross@litware-msp.com", display="Litware MSP Technician", ip=LIT_IP,
                           resource_tenant=ORG, home_tenant=LIT, home_name="Litware MSP", cta="serviceProvider", app=OWA_APP,
                           mfa=False, city=("Rotterdam", "Zuid-Holland", "NL"))
    acc = ual_mail_items_accessed(g, dt("2026-03-10T14:22:15"), ORG, ORGNAME, "kevin.ross@litware-msp.com", U["olivia.chen"], LIT_IP,
                                  logon_type=2, user_type=0, external=True, ext_tenant=LIT, token_tenant=LIT,
                                  folders=("\\Inbox", "\\Inbox\\Board", "\\Sent Items"), client="Client=OWA;Action=ViewInbox;", nitems=14)
    ual += [sp_prov, xtap, role, deleg, acc]
    signins += [si_lit, si_lit2]
    expect(tenant_folder=F, analytic="AN1350", kind="alert", customer_tenant_id=ORG, partner_tenant_id=LIT, mailbox=U["olivia.chen"],
           trustee="kevin.ross@litware-msp.com", evidence_record_ids=[deleg["Id"], acc["Id"]], evidence_any_of=[[xtap["Id"], role["Id"]]],
           related_record_ids=[sp_prov["Id"], si_lit["id"], si_lit2["id"]],
           why="GDAP approval for Litware (XTAP serviceProvider policy for tenant %s by Partner Customer Delegated Administration, Litware's group added to Exchange Administrator by the Offline Processor, TargetContextId=Litware) -> Litware technician (UserType 9, TokenTenantId=Litware, ExternalAccess) grants himself FullAccess on olivia.chen (CFO) -> MailItemsAccessed by the same technician (LogonType 2, ExternalUserTenantId=Litware) from 203.0.113.77, the IP of his serviceProvider sign-ins; all within 5h10m. Litware is not in trustpath.toml." % LIT)
    expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=ORG, mailbox=U["olivia.chen"], trustee="kevin.ross@litware-msp.com",
           evidence_record_ids=[deleg["Id"]], why="Successful Add-MailboxPermission FullAccess by a partner technician.")
    expect(tenant_folder=F, analytic="AN1347", kind="any", customer_tenant_id=ORG, partner_tenant_id=LIT,
           evidence_any_of=[[si_lit["id"], si_lit2["id"], role["Id"]]],
           why="Unknown partner (not in trustpath.toml): serviceProvider sign-ins without MFA and a GDAP Exchange Administrator role assignment.")

    # ---------------- LOOK-ALIKE A-L1: Adatum (approved) GDAP → delegation → access, inside window ----------------
    # Window Mon-Fri 08:00-18:00 Europe/Berlin (UTC+1 on 2026-03-11, a Wednesday) => 07:00-17:00 UTC.
    ada_xtap = ual_xtap(g, dt("2026-03-11T08:30:02"), ORG, ADA, op="Update a partner cross-tenant access setting.")
    ada_role = ual_gdap_role(g, dt("2026-03-11T08:30:40"), ORG, ADA, "Exchange Administrator", "Adatum AdminAgents")
    ada_si = graph_signin(g, dt("2026-03-11T09:02:11"), upn="j.alvarez@adatum-ms.com", display="Adatum Managed Services Technician", ip=ADA_IP,
                          resource_tenant=ORG, home_tenant=ADA, home_name="Adatum Managed Services", cta="serviceProvider", app=EXO_PS_APP,
                          mfa=True, city=("Munich", "Bayern", "DE"))
    ada_deleg = ual_exchange_admin(g, dt("2026-03-11T09:10:54"), ORG, ORGNAME, "Add-MailboxPermission", "j.alvarez@adatum-ms.com",
                                   P(Identity="helpdesk-shared@" + DOM, User="j.alvarez@adatum-ms.com", AccessRights="FullAccess", InheritanceType="All"),
                                   user_type=9, external=True, ip=ADA_IP, token_tenant=ADA, object_id="helpdesk-shared@" + DOM)
    ada_si2 = graph_signin(g, dt("2026-03-11T09:40:02"), upn="j.alvarez@adatum-ms.com", display="Adatum Managed Services Technician", ip=ADA_IP,
                           resource_tenant=ORG, home_tenant=ADA, home_name="Adatum Managed Services", cta="serviceProvider", app=OWA_APP,
                           mfa=True, city=("Munich", "Bayern", "DE"))
    ada_acc = ual_mail_items_accessed(g, dt("2026-03-11T09:41:30"), ORG, ORGNAME, "j.alvarez@adatum-ms.com", "helpdesk-shared@" + DOM, ADA_IP,
                                      logon_type=2, external=True, ext_tenant=ADA, token_tenant=ADA)
    ual += [ada_xtap, ada_role, ada_deleg, ada_acc]
    signins += [ada_si, ada_si2]
    ada_ids = [ada_xtap["Id"], ada_role["Id"], ada_deleg["Id"], ada_acc["Id"], ada_si["id"], ada_si2["id"]]
    silent(F, "AN1350", "Approved partner Adatum (approved=true, cidrs 198.51.100.0/27) inside its Mon-Fri 08-18 Europe/Berlin support window: GDAP update, FullAccess on helpdesk-shared, access from its configured range. Also: Adatum's records must never be cited by the Litware alert.", ada_ids)
    silent(F, "AN1347", "Approved partner Adatum: Exchange Administrator is in approved_roles, sign-ins satisfied MFA, inside the support window, from its cidrs.", ada_ids)
    expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=ORG, mailbox="helpdesk-shared@" + DOM, trustee="j.alvarez@adatum-ms.com",
           evidence_record_ids=[ada_deleg["Id"]], why="Successful Add-MailboxPermission FullAccess (approved partner; AN1051 has no partner exemption, no ticket exists).")

    # ---------------- LOOK-ALIKE A-L2: Trey Research DAP relationship, followed by nothing ----------------
    trey = ual_add_partner(g, dt("2026-03-12T10:05:00"), ORG, TREY, "Trey Research", U["it.admin"], ORG)
    ual.append(trey)
    silent(F, "AN1350", "Legacy DAP 'Add partner to company.' for Trey Research, accepted by the customer's admin; no delegation, no access by Trey follows.", [trey["Id"]])

    # ---------------- LOOK-ALIKE A-L3 + AN1051/AN1052: internal ticketed delegation and access from office NAT ----------------
    hosts_dir = []
    adm = Host(g, "ADM-WS01.northwind.local", "NORTHWIND", {"ps": 88120, "sec": 510220, "sysmon": 20110})
    fin = Host(g, "FIN-LT07.northwind.local", "NORTHWIND", {"ps": 40210, "sec": 301877, "sysmon": 9910})
    win = []
    SID_ADMIN = g.sid(1108)
    SID_HD = g.sid(1142)
    SID_MARCUS = g.sid(1177)
    t_adm = dt("2026-03-12T14:05:10")
    sbid = g.guid()
    connect_id, e = evtx_4104(adm, t_adm - timedelta(minutes=2), SID_ADMIN, "Import-Module ExchangeOnlineManagement\nConnect-ExchangeOnline -UserPrincipalName %s -ShowBanner:$false" % U["it.admin"], g.guid())
    win.append(e)
    adm_rid, e = evtx_4104(adm, t_adm, SID_ADMIN, "Add-MailboxPermission -Identity %s -User %s -AccessRights FullAccess -InheritanceType All -AutoMapping $false" % (U["olivia.chen"], U["it.admin"]), sbid)
    win.append(e)
    adm_rid2, e = evtx_4103(adm, t_adm + timedelta(seconds=1), SID_ADMIN, "NORTHWIND\\it.admin", "Add-MailboxPermission",
                            [("Identity", U["olivia.chen"]), ("User", U["it.admin"]), ("AccessRights", "FullAccess"), ("InheritanceType", "All"), ("AutoMapping", "False")],
                            "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe")
    win.append(e)
    int_deleg = ual_exchange_admin(g, t_adm + timedelta(seconds=4), ORG, ORGNAME, "Add-MailboxPermission", U["it.admin"],
                                   P(Identity=U["olivia.chen"], User=U["it.admin"], AccessRights="FullAccess", InheritanceType="All", AutoMapping="False"),
                                   user_type=2, ip="198.18.0.11", object_id=U["olivia.chen"])
    int_acc = ual_mail_items_accessed(g, dt("2026-03-12T14:31:00"), ORG, ORGNAME, U["it.admin"], U["olivia.chen"], "198.18.0.11", logon_type=2,
                                      folders=("\\Inbox",), client="Client=MSExchangeRPC")
    ual += [int_deleg, int_acc]
    cfo_owner_ids = [r["Id"] for r in ual if r.get("MailboxOwnerUPN") == U["olivia.chen"] and r.get("UserId") == U["olivia.chen"]]
    silent(F, "AN1350", "Internal admin it.admin (ticket CHG-2026-0312) grants himself FullAccess on olivia.chen from ADM-WS01 and opens it from the office NAT 198.18.0.11 two days after the Litware chain on the same mailbox; plus the owner's own accesses. None of it is partner evidence.",
           [int_deleg["Id"], int_acc["Id"]] + cfo_owner_ids)
    expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=ORG, mailbox=U["olivia.chen"], trustee=U["it.admin"],
           evidence_record_ids=[int_deleg["Id"]], authorized=True,
           why="Successful Add-MailboxPermission FullAccess by the internal admin; ticket CHG-2026-0312 (any actor, target olivia.chen, action Add-MailboxPermission, 13:00-17:00Z) covers it.")
    expect(tenant_folder=F, analytic="AN1052", kind="any", customer_tenant_id=ORG, host=adm.computer, mailbox=U["olivia.chen"], trustee=U["it.admin"],
           evidence_any_of=[[win_id(adm.computer, adm_rid), win_id(adm.computer, adm_rid2)]], related_record_ids=[int_deleg["Id"]], authorized=True,
           why="4104/4103 on the admin workstation run Add-MailboxPermission; same change in the UAL 4 s later; covered by ticket CHG-2026-0312.")

    # ---------------- ATTACK A-2 (AN1052): encoded Add-MailboxPermission from a finance laptop ----------------
    t_fin = dt("2026-03-13T16:47:02")
    payload = ("$s=New-PSSession -ConfigurationName Microsoft.Exchange -ConnectionUri https://outlook.office365.com/powershell-liveid/ -Authentication Basic -AllowRedirection -Credential $c;"
               "Import-PSSession $s -AllowClobber | Out-Null;"
               "Add-MailboxPermission -Identity '%s' -User '%s' -AccessRights FullAccess -InheritanceType All -AutoMapping:$false") % (U["marcus.webb"], U["helpdesk.t2"])
    enc = b64_utf16(payload)
    cmd = "\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\" -nop -w hidden -enc %s" % enc
    r4688, e = evtx_4688(fin, t_fin, SID_HD, "helpdesk.t2", "NORTHWIND", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", cmd,
                         "C:\\Windows\\System32\\cmd.exe", logon="0x5a3f1")
    win.append(e)
    rsys, e = evtx_sysmon1(fin, t_fin, "NORTHWIND\\helpdesk.t2", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", cmd,
                           "C:\\Windows\\System32\\cmd.exe", "cmd.exe /c C:\\Users\\helpdesk.t2\\AppData\\Local\\Temp\\upd.cmd")
    win.append(e)
    r4104, e = evtx_4104(fin, t_fin + timedelta(seconds=1), SID_HD, payload, g.guid(), level=3)
    win.append(e)
    fin_ual = ual_exchange_admin(g, t_fin + timedelta(seconds=9), ORG, ORGNAME, "Add-MailboxPermission", U["helpdesk.t2"],
                                 P(Identity=U["marcus.webb"], User=U["helpdesk.t2"], AccessRights="FullAccess", InheritanceType="All", AutoMapping="False"),
                                 user_type=2, ip="198.18.0.17", object_id=U["marcus.webb"])
    ual.append(fin_ual)
    expect(tenant_folder=F, analytic="AN1052", kind="alert", customer_tenant_id=ORG, host=fin.computer, mailbox=U["marcus.webb"], trustee=U["helpdesk.t2"],
           evidence_any_of=[[win_id(fin.computer, r4688), win_id(fin.computer, rsys), win_id(fin.computer, r4104)]], related_record_ids=[fin_ual["Id"]],
           why="Hidden powershell -enc (UTF-16LE base64) whose decoded text runs Add-MailboxPermission FullAccess on marcus.webb for helpdesk.t2 (4688 + Sysmon 1 carry the encoded command line, 4104 the decoded block); UAL record 9 s later. No ticket.")
    expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=ORG, mailbox=U["marcus.webb"], trustee=U["helpdesk.t2"],
           evidence_record_ids=[fin_ual["Id"]], why="Successful Add-MailboxPermission FullAccess, no ticket.")
    silent(F, "AN1350", "Internal helpdesk delegation on marcus.webb from the office NAT (no partner involved).", [fin_ual["Id"]])

    # failed / negative Exchange admin operations
    failed = ual_exchange_admin(g, dt("2026-03-13T11:02:40"), ORG, ORGNAME, "Add-MailboxPermission", U["helpdesk.t2"],
                                P(Identity=U["priya.nair"], User=U["helpdesk.t2"], AccessRights="FullAccess"), user_type=2, ip="198.18.0.17", result="False",
                                object_id=U["priya.nair"])
    removed = ual_exchange_admin(g, dt("2026-03-13T11:30:12"), ORG, ORGNAME, "Remove-MailboxPermission", U["it.admin"],
                                 P(Identity=U["tom.becker"], User=U["ethan.clark"], AccessRights="FullAccess", Confirm="False"), user_type=2, ip="198.18.0.11",
                                 object_id=U["tom.becker"])
    ual += [failed, removed]
    silent(F, "AN1051", "System (ServiceHost) Add-MailboxPermission on the DiscoverySearchMailbox, a failed Add-MailboxPermission (ResultStatus False), and a Remove-MailboxPermission.",
           [sys_perm["Id"], failed["Id"], removed["Id"]])

    # ---------------- host noise ----------------
    noise_scripts = ["Get-Mailbox -ResultSize 50 | Select-Object DisplayName,PrimarySmtpAddress",
                     "Get-MailboxPermission -Identity %s | Where-Object { $_.IsInherited -eq $false }" % U["tom.becker"],
                     "Get-EXOMailboxStatistics -Identity %s" % U["sofia.rossi"],
                     "Set-Mailbox -Identity %s -ProhibitSendQuota 49GB -ProhibitSendReceiveQuota 50GB -IssueWarningQuota 48GB" % U["liam.ocon"],
                     "Remove-MailboxPermission -Identity %s -User %s -AccessRights FullAccess -Confirm:$false" % (U["tom.becker"], U["ethan.clark"]),
                     "Get-Date; Get-Service -Name W32Time", "$PSVersionTable", "Get-RecipientPermission -Identity %s" % U["emma.fischer"]]
    silent_host = []
    adm_n = 0
    for i in range(70):
        t = dt("2026-03-09T08:00:00") + timedelta(minutes=127 * i)
        h = adm if i % 2 == 0 else fin
        sid = SID_ADMIN if h is adm else SID_MARCUS
        k = i % 10
        if k < 4:
            if h is adm:
                adm_n += 1
            rid, e = evtx_4104(h, t, sid, noise_scripts[adm_n % len(noise_scripts)] if h is adm else "Get-ChildItem -Path $env:TEMP -Filter *.log | Remove-Item", g.guid())
            if h is adm and ("Get-MailboxPermission" in e["Event"]["EventData"]["ScriptBlockText"] or "Set-Mailbox" in e["Event"]["EventData"]["ScriptBlockText"]
                             or "Remove-MailboxPermission" in e["Event"]["EventData"]["ScriptBlockText"] or "Get-RecipientPermission" in e["Event"]["EventData"]["ScriptBlockText"]):
                silent_host.append(win_id(h.computer, rid))
        elif k < 8:
            img = g.pick(["C:\\Program Files\\Microsoft\\Edge\\Application\\msedge.exe", "C:\\Windows\\System32\\svchost.exe",
                          "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", "C:\\Windows\\System32\\conhost.exe"])
            rid, e = evtx_4688(h, t, sid, "it.admin" if h is adm else "marcus.webb", "NORTHWIND", img, "\"%s\"" % img, "C:\\Windows\\explorer.exe")
        else:
            rid, e = evtx_sysmon1(h, t, "NORTHWIND\\it.admin" if h is adm else "NORTHWIND\\marcus.webb",
                                  "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                                  "powershell.exe -NoProfile -File C:\\Scripts\\Inventory.ps1", "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE")
        win.append(e)
    silent(F, "AN1052", "Read-only or non-permission Exchange cmdlets on ADM-WS01 (Get-MailboxPermission, Get-RecipientPermission, Set-Mailbox quota change, Remove-MailboxPermission).", silent_host)

    # ---------------- write ----------------
    ual.sort(key=ual_key)
    write_jsonl(os.path.join(out, "ual-management-api.jsonl"), ual)
    signins.sort(key=lambda r: r["createdDateTime"])
    write_json(os.path.join(out, "entra-signins-graph.json"), {"@odata.context": "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns", "value": signins}, indent=1)
    audits.sort(key=lambda r: r["activityDateTime"])
    write_json(os.path.join(out, "entra-directoryaudits-graph.json"), {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits", "value": audits}, indent=1)
    win.sort(key=lambda e: e["Event"]["System"]["TimeCreated"]["#attributes"]["SystemTime"])
    write_jsonl(os.path.join(out, "windows-evtx_dump.jsonl"), win)
    with open(os.path.join(out, "trustpath.toml"), "w") as f:
        f.write('''# Northwind Traders — context for trustpath (format: crates/trustpath-context/CONTEXT.md)
[settings]
first_seen_learning = "3d"

[[partners]]
name = "Adatum Managed Services"
tenant_id = "%s"
cidrs = ["198.51.100.0/27"]
approved = true
approved_roles = ["Exchange Administrator", "Helpdesk Administrator"]
domains = ["adatum-ms.com"]

[[partners.support_windows]]
days = ["mon", "tue", "wed", "thu", "fri"]
start = "08:00"
end = "18:00"
timezone = "Europe/Berlin"

[sensitive_mailboxes]
executive = ["olivia.chen@%s", "ceo@%s"]
finance = ["finance-*@%s", "marcus.webb@%s"]

[admins]
accounts = ["it.admin@%s", "NORTHWIND\\\\it.admin"]
hosts = ["adm-ws01.northwind.local"]

[change_tickets]
csv = "tickets.csv"
''' % (ADA, DOM, DOM, DOM, DOM, DOM))
    with open(os.path.join(out, "tickets.csv"), "w", newline="") as f:
        f.write("id,start,end,actor,target,action\r\n")
        f.write("CHG-2026-0312,2026-03-12T13:00:00Z,2026-03-12T17:00:00Z,,%s,Add-MailboxPermission\r\n" % U["olivia.chen"])
        f.write("CHG-2026-0301,2026-03-02T09:00:00Z,2026-03-02T10:00:00Z,%s,%s,Set-Mailbox*\r\n" % (U["it.admin"], U["liam.ocon"]))
    return {"ual-management-api.jsonl": len(ual), "entra-signins-graph.json": len(signins), "entra-directoryaudits-graph.json": len(audits),
            "windows-evtx_dump.jsonl": len(win), "_other_tenant_ids": other_ids, "org": ORG, "other": OTHER_ORG}


# ============================================================================
# Tenant B — Woodgrove Bank: legacy DAP chain (Purview CSV export), partner
# listed but not approved, access from its configured CIDR; approved partner
# DAP + folder delegation inside its window; GDAP role + delegation followed by
# failed sign-ins only; a second tenant's records in the same export; host logs
# as Winlogbeat/ECS.
# ============================================================================

def tenant_woodgrove():
    F = "tenant-woodgrove"
    out = os.path.join(HERE, F)
    os.makedirs(out, exist_ok=True)
    g = Gen(2202)
    ORG = "d4c3b2a1-7e6f-4a5b-9c8d-0f1e2d3c4b5a"
    DOM = "woodgrovebank.onmicrosoft.com"
    ORGNAME = DOM
    EU_ORG = "8e9f0a1b-2c3d-4e5f-8a6b-7c8d9e0f1a2b"   # Woodgrove Europe — another tenant in the same export
    EU_DOM = "woodgroveeu.onmicrosoft.com"
    NAT = ["198.18.40.%d" % i for i in range(2, 9)]
    HOME = ["198.19.80.%d" % i for i in range(20, 60, 7)]
    PROSE = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"    # Proseware Consulting — listed, approved=false — attacker (DAP)
    PROSE_SI_IP = "192.0.2.150"
    PROSE_ACC_IP = "192.0.2.151"                      # inside its configured 192.0.2.128/25, never seen on a sign-in
    ADA = "a9e2b4c6-1d3f-4a5b-8c7d-9e0f1a2b3c4d"      # Adatum — approved (window America/New_York)
    ADA_IP = "198.51.100.22"
    FOURTH = "7a8b9c0d-1e2f-4a3b-9c4d-5e6f7a8b9c0d"   # Fourth Coffee IT — unknown; relationship + delegation, failed sign-ins only
    FOURTH_IP = "203.0.113.90"
    users = ["ceo", "treasury", "ap.clerk", "hr.records", "nina.patel", "oscar.lind", "grace.obi", "henry.zhou", "ivy.moreau",
             "jack.silva", "kara.novak", "it.ops", "ea.assistant"]
    U = {u: "%s@%s" % (u, DOM) for u in users}
    ual, signins = [], []
    base = dt("2026-04-13T06:00:00")  # Monday
    for day in range(5):
        d0 = base + timedelta(days=day)
        for u in users:
            if u in ("treasury", "hr.records"):
                continue  # shared mailboxes
            ip = g.pick(NAT) if g.r.random() < 0.75 else g.pick(HOME)
            t = d0 + timedelta(minutes=g.r.randint(0, 600))
            signins.append(graph_signin(g, t, upn=U[u], display=u.replace(".", " ").title(), ip=ip, resource_tenant=ORG, mfa=g.r.random() < 0.8,
                                        city=("New York", "New York", "US"), interactive=g.r.random() < 0.6))
            for _ in range(g.r.randint(1, 3)):
                ual.append(ual_mail_items_accessed(g, t + timedelta(minutes=g.r.randint(1, 300)), ORG, ORGNAME, U[u], U[u], ip,
                                                   client=g.pick(["Client=OWA;Action=ViewInbox;", "Client=REST;Client=RESTSystem;;"])))
            if u in ("ap.clerk", "nina.patel") and day < 4:
                # treasury is a shared mailbox the finance team uses every day from the office
                ual.append(ual_mail_items_accessed(g, t + timedelta(minutes=g.r.randint(5, 200)), ORG, ORGNAME, U[u], U["treasury"], g.pick(NAT), logon_type=2))
        ual.append(ual_exchange_admin(g, d0 + timedelta(minutes=g.r.randint(0, 90)), ORG, ORGNAME, "Set-Mailbox", "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
                                      P(Identity="NAMPR11A004.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/%s/%s" % (DOM, g.pick(users)), LitigationHoldEnabled="False", Force="True"),
                                      user_type=3, external=True))
        ual.append(ual_aad_admin_noise(g, d0 + timedelta(minutes=g.r.randint(60, 500)), ORG, U["it.ops"], "Update user.", U[g.pick(users)]))
        signins.append(graph_signin(g, d0 + timedelta(minutes=g.r.randint(0, 600)), upn=U[g.pick(users)], display="", ip="203.0.113.%d" % g.r.randint(2, 60),
                                    resource_tenant=ORG, error=50126, failure="Invalid username or password or Invalid on-premise username or password.", mfa=False))
    # other tenant (Woodgrove Europe) in the same export: a Proseware technician delegates & reads there, but there is no relationship in THAT tenant
    eu_deleg = ual_exchange_admin(g, dt("2026-04-15T09:14:03"), EU_ORG, EU_DOM, "Add-MailboxPermission", "m.hale@proseware-consult.com",
                                  P(Identity="payments@" + EU_DOM, User="m.hale@proseware-consult.com", AccessRights="FullAccess"),
                                  user_type=9, external=True, ip="192.0.2.160", token_tenant=PROSE, object_id="payments@" + EU_DOM)
    eu_acc = ual_mail_items_accessed(g, dt("2026-04-15T09:40:10"), EU_ORG, EU_DOM, "m.hale@proseware-consult.com", "payments@" + EU_DOM, "192.0.2.160",
                                     logon_type=2, external=True, ext_tenant=PROSE)
    eu_noise = [ual_mail_items_accessed(g, dt("2026-04-14T08:00:00") + timedelta(minutes=53 * i), EU_ORG, EU_DOM, "lena.berg@" + EU_DOM, "lena.berg@" + EU_DOM,
                                        "198.18.77.%d" % (3 + i)) for i in range(8)]
    ual += [eu_deleg, eu_acc] + eu_noise
    silent(F, "AN1350", "Woodgrove Europe (another OrganizationId in the same export): Proseware delegation + access there, but the Proseware relationship exists only in Woodgrove Bank; a chain must not cross tenants.",
           [eu_deleg["Id"], eu_acc["Id"]] + [r["Id"] for r in eu_noise])
    expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=EU_ORG, mailbox="payments@" + EU_DOM, trustee="m.hale@proseware-consult.com",
           evidence_record_ids=[eu_deleg["Id"]], why="Successful Add-MailboxPermission FullAccess in the Woodgrove Europe tenant.")

    # ---------------- ATTACK B-1: Proseware DAP → FullAccess on treasury → access from its CIDR ----------------
    dap = ual_add_partner(g, dt("2026-04-14T16:20:11"), ORG, PROSE, "Proseware Consulting", "admin@proseware-consult.com", PROSE)
    p_si = graph_signin(g, dt("2026-04-14T16:38:50"), upn="m.hale@proseware-consult.com", display="Proseware Consulting Technician", ip=PROSE_SI_IP,
                        resource_tenant=ORG, home_tenant=PROSE, home_name="Proseware Consulting", cta="serviceProvider", app=EXO_PS_APP,
                        mfa=True, city=("Lagos", "Lagos", "NG"))
    p_deleg = ual_exchange_admin(g, dt("2026-04-14T16:45:37"), ORG, ORGNAME, "Add-MailboxPermission", "m.hale@proseware-consult.com",
                                 P(Identity=U["treasury"], User="m.hale@proseware-consult.com", AccessRights="FullAccess", InheritanceType="All"),
                                 user_type=2, external=True, ip=PROSE_SI_IP, token_tenant=PROSE, object_id=U["treasury"])
    p_acc = ual_mail_items_accessed(g, dt("2026-04-15T02:12:09"), ORG, ORGNAME, "m.hale@proseware-consult.com", U["treasury"], PROSE_ACC_IP,
                                    logon_type=2, external=True, client="Client=REST;Client=RESTSystem;;", folders=("\\Inbox", "\\Inbox\\Wire Approvals"), nitems=22,
                                    access="Sync")
    ual += [dap, p_deleg, p_acc]
    signins.append(p_si)
    expect(tenant_folder=F, analytic="AN1350", kind="alert", customer_tenant_id=ORG, partner_tenant_id=PROSE, mailbox=U["treasury"],
           trustee="m.hale@proseware-consult.com", evidence_record_ids=[dap["Id"], p_deleg["Id"], p_acc["Id"]], related_record_ids=[p_si["id"]],
           why="Legacy DAP: 'Add partner to company.' performed from Proseware's tenant (ActorContextId=Proseware) -> Proseware admin (ExternalAccess, TokenTenantId=Proseware, domain proseware-consult.com listed in trustpath.toml) grants himself FullAccess on the treasury shared mailbox -> the same account syncs the mailbox from 192.0.2.151 (in Proseware's configured cidrs 192.0.2.128/25) 10 hours later. Proseware is listed but approved=false.")
    expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=ORG, mailbox=U["treasury"], trustee="m.hale@proseware-consult.com",
           evidence_record_ids=[p_deleg["Id"]], why="Successful Add-MailboxPermission FullAccess on a finance mailbox.")
    expect(tenant_folder=F, analytic="AN1347", kind="any", customer_tenant_id=ORG, partner_tenant_id=PROSE, evidence_any_of=[[p_si["id"], dap["Id"]]],
           why="Partner Proseware is listed with approved=false: its serviceProvider sign-in / DAP relationship are outside what the customer trusts.")

    # ---------------- LOOK-ALIKE B-L1: Adatum (approved) DAP accepted by customer, folder delegation, access inside window ----------------
    # Window Mon-Fri 07:00-19:00 America/New_York (EDT, UTC-4) => 11:00-23:00 UTC.
    a_dap = ual_add_partner(g, dt("2026-04-13T15:00:05"), ORG, ADA, "Adatum Managed Services", U["it.ops"], ORG)
    a_si = graph_signin(g, dt("2026-04-14T14:01:00"), upn="r.osei@adatum-ms.com", display="Adatum Managed Services Technician", ip=ADA_IP,
                        resource_tenant=ORG, home_tenant=ADA, home_name="Adatum Managed Services", cta="serviceProvider", app=EXO_PS_APP, mfa=True,
                        city=("Boston", "Massachusetts", "US"))
    a_deleg = ual_exchange_admin(g, dt("2026-04-14T14:06:44"), ORG, ORGNAME, "Add-MailboxFolderPermission", "r.osei@adatum-ms.com",
                                 P(Identity=U["ceo"] + ":\\Calendar", User="r.osei@adatum-ms.com", AccessRights="Editor", SharingPermissionFlags="None"),
                                 user_type=2, external=True, ip=ADA_IP, token_tenant=ADA, object_id=U["ceo"] + ":\\Calendar")
    a_acc = ual_mail_items_accessed(g, dt("2026-04-14T14:30:15"), ORG, ORGNAME, "r.osei@adatum-ms.com", U["ceo"], ADA_IP, logon_type=2, external=True,
                                    ext_tenant=ADA, folders=("\\Calendar",))
    ual += [a_dap, a_deleg, a_acc]
    signins.append(a_si)
    a_ids = [a_dap["Id"], a_deleg["Id"], a_acc["Id"], a_si["id"]]
    silent(F, "AN1350", "Approved partner Adatum (DAP accepted by the customer's it.ops) adds Editor on the CEO calendar and reads it from its configured range, all inside its Mon-Fri 07-19 America/New_York window.", a_ids)
    silent(F, "AN1347", "Approved partner Adatum inside its window with MFA satisfied, from its cidrs.", a_ids)
    expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=ORG, mailbox=U["ceo"], trustee="r.osei@adatum-ms.com",
           evidence_record_ids=[a_deleg["Id"]], why="Successful Add-MailboxFolderPermission Editor on Calendar (approved partner, no ticket).")

    # ---------------- LOOK-ALIKE B-L2: Fourth Coffee GDAP role + delegation, then only failed sign-ins ----------------
    f_role = ual_gdap_role(g, dt("2026-04-15T10:02:00"), ORG, FOURTH, "Exchange Administrator", "Fourth Coffee AdminAgents")
    f_si_ok = graph_signin(g, dt("2026-04-15T10:20:31"), upn="d.ng@fourthcoffee-it.com", display="Fourth Coffee IT Technician", ip=FOURTH_IP,
                           resource_tenant=ORG, home_tenant=FOURTH, home_name="Fourth Coffee IT", cta="serviceProvider", app=EXO_PS_APP, mfa=True,
                           city=("Toronto", "Ontario", "CA"))
    f_deleg = ual_exchange_admin(g, dt("2026-04-15T10:24:10"), ORG, ORGNAME, "Add-MailboxPermission", "d.ng@fourthcoffee-it.com",
                                 P(Identity=U["hr.records"], User="d.ng@fourthcoffee-it.com", AccessRights="FullAccess"),
                                 user_type=9, external=True, ip=FOURTH_IP, token_tenant=FOURTH, object_id=U["hr.records"])
    f_fail = [graph_signin(g, dt("2026-04-15T11:05:00") + timedelta(minutes=4 * i), upn="d.ng@fourthcoffee-it.com", display="Fourth Coffee IT Technician",
                           ip=FOURTH_IP, resource_tenant=ORG, home_tenant=FOURTH, home_name="Fourth Coffee IT", cta="serviceProvider", app=OWA_APP,
                           error=code, failure=reason, mfa=False, city=("Toronto", "Ontario", "CA"))
              for i, (code, reason) in enumerate([(53003, "Access has been blocked by Conditional Access policies."),
                                                  (53003, "Access has been blocked by Conditional Access policies."),
                                                  (50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access.")])]
    ual += [f_role, f_deleg]
    signins += [f_si_ok] + f_fail
    silent(F, "AN1350", "Fourth Coffee: GDAP role assignment and FullAccess on hr.records by its technician, but every sign-in after the delegation fails (errorCode 53003/50076) and no MailItemsAccessed follows: a partial chain, at most a hunting lead.",
           [f_role["Id"], f_deleg["Id"], f_si_ok["id"]] + [s["id"] for s in f_fail])
    expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=ORG, mailbox=U["hr.records"], trustee="d.ng@fourthcoffee-it.com",
           evidence_record_ids=[f_deleg["Id"]], why="Successful Add-MailboxPermission FullAccess by an unknown partner's technician.")
    expect(tenant_folder=F, analytic="AN1347", kind="any", customer_tenant_id=ORG, partner_tenant_id=FOURTH, evidence_any_of=[[f_role["Id"], f_si_ok["id"]]],
           why="Unknown partner Fourth Coffee (not in trustpath.toml) given Exchange Administrator through GDAP and signing in as service provider.")

    # ---------------- AN1052 / AN1051: host-side grants ----------------
    fin = Host(g, "WG-FIN-PC12.woodgrove.local", "WOODGROVE", {"ps": 5120, "sec": 774100, "sysmon": 0})
    adm = Host(g, "WG-ADM02.woodgrove.local", "WOODGROVE", {"ps": 91000, "sec": 1204400, "sysmon": 0})
    SID_AP = g.sid(2231)
    SID_OPS = g.sid(2100)
    win, silent_host = [], []
    # B-H1: -ec folder permission from a finance PC; 4104 not enabled on this host (only 4688)
    t1 = dt("2026-04-16T13:22:48")
    txt = "Add-MailboxFolderPermission -Identity '%s:\\Calendar' -User 'ext.consult@%s' -AccessRights Editor" % (U["ceo"], DOM)
    c1 = "powershell.exe -NoP -NonI -W Hidden -ec %s" % b64_utf16(txt)
    r1, e = ecs_4688(fin, t1, SID_AP, "WOODGROVE\\ap.clerk", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", c1,
                     "C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE")
    win.append(e)
    u1 = ual_exchange_admin(g, t1 + timedelta(seconds=14), ORG, ORGNAME, "Add-MailboxFolderPermission", U["ap.clerk"],
                            P(Identity=U["ceo"] + ":\\Calendar", User="ext.consult@" + DOM, AccessRights="Editor"), user_type=2, ip="198.18.40.5",
                            object_id=U["ceo"] + ":\\Calendar")
    ual.append(u1)
    expect(tenant_folder=F, analytic="AN1052", kind="alert", customer_tenant_id=ORG, host=fin.computer, mailbox=U["ceo"], trustee="ext.consult@" + DOM,
           evidence_record_ids=[win_id(fin.computer, r1)], related_record_ids=[u1["Id"]],
           why="4688 only: hidden powershell -ec (UTF-16LE base64) spawned by EXCEL.EXE; decoded text runs Add-MailboxFolderPermission Editor on the CEO calendar. UAL record 14 s later.")
    expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=ORG, mailbox=U["ceo"], trustee="ext.consult@" + DOM,
           evidence_record_ids=[u1["Id"]], why="Successful Add-MailboxFolderPermission Editor on the CEO calendar.")
    # B-H2: alias hides Set-Mailbox -GrantSendOnBehalfTo
    t2 = dt("2026-04-16T18:05:30")
    txt2 = "$m = '%s'\nSet-Alias -Name smb -Value Set-Mailbox\nsmb -Identity $m -GrantSendOnBehalfTo @{Add='%s'}" % (U["treasury"], U["ap.clerk"])
    r2, e = ecs_4104(adm, t2, SID_OPS, "WOODGROVE\\it.ops", txt2, g.guid())
    win.append(e)
    u2 = ual_exchange_admin(g, t2 + timedelta(seconds=6), ORG, ORGNAME, "Set-Mailbox", U["it.ops"],
                            P(Identity=U["treasury"], GrantSendOnBehalfTo=U["ap.clerk"]), user_type=2, ip="198.18.40.3", object_id=U["treasury"])
    ual.append(u2)
    expect(tenant_folder=F, analytic="AN1052", kind="any", customer_tenant_id=ORG, host=adm.computer, mailbox=U["treasury"], trustee=U["ap.clerk"],
           evidence_record_ids=[win_id(adm.computer, r2)], related_record_ids=[u2["Id"]],
           why="4104: an alias (smb -> Set-Mailbox) runs Set-Mailbox -GrantSendOnBehalfTo on the treasury mailbox; no ticket. Same change in the UAL.")
    expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=ORG, mailbox=U["treasury"], trustee=U["ap.clerk"],
           evidence_record_ids=[u2["Id"]], why="Successful Set-Mailbox with GrantSendOnBehalfTo.")
    # mailbox-audit AddFolderPermissions from Outlook by the CEO for the assistant
    fp = ual_folder_perm_audit(g, dt("2026-04-15T13:41:09"), ORG, ORGNAME, U["ceo"], U["ea.assistant"],
                               "ReadAny, Create, EditOwned, DeleteOwned, EditAny, DeleteAny, Visible, FolderVisible", "\\Calendar", ip="198.18.40.4")
    ual.append(fp)
    expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=ORG, mailbox=U["ceo"], trustee=U["ea.assistant"],
           evidence_record_ids=[fp["Id"]], why="Mailbox-audit AddFolderPermissions on the CEO's Calendar with editor-level MemberRights (Outlook, by the owner).")
    silent(F, "AN1350", "Internal host-side / owner delegations in Woodgrove Bank (no partner).", [u1["Id"], u2["Id"], fp["Id"]])
    silent(F, "AN1350", "Daily accesses to the treasury and CEO mailboxes by Woodgrove's own staff from the office NAT / home IPs (customer-side actors, never partner access).",
           [r["Id"] for r in ual if r.get("Operation") == "MailItemsAccessed" and r["OrganizationId"] == ORG
            and r["MailboxOwnerUPN"] in (U["treasury"], U["ceo"]) and r["UserId"].endswith("@" + DOM)])
    # non-permission Set-Mailbox and reads
    for i, s in enumerate(["Get-Mailbox -Identity %s | Format-List GrantSendOnBehalfTo" % U["treasury"],
                           "Set-Mailbox -Identity %s -MaxSendSize 35MB -MaxReceiveSize 35MB" % U["jack.silva"],
                           "Get-MailboxFolderPermission -Identity '%s:\\Calendar'" % U["ceo"],
                           "Remove-MailboxFolderPermission -Identity '%s:\\Calendar' -User '%s' -Confirm:$false" % (U["ceo"], U["kara.novak"])]):
        r, e = ecs_4104(adm, dt("2026-04-14T15:00:00") + timedelta(hours=5 * i), SID_OPS, "WOODGROVE\\it.ops", s, g.guid())
        win.append(e)
        silent_host.append(win_id(adm.computer, r))
    for i in range(60):
        h = fin if i % 3 else adm
        img = g.pick(["C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE", "C:\\Windows\\System32\\svchost.exe",
                      "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"])
        cmd = "\"%s\"" % img if not img.endswith("powershell.exe") else "powershell.exe -ExecutionPolicy Bypass -File \\\\wg-fs01\\netlogon\\mapdrives.ps1"
        r, e = ecs_4688(h, dt("2026-04-13T12:00:00") + timedelta(minutes=97 * i), SID_AP if h is fin else SID_OPS,
                        "WOODGROVE\\ap.clerk" if h is fin else "WOODGROVE\\it.ops", img, cmd, "C:\\Windows\\explorer.exe")
        win.append(e)
    for i in range(25):
        r, e = ecs_4104(adm, dt("2026-04-13T13:10:00") + timedelta(minutes=211 * i), SID_OPS, "WOODGROVE\\it.ops",
                        g.pick(["Get-ADUser -Filter * -SearchBase 'OU=Finance,DC=woodgrove,DC=local' | Measure-Object", "Get-Process | Sort-Object CPU -Descending | Select-Object -First 5",
                                "Test-NetConnection outlook.office365.com -Port 443", "Get-EXOMailbox -ResultSize 10"]), g.guid())
        win.append(e)
    silent(F, "AN1052", "Read-only cmdlets, a non-permission Set-Mailbox (size limits) and a Remove-MailboxFolderPermission on WG-ADM02.", silent_host)

    ual.sort(key=ual_key)
    write_purview_csv(os.path.join(out, "purview-audit-export.csv"), ual)
    signins.sort(key=lambda r: r["createdDateTime"])
    write_jsonl(os.path.join(out, "entra-signins.jsonl"), signins)
    win.sort(key=lambda e: e["@timestamp"])
    write_jsonl(os.path.join(out, "winlogbeat-ecs.ndjson"), win)
    with open(os.path.join(out, "trustpath.toml"), "w") as f:
        f.write('''# Woodgrove Bank — context for trustpath
[[partners]]
name = "Adatum Managed Services"
tenant_id = "%s"
cidrs = ["198.51.100.16/28"]
approved = true
domains = ["adatum-ms.com"]

[[partners.support_windows]]
days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
start = "07:00"
end = "19:00"
timezone = "America/New_York"

[[partners]]
name = "Proseware Consulting"
tenant_id = "%s"
cidrs = ["192.0.2.128/25"]
approved = false
domains = ["proseware-consult.com"]

[sensitive_mailboxes]
finance = ["treasury@%s", "ap.*@%s"]
executive = ["ceo@%s"]
legal = ["hr.records@%s"]

[admins]
accounts = ["it.ops@%s"]
hosts = ["WG-ADM02"]

[analytics.AN1350]
window = "7d"
''' % (ADA, PROSE.upper(), DOM, DOM, DOM, DOM, DOM))
    return {"purview-audit-export.csv": len(ual), "entra-signins.jsonl": len(signins), "winlogbeat-ecs.ndjson": len(win), "org": ORG, "other": EU_ORG}


# ============================================================================
# Tenant C — Tailspin Toys: GDAP via Entra directory audits (Graph), GDAP XTAP
# update + ApplicationImpersonation in the UAL (content-blob JSON array), a B2B
# cross-tenant setting by an internal admin, a partner without relationship in
# this tenant, AN1347 policy violations; host logs as NXLog flat JSON and the
# MSExchange Management channel (evtx_dump JSON).
# ============================================================================

def tenant_tailspin():
    F = "tenant-tailspin"
    out = os.path.join(HERE, F)
    os.makedirs(out, exist_ok=True)
    g = Gen(3303)
    ORG = "9b8a7c6d-5e4f-4321-a0b9-c8d7e6f5a4b3"
    DOM = "tailspintoys.onmicrosoft.com"
    ORGNAME = DOM
    LABS = "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f60"   # Tailspin Labs — another tenant present in the same export
    NAT = ["198.18.120.%d" % i for i in range(4, 12)]
    HOME = ["198.19.200.%d" % i for i in range(3, 40, 6)]
    WING = "e1d2c3b4-a5f6-4e7d-8c9b-0a1f2e3d4c5b"   # Wingtip Partners — unknown — attacker (GDAP via Entra audits)
    WING_IP = "203.0.113.201"
    WING_ADMIN_IP = "203.0.113.200"
    RELE = "4a5b6c7d-8e9f-4a0b-b1c2-d3e4f5a6b7c8"   # Relecloud Services — unknown — attacker (XTAP update + impersonation)
    RELE_IP = "198.51.100.200"
    LUCERNE = "6c7d8e9f-0a1b-4c2d-83e4-f5a6b7c8d9e0"  # Lucerne Publishing IT — unknown; delegation+access here, relationship only in Tailspin Labs
    LUC_IP = "192.0.2.40"
    CONTOSO_B2B = "f0e1d2c3-b4a5-4968-8776-655443322110"  # Contoso Ltd — plain B2B collaboration partner org
    COHO = "0c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f"     # Coho Managed IT — approved, roles limited to Helpdesk Administrator
    CONTOSO_MSP = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"  # Alpine Ski IT — approved, window Mon-Fri 08-18 UTC
    MARGIE = "8f9e0d1c-2b3a-4f5e-9d8c-7b6a5f4e3d2c"   # Margie's Travel IT — approved, MFA required
    users = ["ceo", "finance.lead", "dana.lee", "eli.grant", "fay.wong", "gus.ruiz", "hana.ito", "ian.frost", "jade.kaur", "kai.berg",
             "it.ops", "svc-helpdesk", "marketing-shared"]
    U = {u: "%s@%s" % (u, DOM) for u in users}
    ual, signins, audits = [], [], []
    base = dt("2026-02-16T07:00:00")  # Monday
    for day in range(5):
        d0 = base + timedelta(days=day)
        for u in users[:10]:
            ip = g.pick(NAT) if g.r.random() < 0.8 else g.pick(HOME)
            t = d0 + timedelta(minutes=g.r.randint(0, 560))
            signins.append(graph_signin(g, t, upn=U[u], display=u.replace(".", " ").title(), ip=ip, resource_tenant=ORG, mfa=True, city=("Paris", "Ile-de-France", "FR")))
            for _ in range(g.r.randint(1, 3)):
                ual.append(ual_mail_items_accessed(g, t + timedelta(minutes=g.r.randint(1, 300)), ORG, ORGNAME, U[u], U[u], ip))
        ual.append(ual_exchange_admin(g, d0 + timedelta(minutes=g.r.randint(0, 60)), ORG, ORGNAME, "Set-Mailbox", "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
                                      P(Identity="EURPR05A003.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/%s/%s" % (DOM, g.pick(users)), SingleItemRecoveryEnabled="True"),
                                      user_type=3, external=True))
        audits.append(graph_audit(g, d0 + timedelta(minutes=g.r.randint(60, 400)), "Update user", "UserManagement", initiated_user=(U["it.ops"], g.pick(NAT), None),
                                  op_type="Update", targets=[{"id": g.guid(), "displayName": None, "type": "User", "userPrincipalName": U[g.pick(users[:10])], "groupType": None,
                                                              "modifiedProperties": [mp("JobTitle", "[]", "[\"Analyst\"]")]}]))
        audits.append(graph_audit(g, d0 + timedelta(minutes=g.r.randint(60, 400)), "Reset user password", "UserManagement", initiated_user=(U["it.ops"], g.pick(NAT), None),
                                  op_type="Update", targets=[{"id": g.guid(), "displayName": None, "type": "User", "userPrincipalName": U[g.pick(users[:10])], "groupType": None, "modifiedProperties": []}]))
    # Tailspin Labs records in the same export
    labs_noise = [ual_mail_items_accessed(g, dt("2026-02-17T09:00:00") + timedelta(minutes=71 * i), LABS, "tailspinlabs.onmicrosoft.com", "rd.bot@tailspinlabs.onmicrosoft.com",
                                          "rd.bot@tailspinlabs.onmicrosoft.com", "198.18.200.9") for i in range(6)]
    ual += labs_noise

    # ---------------- ATTACK C-1: Wingtip GDAP (Entra audits) → folder Editor on CEO Inbox → access ----------------
    w_sp = graph_audit(g, dt("2026-02-17T09:58:31"), "Add service principal", "ApplicationManagement", initiated_app=("", "Microsoft Azure AD Internal - Jit Provisioning"),
                       targets=[{"id": g.guid(), "displayName": APP_PCDA[1], "type": "ServicePrincipal", "userPrincipalName": None, "groupType": None,
                                 "modifiedProperties": [mp("AppId", "[]", json.dumps([APP_PCDA[0]]))]}],
                       additional=[{"key": "AppId", "value": APP_PCDA[0]}])
    w_xtap = graph_audit(g, dt("2026-02-17T10:00:02"), "Add a partner to cross-tenant access setting", "CrossTenantAccessSettings", initiated_app=APP_PCDA,
                         targets=[{"id": g.guid(), "displayName": None, "type": "Policy", "userPrincipalName": None, "groupType": None,
                                   "modifiedProperties": [mp("tenantId", "[]", json.dumps([WING])), mp("isServiceProvider", "[]", "[true]"),
                                                          mp("inboundTrust", "[]", json.dumps([{"isMfaAccepted": True, "isCompliantDeviceAccepted": False, "isHybridAzureADJoinedDeviceAccepted": False}]))]}])
    w_role = graph_audit(g, dt("2026-02-17T10:00:36"), "Add member to role", "RoleManagement", initiated_app=APP_OFFLINE,
                         targets=[{"id": g.guid(), "displayName": "Wingtip AdminAgents", "type": "Group", "userPrincipalName": None, "groupType": None,
                                   "modifiedProperties": [mp("Role.ObjectID", None, json.dumps(g.guid())), mp("Role.DisplayName", None, "\"Exchange Administrator\""),
                                                          mp("Role.TemplateId", None, json.dumps(ROLES["Exchange Administrator"][0])),
                                                          mp("Role.WellKnownObjectName", None, "\"ExchangeServiceAdmins\"")]},
                                  {"id": g.guid(), "displayName": "Exchange Administrator", "type": "Role", "userPrincipalName": None, "groupType": None, "modifiedProperties": []}],
                         op_type="Assign")
    audits += [w_sp, w_xtap, w_role]
    TECH_OID = g.guid()
    w_si1 = graph_signin(g, dt("2026-02-17T11:14:02"), upn="user_%s@%s" % (TECH_OID.replace("-", ""), DOM), display="Wingtip Partners Technician", ip=WING_ADMIN_IP,
                         resource_tenant=ORG, home_tenant=WING, home_name="Wingtip Partners", cta="serviceProvider", app=EXO_PS_APP, mfa=True, city=("Dublin", "Dublin", "IE"))
    w_deleg = ual_exchange_admin(g, dt("2026-02-17T11:19:40"), ORG, ORGNAME, "Add-MailboxFolderPermission", "user_%s@%s" % (TECH_OID.replace("-", ""), DOM),
                                 P(Identity=U["ceo"] + ":\\Inbox", User="j.park@wingtip-partners.com", AccessRights="Editor"),
                                 user_type=9, external=True, ip=WING_ADMIN_IP, token_tenant=WING, object_id=U["ceo"] + ":\\Inbox")
    w_si2 = graph_signin(g, dt("2026-02-18T07:02:10"), upn="j.park@wingtip-partners.com", display="Jin Park", ip=WING_IP, resource_tenant=ORG, home_tenant=WING,
                         home_name="Wingtip Partners", cta="serviceProvider", app=OWA_APP, mfa=True, city=("Dublin", "Dublin", "IE"))
    w_acc = ual_mail_items_accessed(g, dt("2026-02-18T07:05:44"), ORG, ORGNAME, "j.park@wingtip-partners.com", U["ceo"], WING_IP, logon_type=2, external=True,
                                    ext_tenant=WING, folders=("\\Inbox",), nitems=31, client="Client=OWA;Action=ViewInbox;")
    ual += [w_deleg, w_acc]
    signins += [w_si1, w_si2]
    expect(tenant_folder=F, analytic="AN1350", kind="alert", customer_tenant_id=ORG, partner_tenant_id=WING, mailbox=U["ceo"], trustee="j.park@wingtip-partners.com",
           evidence_record_ids=[w_deleg["Id"], w_acc["Id"]], evidence_any_of=[[w_xtap["id"], w_role["id"]]], related_record_ids=[w_sp["id"], w_si1["id"], w_si2["id"]],
           why="GDAP seen only in Entra directory audits (Graph): XTAP serviceProvider setting for Wingtip by Partner Customer Delegated Administration, Wingtip AdminAgents added to Exchange Administrator by the Offline Processor -> a Wingtip technician (UserType 9, user_<oid>@customer-domain, TokenTenantId=Wingtip) grants j.park@wingtip-partners.com Editor on the CEO Inbox -> j.park reads 31 items the next morning (ExternalUserTenantId=Wingtip, IP of his serviceProvider sign-in with homeTenantId=Wingtip). 21 h end to end.")
    expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=ORG, mailbox=U["ceo"], trustee="j.park@wingtip-partners.com",
           evidence_record_ids=[w_deleg["Id"]], why="Successful Add-MailboxFolderPermission Editor on the CEO Inbox.")
    expect(tenant_folder=F, analytic="AN1347", kind="any", customer_tenant_id=ORG, partner_tenant_id=WING, evidence_any_of=[[w_si1["id"], w_si2["id"], w_role["id"]]],
           why="Unknown partner Wingtip (not in trustpath.toml): GDAP role assignment and serviceProvider sign-ins.")

    # ---------------- ATTACK C-2: Relecloud XTAP update (UAL) → ApplicationImpersonation → EWS access ----------------
    r_xtap = ual_xtap(g, dt("2026-02-19T08:40:00"), ORG, RELE, op="Update a partner cross-tenant access setting.")
    r_role = ual_gdap_role(g, dt("2026-02-19T08:40:31"), ORG, RELE, "Exchange Administrator", "Relecloud HelpdeskAgents")
    r_si = graph_signin(g, dt("2026-02-19T09:31:45"), upn="m.ortiz@relecloud.com", display="Relecloud Services Technician", ip=RELE_IP, resource_tenant=ORG,
                        home_tenant=RELE, home_name="Relecloud Services", cta="serviceProvider", app=EXO_PS_APP, mfa=True, city=("Sao Paulo", "Sao Paulo", "BR"))
    r_imp = ual_exchange_admin(g, dt("2026-02-19T09:36:12"), ORG, ORGNAME, "New-ManagementRoleAssignment", "m.ortiz@relecloud.com",
                               P(Name="EWS-Sync-Relecloud", Role="ApplicationImpersonation", User="m.ortiz@relecloud.com"),
                               user_type=9, external=True, ip=RELE_IP, token_tenant=RELE, object_id="EWS-Sync-Relecloud")
    r_si2 = graph_signin(g, dt("2026-02-19T10:02:09"), upn="m.ortiz@relecloud.com", display="Relecloud Services Technician", ip=RELE_IP, resource_tenant=ORG,
                         home_tenant=RELE, home_name="Relecloud Services", cta="serviceProvider", app=("d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office"),
                         mfa=True, interactive=False, city=("Sao Paulo", "Sao Paulo", "BR"))
    r_acc = ual_mail_items_accessed(g, dt("2026-02-19T10:03:30"), ORG, ORGNAME, "m.ortiz@relecloud.com", U["finance.lead"], RELE_IP, logon_type=2, user_type=9,
                                    external=True, ext_tenant=RELE, folders=("\\Inbox", "\\Inbox\\Invoices"), nitems=40,
                                    client="Client=WebServices;ExchangeServicesClient/15.00.0913.015;", access="Bind")
    ual += [r_xtap, r_role, r_imp, r_acc]
    signins += [r_si, r_si2]
    expect(tenant_folder=F, analytic="AN1350", kind="alert", customer_tenant_id=ORG, partner_tenant_id=RELE, mailbox=U["finance.lead"], trustee="m.ortiz@relecloud.com",
           evidence_record_ids=[r_imp["Id"], r_acc["Id"]], evidence_any_of=[[r_xtap["Id"], r_role["Id"]]], related_record_ids=[r_si["id"], r_si2["id"]],
           why="GDAP change in the UAL (Update a partner cross-tenant access setting. for Relecloud + Add member to role. with TargetContextId=Relecloud) -> Relecloud technician (UserType 9) assigns himself ApplicationImpersonation -> EWS MailItemsAccessed on finance.lead by the same technician from 198.51.100.200, the IP of his serviceProvider sign-ins. 1h25m end to end.")
    expect(tenant_folder=F, analytic="AN1347", kind="any", customer_tenant_id=ORG, partner_tenant_id=RELE, evidence_any_of=[[r_si["id"], r_si2["id"], r_role["Id"]]],
           why="Unknown partner Relecloud: GDAP role and serviceProvider sign-ins.")

    # ---------------- LOOK-ALIKE C-L1: B2B cross-tenant setting by an internal admin, then internal delegation + access ----------------
    b2b = graph_audit(g, dt("2026-02-18T13:10:00"), "Add a partner to cross-tenant access setting", "CrossTenantAccessSettings",
                      initiated_user=(U["it.ops"], "198.18.120.5", ORG),
                      targets=[{"id": g.guid(), "displayName": None, "type": "Policy", "userPrincipalName": None, "groupType": None,
                                "modifiedProperties": [mp("tenantId", "[]", json.dumps([CONTOSO_B2B])),
                                                       mp("b2bCollaborationInbound", "[]", json.dumps([{"usersAndGroups": {"accessType": "allowed", "targets": [{"target": "AllUsers", "targetType": "user"}]}}]))]}])
    audits.append(b2b)
    b2b_si = graph_signin(g, dt("2026-02-18T14:00:00"), upn="ruth.adler@contoso.com", display="Ruth Adler", ip="203.0.113.15", resource_tenant=ORG, home_tenant=CONTOSO_B2B,
                          home_name="Contoso Ltd", cta="b2bCollaboration", user_type="guest", app=("00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"), mfa=True)
    signins.append(b2b_si)
    i_deleg = ual_exchange_admin(g, dt("2026-02-18T13:25:19"), ORG, ORGNAME, "Add-MailboxPermission", U["it.ops"],
                                 P(Identity=U["marketing-shared"], User=U["dana.lee"], AccessRights="FullAccess", InheritanceType="All"), user_type=2, ip="198.18.120.5",
                                 object_id=U["marketing-shared"])
    i_acc = ual_mail_items_accessed(g, dt("2026-02-18T13:52:00"), ORG, ORGNAME, U["dana.lee"], U["marketing-shared"], "198.18.120.7", logon_type=2)
    ual += [i_deleg, i_acc]
    silent(F, "AN1350", "Internal admin adds Contoso Ltd as a B2B collaboration org in cross-tenant access (no serviceProvider, not a delegated-admin relationship), then grants dana.lee FullAccess on marketing-shared, accessed from the office NAT; a Contoso guest signs in (b2bCollaboration).",
           [b2b["id"], b2b_si["id"], i_deleg["Id"], i_acc["Id"]])
    expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=ORG, mailbox=U["marketing-shared"], trustee=U["dana.lee"],
           evidence_record_ids=[i_deleg["Id"]], why="Successful Add-MailboxPermission FullAccess by the internal admin (no ticket in this tenant).")

    # ---------------- LOOK-ALIKE C-L2: Lucerne relationship only in Tailspin Labs; delegation+access in Tailspin ----------------
    l_xtap_labs = ual_xtap(g, dt("2026-02-16T15:00:00"), LABS, LUCERNE)
    l_si = graph_signin(g, dt("2026-02-16T15:40:00"), upn="p.weiss@lucerne-it.com", display="Lucerne Publishing IT Technician", ip=LUC_IP, resource_tenant=ORG,
                        home_tenant=LUCERNE, home_name="Lucerne Publishing IT", cta="serviceProvider", app=EXO_PS_APP, mfa=True, city=("Zurich", "Zurich", "CH"))
    l_deleg = ual_exchange_admin(g, dt("2026-02-16T15:44:00"), ORG, ORGNAME, "Add-RecipientPermission", "p.weiss@lucerne-it.com",
                                 P(Identity=U["eli.grant"], Trustee="p.weiss@lucerne-it.com", AccessRights="SendAs", Confirm="False"), user_type=9, external=True,
                                 ip=LUC_IP, token_tenant=LUCERNE, object_id=U["eli.grant"])
    l_acc = ual_mail_items_accessed(g, dt("2026-02-16T16:10:00"), ORG, ORGNAME, "p.weiss@lucerne-it.com", U["eli.grant"], LUC_IP, logon_type=2, user_type=9, external=True,
                                    ext_tenant=LUCERNE)
    ual += [l_xtap_labs, l_deleg, l_acc]
    signins.append(l_si)
    silent(F, "AN1350", "Lucerne: its XTAP serviceProvider relationship event belongs to another tenant (OrganizationId Tailspin Labs); in Tailspin it only delegates SendAs and reads, without a relationship event in Tailspin: no full chain in either tenant.",
           [l_xtap_labs["Id"], l_deleg["Id"], l_acc["Id"], l_si["id"]] + [r["Id"] for r in labs_noise])
    expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=ORG, mailbox=U["eli.grant"], trustee="p.weiss@lucerne-it.com",
           evidence_record_ids=[l_deleg["Id"]], why="Successful Add-RecipientPermission SendAs by a partner technician.")
    expect(tenant_folder=F, analytic="AN1347", kind="any", customer_tenant_id=ORG, partner_tenant_id=LUCERNE, evidence_record_ids=[l_si["id"]],
           why="Unknown partner Lucerne signs in to Tailspin as service provider.")

    # ---------------- AN1347 policy violations by approved partners (no delegation follows) ----------------
    coho_role = graph_audit(g, dt("2026-02-18T16:00:05"), "Add member to role", "RoleManagement", initiated_app=APP_OFFLINE, op_type="Assign",
                            targets=[{"id": g.guid(), "displayName": "Coho AdminAgents", "type": "Group", "userPrincipalName": None, "groupType": None,
                                      "modifiedProperties": [mp("Role.ObjectID", None, json.dumps(g.guid())), mp("Role.DisplayName", None, "\"Global Administrator\""),
                                                             mp("Role.TemplateId", None, json.dumps(ROLES["Global Administrator"][0])),
                                                             mp("Role.WellKnownObjectName", None, "\"TenantAdmins\"")]},
                                     {"id": g.guid(), "displayName": "Global Administrator", "type": "Role", "userPrincipalName": None, "groupType": None, "modifiedProperties": []}])
    coho_xtap = graph_audit(g, dt("2026-02-18T16:00:01"), "Update a partner cross-tenant access setting", "CrossTenantAccessSettings", initiated_app=APP_PCDA, op_type="Update",
                            targets=[{"id": g.guid(), "displayName": None, "type": "Policy", "userPrincipalName": None, "groupType": None,
                                      "modifiedProperties": [mp("tenantId", json.dumps([COHO]), json.dumps([COHO])), mp("isServiceProvider", "[true]", "[true]")]}])
    audits += [coho_xtap, coho_role]
    expect(tenant_folder=F, analytic="AN1347", kind="any", customer_tenant_id=ORG, partner_tenant_id=COHO, evidence_any_of=[[coho_role["id"]]],
           why="Approved partner Coho (approved_roles = Helpdesk Administrator) gets Global Administrator through GDAP: role outside approved_roles and outside RoleScopeAllowList. Inside its support window (10:00 America/Chicago).")
    alp_si = graph_signin(g, dt("2026-02-15T03:10:00"), upn="s.keller@alpineski-it.com", display="Alpine Ski IT Technician", ip="203.0.113.130", resource_tenant=ORG,
                          home_tenant=CONTOSO_MSP, home_name="Alpine Ski IT", cta="serviceProvider", app=PC_APP, mfa=True, city=("Innsbruck", "Tirol", "AT"))
    signins.append(alp_si)
    expect(tenant_folder=F, analytic="AN1347", kind="any", customer_tenant_id=ORG, partner_tenant_id=CONTOSO_MSP, evidence_record_ids=[alp_si["id"]],
           why="Approved partner Alpine Ski IT signs in on Sunday 03:10 UTC, outside its Mon-Fri 08:00-18:00 UTC support window.")
    mar_si = graph_signin(g, dt("2026-02-17T13:00:00"), upn="t.baker@margiestravel-it.com", display="Margie's Travel IT Technician", ip="203.0.113.140",
                          resource_tenant=ORG, home_tenant=MARGIE, home_name="Margie's Travel IT", cta="serviceProvider", app=PC_APP, mfa=False,
                          city=("Leeds", "England", "GB"))
    signins.append(mar_si)
    expect(tenant_folder=F, analytic="AN1347", kind="any", customer_tenant_id=ORG, partner_tenant_id=MARGIE, evidence_record_ids=[mar_si["id"]],
           why="Approved partner Margie's Travel IT signs in inside its window but with authenticationRequirement singleFactorAuthentication (RequiredMFA default true).")
    silent(F, "AN1350", "Accesses to the CEO and finance.lead mailboxes by their owners from the office NAT / home IPs (customer-side actors).",
           [r["Id"] for r in ual if r.get("Operation") == "MailItemsAccessed" and r["OrganizationId"] == ORG
            and r["MailboxOwnerUPN"] in (U["ceo"], U["finance.lead"]) and r["UserId"].endswith("@" + DOM)])
    silent(F, "AN1350", "Coho, Alpine Ski IT and Margie's Travel IT: relationship/sign-in only, no delegation and no mailbox access.", [coho_role["id"], coho_xtap["id"], alp_si["id"], mar_si["id"]])

    # ---------------- AN1052 hosts: NXLog (Europe/Paris) + MSExchange Management (evtx_dump) ----------------
    hd = Host(g, "TS-HELPDESK03.tailspin.local", "TAILSPIN", {"ps": 130200, "sec": 2200500})
    ex = Host(g, "EXCH01.tailspin.local", "TAILSPIN", {"exch": 45000})
    SID_HD = g.sid(3301)
    SID_OPS = g.sid(3302)
    nx, exch, silent_host = [], [], []
    # C-H1: 2-part script block, cmdlet name split across parts, concatenation and backticks
    t1 = dt("2026-02-19T15:31:07")
    sbid = g.guid()
    part1 = ("$t = '%s'\n$u = '%s'\n# refresh delegate list for finance\n$c = 'Add-Recipient" % (U["finance.lead"], "p.weiss@lucerne-it.com"))
    part2 = ("Permission'\n& ($c) -Identity $t -Trustee $u -AccessRights SendAs -Confirm:$false\n"
             "& ('Add-Mailbox'+'Permission') -Identity $t -User $u -AccessRights ('Full'+'Access') -InheritanceType All\n"
             "A`dd-Mailbox`FolderPermission -Identity \"$($t):\\Calendar\" -User $u -AccessRights Editor")
    ra, e = nx_4104(hd, t1, SID_HD, "TAILSPIN\\svc-helpdesk", part1, sbid, 1, 2)
    nx.append(e)
    rb, e = nx_4104(hd, t1, SID_HD, "TAILSPIN\\svc-helpdesk", part2, sbid, 2, 2)
    nx.append(e)
    rc, e = nx_4103(hd, t1 + timedelta(seconds=2), SID_HD, "TAILSPIN\\svc-helpdesk", "Add-RecipientPermission",
                    [("Identity", U["finance.lead"]), ("Trustee", "p.weiss@lucerne-it.com"), ("AccessRights", "SendAs"), ("Confirm", "False")],
                    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -File C:\\Tools\\sync-delegates.ps1")
    nx.append(e)
    h_ual1 = ual_exchange_admin(g, t1 + timedelta(seconds=5), ORG, ORGNAME, "Add-RecipientPermission", U["svc-helpdesk"],
                                P(Identity=U["finance.lead"], Trustee="p.weiss@lucerne-it.com", AccessRights="SendAs", Confirm="False"), user_type=2, ip="198.18.120.9",
                                object_id=U["finance.lead"])
    h_ual2 = ual_exchange_admin(g, t1 + timedelta(seconds=7), ORG, ORGNAME, "Add-MailboxPermission", U["svc-helpdesk"],
                                P(Identity=U["finance.lead"], User="p.weiss@lucerne-it.com", AccessRights="FullAccess", InheritanceType="All"), user_type=2, ip="198.18.120.9",
                                object_id=U["finance.lead"])
    h_ual3 = ual_exchange_admin(g, t1 + timedelta(seconds=8), ORG, ORGNAME, "Add-MailboxFolderPermission", U["svc-helpdesk"],
                                P(Identity=U["finance.lead"] + ":\\Calendar", User="p.weiss@lucerne-it.com", AccessRights="Editor"), user_type=2, ip="198.18.120.9",
                                object_id=U["finance.lead"] + ":\\Calendar")
    ual += [h_ual1, h_ual2, h_ual3]
    expect(tenant_folder=F, analytic="AN1052", kind="alert", customer_tenant_id=ORG, host=hd.computer, mailbox=U["finance.lead"], trustee="p.weiss@lucerne-it.com",
           evidence_any_of=[[win_id(hd.computer, ra), win_id(hd.computer, rb), win_id(hd.computer, rc)]], related_record_ids=[h_ual1["Id"], h_ual2["Id"], h_ual3["Id"]],
           why="4104 script block in 2 parts (same ScriptBlockId; 'Add-Recipient' | 'Permission' split across the boundary) runs Add-RecipientPermission SendAs via a variable, Add-MailboxPermission via string concatenation and Add-MailboxFolderPermission with backticks, granting finance.lead to an external partner account; 4103 confirms the binding. NXLog EventTime is Europe/Paris local time (UTC+1).")
    silent(F, "AN1350", "Internal svc-helpdesk grants finance.lead to the Lucerne account from the helpdesk host; Lucerne has no relationship event in Tailspin, so no chain.", [h_ual1["Id"], h_ual2["Id"], h_ual3["Id"]])
    for r, mbx in ((h_ual1, U["finance.lead"]), (h_ual2, U["finance.lead"]), (h_ual3, U["finance.lead"])):
        expect(tenant_folder=F, analytic="AN1051", kind="any", customer_tenant_id=ORG, mailbox=mbx, trustee="p.weiss@lucerne-it.com",
               evidence_record_ids=[r["Id"]], why="Successful %s granting finance.lead to an external account (from the TS-HELPDESK03 script)." % r["Operation"])
    # C-H2: on-prem Exchange management log: Set-Mailbox -GrantSendOnBehalfTo
    t2 = dt("2026-02-20T10:12:40")
    rx, e = evtx_msexch(ex, t2, 1, "Set-Mailbox", "-Identity \"tailspin.local/Users/Hana Ito\" -GrantSendOnBehalfTo \"tailspin.local/Users/Gus Ruiz\"",
                        "tailspin.local/Users/svc-helpdesk", SID_HD)
    exch.append(e)
    expect(tenant_folder=F, analytic="AN1052", kind="any", customer_tenant_id=ORG, host=ex.computer, mailbox=None, trustee=None,
           evidence_record_ids=[win_id(ex.computer, rx)],
           why="MSExchange Management event 1 (success): Set-Mailbox -GrantSendOnBehalfTo run by svc-helpdesk on the on-prem Exchange server (hybrid; no UAL counterpart). Mailbox/trustee given as AD names, not UPNs.")
    # negatives on the Exchange server and the helpdesk host
    for i, (eid, cmdlet, params) in enumerate([(1, "Get-MailboxPermission", "-Identity \"tailspin.local/Users/Ian Frost\""),
                                               (1, "Set-Mailbox", "-Identity \"tailspin.local/Users/Kai Berg\" -HiddenFromAddressListsEnabled \"True\""),
                                               (1, "Remove-MailboxPermission", "-Identity \"tailspin.local/Users/Jade Kaur\" -User \"tailspin.local/Users/Fay Wong\" -AccessRights \"FullAccess\" -Confirm \"False\""),
                                               (1, "Get-Mailbox", "-ResultSize \"Unlimited\"")]):
        r, e = evtx_msexch(ex, dt("2026-02-17T08:00:00") + timedelta(hours=7 * i), eid, cmdlet, params, "tailspin.local/Users/it.ops", SID_OPS)
        exch.append(e)
        silent_host.append(win_id(ex.computer, r))
    for i in range(30):
        r, e = evtx_msexch(ex, dt("2026-02-16T06:00:00") + timedelta(minutes=173 * i), 1,
                           g.pick(["Get-ExchangeServer", "Get-MailboxDatabase", "Get-Queue", "Get-TransportService", "Get-Mailbox"]),
                           g.pick(["-Status \"True\"", "", "-Identity \"EXCH01\""]), "tailspin.local/Microsoft Exchange System Objects/SystemMailbox", "S-1-5-18")
        exch.append(e)
    for i in range(45):
        t = dt("2026-02-16T07:30:00") + timedelta(minutes=151 * i)
        if i % 3 == 0:
            r, e = nx_4104(hd, t, SID_HD, "TAILSPIN\\svc-helpdesk", g.pick(["Get-MailboxPermission -Identity %s" % U[g.pick(users[:10])],
                                                                        "Get-Mailbox -Identity %s | Select-Object GrantSendOnBehalfTo" % U[g.pick(users[:10])],
                                                                        "Get-CASMailbox -ResultSize 20"]), g.guid())
            silent_host.append(win_id(hd.computer, r))
        else:
            img = g.pick(["C:\\Windows\\System32\\svchost.exe", "C:\\Program Files\\Microsoft\\Edge\\Application\\msedge.exe", "C:\\Windows\\System32\\mmc.exe"])
            r, e = nx_4688(hd, t, SID_HD, "TAILSPIN\\svc-helpdesk", img, "\"%s\"" % img, "C:\\Windows\\explorer.exe")
        nx.append(e)
    silent(F, "AN1052", "Read-only cmdlets, a non-permission Set-Mailbox and a Remove-MailboxPermission (MSExchange Management on EXCH01, 4104 on TS-HELPDESK03).", silent_host)

    ual.sort(key=ual_key)
    write_json(os.path.join(out, "ual-content-blob.json"), ual, indent=None)
    signins.sort(key=lambda r: r["createdDateTime"])
    write_json(os.path.join(out, "entra-signins-extractor.json"), signins, bom=True, indent=4)
    audits.sort(key=lambda r: r["activityDateTime"])
    write_jsonl(os.path.join(out, "entra-directoryaudits.jsonl"), audits)
    nx.sort(key=lambda e: (e["@timestamp"], e["RecordNumber"]))
    write_jsonl(os.path.join(out, "nxlog-TS-HELPDESK03.json"), nx)
    exch.sort(key=lambda e: e["Event"]["System"]["TimeCreated"]["#attributes"]["SystemTime"])
    write_jsonl(os.path.join(out, "EXCH01-msexchange-management.evtx.jsonl"), exch)
    with open(os.path.join(out, "trustpath.toml"), "w") as f:
        f.write('''# Tailspin Toys — context for trustpath. Wingtip, Relecloud and Lucerne are deliberately absent (unknown).
[[partners]]
name = "Coho Managed IT"
tenant_id = "%s"
approved = true
approved_roles = ["Helpdesk Administrator"]
support_windows = [ { days = ["mon", "tue", "wed", "thu", "fri"], start = "09:00", end = "17:00", timezone = "America/Chicago" } ]

[[partners]]
name = "Alpine Ski IT"
tenant_id = "%s"
approved = true
cidrs = ["203.0.113.128/28"]
support_windows = [ { days = ["mon", "tue", "wed", "thu", "fri"], start = "08:00", end = "18:00" } ]

[[partners]]
name = "Margie's Travel IT"
tenant_id = "%s"
approved = true
cidrs = ["203.0.113.136/29"]
support_windows = [ { days = ["mon", "tue", "wed", "thu", "fri"], start = "00:00", end = "24:00", timezone = "UTC" } ]

[sensitive_mailboxes]
executive = ["ceo@%s"]
finance = ["finance.*@%s"]
shared = ["*-shared@%s"]

[admins]
accounts = ["it.ops@%s", "TAILSPIN\\\\it.ops"]
hosts = ["TS-ADM01"]

[analytics.AN1347]
RequiredMFA = true
''' % (COHO, CONTOSO_MSP, MARGIE, DOM, DOM, DOM, DOM))
    return {"ual-content-blob.json": len(ual), "entra-signins-extractor.json": len(signins), "entra-directoryaudits.jsonl": len(audits),
            "nxlog-TS-HELPDESK03.json": len(nx), "EXCH01-msexchange-management.evtx.jsonl": len(exch), "org": ORG, "other": LABS}


def main():
    counts = {"tenant-northwind": tenant_northwind(), "tenant-woodgrove": tenant_woodgrove(), "tenant-tailspin": tenant_tailspin()}
    gt = {
        "format": "see README.md#ground-truth-format",
        "notes": ["Windows record ids are '<Computer>/<EventRecordID>' (Computer exactly as in the record).",
                  "evidence_record_ids: every id must be cited by the finding; evidence_any_of: for each inner list, at least one id must be cited.",
                  "related_record_ids: supporting records an engine may, but need not, cite (never wrong to cite)."],
        "expected": EXPECTED,
        "must_stay_silent": SILENT,
    }
    write_json(os.path.join(HERE, "ground-truth.json"), gt, indent=2)
    summary = {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")} for k, v in counts.items()}
    write_json(os.path.join(HERE, "counts.json"), summary, indent=2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
