"""Money arithmetic of invoices: integer cents, VAT in basis points, every rounding named.

Rules (docs/decisions.md, "Invoice arithmetic"):
- A line's net amount is its quantity times its unit price, rounded half away from zero to a
  cent once, on the line.
- VAT is computed per rate on the sum of the net amounts at that rate (not per line), rounded
  half away from zero to a cent; the invoice's total is the sum of the nets plus the sum of
  the VATs. A credit note's negative amounts round the same way as their positive mirror, so
  crediting an invoice in full gives exactly its negation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

GENERAL_VAT_BASIS_POINTS = 2550  # 25.5 % since 1.9.2024


def round_half_away(value: Decimal) -> int:
    """``value`` rounded to an integer, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def line_net_cents(quantity: Decimal, unit_cents: int) -> int:
    """The net amount of ``quantity`` units at ``unit_cents`` each, rounded once."""
    return round_half_away(quantity * unit_cents)


def vat_cents(net_cents: int, basis_points: int) -> int:
    """The VAT on ``net_cents`` at ``basis_points`` (2550 = 25.5 %)."""
    return round_half_away(Decimal(net_cents * basis_points) / 10_000)


@dataclass(frozen=True)
class VatRow:
    basis_points: int
    net_cents: int
    vat_cents: int

    @property
    def gross_cents(self) -> int:
        return self.net_cents + self.vat_cents


@dataclass(frozen=True)
class Totals:
    rows: tuple[VatRow, ...]  # one per rate, highest rate first

    @property
    def net_cents(self) -> int:
        return sum(row.net_cents for row in self.rows)

    @property
    def vat_cents(self) -> int:
        return sum(row.vat_cents for row in self.rows)

    @property
    def gross_cents(self) -> int:
        return self.net_cents + self.vat_cents


def totals(lines: Iterable[tuple[int, int]]) -> Totals:
    """The VAT breakdown of ``lines``, each ``(net_cents, vat_basis_points)``."""
    nets: dict[int, int] = defaultdict(int)
    for net, basis_points in lines:
        nets[basis_points] += net
    return Totals(
        tuple(
            VatRow(bp, net, vat_cents(net, bp))
            for bp, net in sorted(nets.items(), key=lambda item: -item[0])
        )
    )
