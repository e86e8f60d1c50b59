"""Billing pages: invoices and the billing settings."""
