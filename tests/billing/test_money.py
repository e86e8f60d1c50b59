"""Invoice arithmetic: cents, VAT per rate on the rate's sum, halves away from zero."""

from __future__ import annotations

from decimal import Decimal

from luotsi.billing.money import line_net_cents, totals, vat_cents


def test_vat_is_rounded_half_away_from_zero() -> None:
    assert vat_cents(10_000, 2550) == 2550
    assert vat_cents(2, 2500) == 1  # 0.5 cents -> 1
    assert vat_cents(-2, 2500) == -1  # a credit rounds like its mirror
    assert vat_cents(1, 2550) == 0  # 0.255 cents -> 0
    assert vat_cents(12_345, 2550) == 3148  # 3147.975 -> 3148
    assert vat_cents(-12_345, 2550) == -3148
    assert vat_cents(99_999, 0) == 0


def test_a_lines_net_is_rounded_once_on_the_line() -> None:
    assert line_net_cents(Decimal("1.5"), 12_001) == 18_002  # 18001.5 -> 18002
    assert line_net_cents(Decimal("-1.5"), 12_001) == -18_002
    assert line_net_cents(Decimal(3), 15_000) == 45_000


def test_vat_is_computed_per_rate_on_the_rates_sum() -> None:
    # Three lines of 0.33 € at 25.5 %: per line 0.084 -> 0.08 each (0.24); on the sum 0.99 ->
    # 0.25245 -> 0.25. The sum is the rule.
    result = totals([(33, 2550), (33, 2550), (33, 2550), (12_000, 0)])
    assert [(r.basis_points, r.net_cents, r.vat_cents) for r in result.rows] == [
        (2550, 99, 25),
        (0, 12_000, 0),
    ]
    assert (result.net_cents, result.vat_cents, result.gross_cents) == (12_099, 25, 12_124)


def test_crediting_an_invoice_in_full_gives_exactly_its_negation() -> None:
    lines = [(12_345, 2550), (4_999, 2550), (7_777, 1000), (100, 0)]
    invoice = totals(lines)
    credit = totals([(-net, bp) for net, bp in lines])
    assert credit.gross_cents == -invoice.gross_cents
    assert [r.vat_cents for r in credit.rows] == [-r.vat_cents for r in invoice.rows]


def test_no_lines_no_totals() -> None:
    assert totals([]).gross_cents == 0
    assert totals([]).rows == ()
