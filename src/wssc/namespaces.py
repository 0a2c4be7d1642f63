"""XML namespaces and algorithm identifiers shared by every layer.

Version-dependent WS-SecureConversation and WS-Trust names live in :mod:`wssc.versions`.
"""

from __future__ import annotations

from typing import Final

# SOAP (SOAP 1.1 section 4, SOAP 1.2 part 1 section 5)
SOAP11: Final = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12: Final = "http://www.w3.org/2003/05/soap-envelope"

# OASIS WS-Security 1.0 / 1.1
WSSE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSSE11: Final = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
WSS_SOAP_MESSAGE_SECURITY: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0"
BASE64_ENCODING: Final = WSS_SOAP_MESSAGE_SECURITY + "#Base64Binary"
WSS11_TOKEN_PROFILE: Final = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1"
ENCRYPTED_KEY_SHA1: Final = WSS11_TOKEN_PROFILE + "#EncryptedKeySHA1"
ENCRYPTED_KEY_TOKEN_TYPE: Final = WSS11_TOKEN_PROFILE + "#EncryptedKey"
THUMBPRINT_SHA1: Final = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
X509_PROFILE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0"
X509V3: Final = X509_PROFILE + "#X509v3"
X509V1: Final = X509_PROFILE + "#X509v1"
X509_SKI: Final = X509_PROFILE + "#X509SubjectKeyIdentifier"

# XML Signature and XML Encryption
DS: Final = "http://www.w3.org/2000/09/xmldsig#"
XENC: Final = "http://www.w3.org/2001/04/xmlenc#"
XENC11: Final = "http://www.w3.org/2009/xmlenc11#"
DSIG_MORE: Final = "http://www.w3.org/2001/04/xmldsig-more#"
EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
XENC_ELEMENT: Final = XENC + "Element"
XENC_CONTENT: Final = XENC + "Content"

# WS-Addressing
WSA10: Final = "http://www.w3.org/2005/08/addressing"
WSA200408: Final = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSA_NAMESPACES: Final = frozenset({WSA10, WSA200408})

# WS-Policy / WS-SecurityPolicy
WSP12: Final = "http://schemas.xmlsoap.org/ws/2004/09/policy"
WSP15: Final = "http://www.w3.org/ns/ws-policy"
SP11: Final = "http://schemas.xmlsoap.org/ws/2005/07/securitypolicy"
SP12: Final = "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"

# Microsoft WCF extensions (SPEC-NOTES section 1)
DNSE: Final = "http://schemas.microsoft.com/ws/2006/05/security"
MSSP: Final = "http://schemas.microsoft.com/ws/2005/07/securitypolicy"

XML: Final = "http://www.w3.org/XML/1998/namespace"


def qn(ns: str, local: str) -> str:
    """Clark notation ``{ns}local`` as lxml uses it."""
    return "{" + ns + "}" + local


WSU_ID: Final = qn(WSU, "Id")
