"""Invoices and credit notes: gap-free numbers, integer totals, PDFs in the organization's language."""
