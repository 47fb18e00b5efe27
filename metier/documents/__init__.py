"""The documents the garage hands out: estimates, invoices and credit notes as PDF, invoices
as Factur-X (PDF/A-3 with the embedded CII XML). Pure functions of the records: the same
record always gives the same content."""

from .facturx import facture_facturx, facture_xml
from .pdf import avoir_pdf, devis_pdf, facture_pdf

__all__ = ["avoir_pdf", "devis_pdf", "facture_facturx", "facture_pdf", "facture_xml"]
