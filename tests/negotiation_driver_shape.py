"""WCF's exact element order of each negotiation body (NEGOTIATION.md §1.3 step 2, §1.4 step 4, §2.1).

WCF itself reads leniently (by name); these checks are stricter on purpose: ``strict=True`` on the driver's client or
service uses them to show that the *other* implementation writes what WCF writes.  ``shape_problems`` returns a list
of human-readable problems (empty = WCF's shape).
"""

from __future__ import annotations

from lxml import etree

from negotiation_driver_xml import WSA, WSP, WSSE, WSU, XENC, Version

#: §1.3 step 2: the client's RST children, in the writer's order (no AppliesTo, no Entropy)
RST_CHILDREN = ["TokenType", "RequestType", "KeySize", "BinaryExchange"]
#: §1.4 step 4: RSTR#1 children in WCF's writer order; AppliesTo and BinaryExchange are optional
FINAL_CHILDREN = [
    "TokenType",
    "RequestedSecurityToken",
    "AppliesTo",
    "RequestedAttachedReference",
    "RequestedUnattachedReference",
    "RequestedProofToken",
    "Lifetime",
    "KeySize",
    "BinaryExchange",
]
OPTIONAL_FINAL = {"AppliesTo", "BinaryExchange"}


def _children(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str)]


def _names(el: etree._Element, version: Version) -> list[str]:
    """Local names of the children, each checked to be in the namespace WCF writes it in."""
    expected_ns = {"AppliesTo": WSP}
    names = []
    for child in _children(el):
        qname = etree.QName(child)
        ns = expected_ns.get(qname.localname, version.trust)
        names.append(qname.localname if qname.namespace == ns else f"{{{qname.namespace}}}{qname.localname}")
    return names


def _order(found: list[str], expected: list[str], optional: set[str], what: str) -> list[str]:
    wanted = [n for n in expected if n not in optional or n in found]
    return [] if found == wanted else [f"{what} children {found}, WCF writes {wanted}"]


def _proof(rstr1: etree._Element, version: Version) -> list[str]:
    """§2.1: EncryptedKey without Id and KeyInfo: EncryptionMethod, CipherData/CipherValue."""
    key = rstr1.find(f"{version.t('RequestedProofToken')}/{{{XENC}}}EncryptedKey")
    if key is None:
        return ["no RequestedProofToken/EncryptedKey"]
    problems = [f"EncryptedKey has attribute {etree.QName(name).localname}" for name in key.attrib]
    found = [etree.QName(c).localname for c in _children(key)]
    if found != ["EncryptionMethod", "CipherData"]:
        problems.append(f"EncryptedKey children {found}, WCF writes EncryptionMethod, CipherData")
    return problems


def _references(rstr1: etree._Element, version: Version) -> list[str]:
    """§1.5 (§1.4 step 5): attached = Reference URI="#<wsu:Id>" without ValueType, unattached = Identifier + sct."""
    sct = rstr1.find(f"{version.t('RequestedSecurityToken')}/{{{version.sc}}}SecurityContextToken")
    if sct is None:
        return ["no RequestedSecurityToken/SecurityContextToken"]
    identifier = (sct.findtext(f"{{{version.sc}}}Identifier") or "").strip()
    ref = f"{{{WSSE}}}SecurityTokenReference/{{{WSSE}}}Reference"
    attached = rstr1.find(f"{version.t('RequestedAttachedReference')}/{ref}")
    unattached = rstr1.find(f"{version.t('RequestedUnattachedReference')}/{ref}")
    problems = []
    if attached is None or {str(k): v for k, v in attached.attrib.items()} != {
        "URI": "#" + sct.get(f"{{{WSU}}}Id", "")
    }:
        problems.append("attached reference is not Reference URI=#<SCT wsu:Id> alone")
    if unattached is None or {str(k): v for k, v in unattached.attrib.items()} != {
        "URI": identifier,
        "ValueType": version.token_type,
    }:
        problems.append("unattached reference is not Reference URI=<Identifier> ValueType=<sct>")
    return problems


def shape_problems(body: etree._Element, version: Version) -> list[str]:
    """Problems of an RST (first leg), a Context+BinaryExchange RSTR (later legs) or a final RSTRC."""
    kind = etree.QName(body).localname
    if body.tag == version.t("RequestSecurityToken"):
        return _order(_names(body, version), RST_CHILDREN, set(), "RST")
    if body.tag == version.t("RequestSecurityTokenResponse"):
        return _order(_names(body, version), ["BinaryExchange"], set(), "RSTR")
    if body.tag != version.t("RequestSecurityTokenResponseCollection"):
        return [f"{kind} is not a negotiation body of WS-Trust {version.name}"]
    rstrs = _children(body)
    if len(rstrs) != 2:
        return [f"RSTRC has {len(rstrs)} children, WCF writes two RSTRs"]
    rstr1, rstr2 = rstrs
    problems = _order(_names(rstr1, version), FINAL_CHILDREN, OPTIONAL_FINAL, "RSTR#1")
    problems += _order(_names(rstr2, version), ["Authenticator"], set(), "RSTR#2")
    authenticator = [etree.QName(c).localname for c in _children(rstr2[0])] if len(rstr2) else []
    if authenticator != ["CombinedHash"]:
        problems.append(f"Authenticator children {authenticator}, WCF writes CombinedHash")
    applies_to = rstr1.find(f"{{{WSP}}}AppliesTo")
    if applies_to is not None and applies_to.find(f"{{{WSA}}}EndpointReference") is None:
        problems.append("AppliesTo without a WS-Addressing 1.0 EndpointReference")
    return problems + _proof(rstr1, version) + _references(rstr1, version)
