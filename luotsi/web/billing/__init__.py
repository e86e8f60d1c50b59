"""Billing pages: invoices, their lines and outputs, and the billing settings."""
