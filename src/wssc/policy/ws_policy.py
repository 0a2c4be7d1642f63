"""WS-Policy normalisation for both namespaces (WS-Policy 1.5 ``http://www.w3.org/ns/ws-policy`` and the 2004/09
submission WCF, Metro and CXF still publish), on untrusted documents.

A policy expression (``wsp:Policy``, ``wsp:All``, ``wsp:ExactlyOne``, ``wsp:PolicyReference``, assertions with
``wsp:Optional``) becomes its normal form (WS-Policy 1.5 section 4.1): a tuple of alternatives, each a tuple of
:class:`Assertion`.  Nested policies are expanded so that every assertion carries at most one nested alternative
(section 4.3.2).  References resolve only within the document, by ``wsu:Id``, ``xml:id`` or ``Id`` (``#id``) or by
``Name`` (sections 4.2, 4.3.4); anything else, a dangling reference or a reference cycle is a :class:`PolicyError`.
Alternatives, assertions and nesting are bounded so that a hostile document cannot make us expand it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import WsscError
from wssc.primitives.xml import Element

WSP_NAMESPACES: Final = frozenset({ns.WSP12, ns.WSP15})
SP_NAMESPACES: Final = frozenset({ns.SP11, ns.SP12})
#: Alternatives of any one policy expression (WCF, CXF and Metro publish one; WSS4J's tests a handful).
MAX_POLICY_ALTERNATIVES: Final = 64
#: Work on one document, in assertions: those built while normalising, plus those of every alternative handed
#: out (:meth:`Normaliser.charge`), nested policies expanded.  The 250 KB WS-SX interop WSDL (23 bindings, 46
#: messages) costs 6,400, a WCF service of 500 operations about 100,000 per binding; the bound stops documents
#: whose references multiply their assertions.
MAX_POLICY_ASSERTIONS: Final = 1_000_000
#: Policy elements nested in one another, references followed: WCF's secure-conversation policies nest
#: about 20 levels; the bound keeps reference chains (and the recursion that follows them) short.
MAX_POLICY_DEPTH: Final = 64

_OPERATORS: Final = frozenset({"Policy", "All", "ExactlyOne", "PolicyReference"})
_ID_ATTRIBUTES: Final = (ns.WSU_ID, ns.qn(ns.XML, "id"), "Id")


class PolicyError(WsscError):
    """A policy document wssc refuses: malformed, hostile (reference cycles, external references,
    alternative explosions) or self-contradictory."""

    reason = "The WS-Policy document is malformed or refused"


@dataclass(frozen=True)
class Assertion:
    """One assertion of a normal-form alternative (WS-Policy 1.5 section 4.1).  ``nested`` is the one
    alternative of its nested policy after expansion (section 4.3.2), None when it has no nested policy."""

    namespace: str
    local: str
    element: Element = field(compare=False, repr=False)
    nested: tuple[Assertion, ...] | None = None
    #: this assertion and those of its nested policy, expanded (what a walk over it visits)
    size: int = field(default=1, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The Clark name, ``{namespace}local`` (just ``local`` without a namespace)."""
        return ns.qn(self.namespace, self.local) if self.namespace else self.local

    @property
    def key(self) -> str:
        """The SP local name (``mssp:`` prefixed for WCF's extensions); the Clark name for anything else."""
        if self.namespace in SP_NAMESPACES:
            return self.local
        return "mssp:" + self.local if self.namespace == ns.MSSP else self.name


Alternative = tuple[Assertion, ...]
Alternatives = tuple[Alternative, ...]


def is_policy_element(element: Element, local: str) -> bool:
    """True for ``wsp:<local>`` in either WS-Policy namespace."""
    q = etree.QName(element)
    return q.namespace in WSP_NAMESPACES and q.localname == local


def child_elements(element: Element) -> Iterator[Element]:
    """The element children, comments and processing instructions skipped."""
    return (child for child in element if isinstance(child.tag, str))


def _is_true(element: Element, local: str) -> bool:
    """A ``wsp:`` boolean attribute (xs:boolean) in either namespace."""
    return any(element.get(ns.qn(wsp, local), "").strip() in ("true", "1") for wsp in WSP_NAMESPACES)


class Normaliser:
    """Normal forms of the policy expressions of one document, references resolved within it."""

    def __init__(self, document: Element) -> None:
        self._by_fragment: dict[str, Element] = {}
        self._by_name: dict[str, Element] = {}
        for policy in document.iter(*(ns.qn(wsp, "Policy") for wsp in WSP_NAMESPACES)):
            for attribute in _ID_ATTRIBUTES:
                if (value := policy.get(attribute)) is not None:
                    self._index(self._by_fragment, value, policy)
            if (name := policy.get("Name")) is not None:
                self._index(self._by_name, name, policy)
        self._cache: dict[Element, Alternatives] = {}
        self._following: list[Element] = []
        self._depth = 0
        self._work = 0

    @staticmethod
    def _index(index: dict[str, Element], key: str, policy: Element) -> None:
        if key in index and index[key] is not policy:
            raise PolicyError(f"two policies named {key!r}")
        index[key] = policy

    def policy(self, element: Element) -> Alternatives:
        """The normal form of a policy expression element (``wsp:Policy``, ``wsp:All``, ``wsp:ExactlyOne``,
        ``wsp:PolicyReference``) or of a single assertion."""
        self._depth += 1
        try:
            if self._depth > MAX_POLICY_DEPTH:
                raise PolicyError(f"policy nested deeper than {MAX_POLICY_DEPTH} levels")
            q = etree.QName(element)
            if q.namespace not in WSP_NAMESPACES or q.localname not in _OPERATORS:
                return self._assertion(element, q)
            if q.localname == "ExactlyOne":
                return self._union(self.policy(child) for child in child_elements(element))
            if q.localname == "PolicyReference":
                return self.reference(element.get("URI"))
            return self.conjunction(self.policy(child) for child in child_elements(element))
        finally:
            self._depth -= 1

    def reference(self, uri: str | None) -> Alternatives:
        """The policy ``uri`` names in this document (WS-Policy 1.5 section 4.3.4): ``#id`` or a policy's Name."""
        if not uri or not uri.strip():
            raise PolicyError("policy reference without a URI")
        uri = uri.strip()
        target = self._by_fragment.get(uri[1:]) if uri.startswith("#") else self._by_name.get(uri)
        if target is None:
            if uri.startswith("#"):
                raise PolicyError(f"policy reference {uri!r} names no policy of the document")
            raise PolicyError(f"external policy reference {uri!r} refused: only references within the document")
        cached = self._cache.get(target)
        if cached is not None:
            return cached
        if any(target is active for active in self._following):
            raise PolicyError(f"policy reference cycle through {uri!r}")
        self._following.append(target)
        try:
            result = self.policy(target)
        finally:
            self._following.pop()
        self._cache[target] = result
        return result

    def conjunction(self, terms: Iterable[Alternatives]) -> Alternatives:
        """``wsp:All`` (section 4.3.3), also how attached policies merge: one alternative per combination.
        Every assertion copied into the result is paid for before it is copied."""
        common: list[Assertion] = []
        choices: list[Alternatives] = []
        for alternatives in terms:
            if len(alternatives) == 1:
                self._spend(len(alternatives[0]))
                common.extend(alternatives[0])
            else:
                choices.append(alternatives)
        result: Alternatives = (tuple(common),)
        for alternatives in choices:
            if len(result) * len(alternatives) > MAX_POLICY_ALTERNATIVES:
                raise PolicyError(f"policy with more than {MAX_POLICY_ALTERNATIVES} alternatives refused")
            self._spend(sum(len(left) for left in result) * len(alternatives))
            self._spend(sum(len(right) for right in alternatives) * len(result))
            result = tuple(left + right for left in result for right in alternatives)
        return result

    def charge(self, alternatives: Alternatives) -> Alternatives:
        """Account for alternatives handed out to be read: their assertions, nested policies expanded."""
        self._spend(sum(a.size for alternative in alternatives for a in alternative))
        return alternatives

    def _spend(self, assertions: int) -> None:
        self._work += assertions
        if self._work > MAX_POLICY_ASSERTIONS:
            raise PolicyError(f"policy document expands to more than {MAX_POLICY_ASSERTIONS} assertions")

    @staticmethod
    def _union(terms: Iterable[Alternatives]) -> Alternatives:
        result: list[Alternative] = []
        for alternatives in terms:
            result.extend(alternatives)
            if len(result) > MAX_POLICY_ALTERNATIVES:
                raise PolicyError(f"policy with more than {MAX_POLICY_ALTERNATIVES} alternatives refused")
        return tuple(result)

    def _assertion(self, element: Element, q: etree.QName) -> Alternatives:
        nested = [child for child in child_elements(element) if is_policy_element(child, "Policy")]
        if len(nested) > 1:
            raise PolicyError(f"{element.tag} has more than one nested policy")
        namespace = q.namespace or ""
        if nested:
            variants = [
                Assertion(namespace, q.localname, element, alt, 1 + sum(a.size for a in alt))
                for alt in self.policy(nested[0])
            ]
        else:
            variants = [Assertion(namespace, q.localname, element)]
        self._spend(len(variants))
        alternatives = tuple((variant,) for variant in variants)
        if _is_true(element, "Optional"):  # section 4.3.1: an empty alternative, and one with the assertion
            return self._union([((),), alternatives])
        return alternatives
