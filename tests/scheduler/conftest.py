"""Codes the runtime must run, each with workers it can afford to lose, and operand makers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import coded
from coded import MDSCode
from coded.replication import Replication

P = 65537


@dataclass(frozen=True)
class Product:
    """A matrix-product code, and workers that may straggle while it still decodes."""

    id: str
    code: coded.Code
    stragglers: tuple[int, ...]

    def operands(self, rng, m=24, d=10, c=3):
        if self.code.field.exact:
            return rng.integers(0, P, (m, d)), rng.integers(0, P, (d, c))
        return rng.standard_normal((m, d)), rng.standard_normal((d, c))

    def expected(self, A, B):
        if self.code.field.exact:
            return coded.gf_matmul(A, B, P)
        return A @ B


def _products() -> list[Product]:
    products = [
        Product("MDS(8,6)-real", MDSCode(8, 6), (0, 5)),
        Product("MDS(8,6)-sys-real", MDSCode(8, 6, systematic=True), (1, 2)),
        Product(f"MDS(8,5)-GF({P})", MDSCode(8, 5, field=P), (2, 3, 7)),
        Product("Replication(8,2)", Replication(8, 2), (0, 1)),
    ]
    product_codes = {
        "PolynomialCode": [
            ("(8,2,3)-real", (8, 2, 3), {}, (0, 4)),
            (f"(8,2,2)-GF({P})", (8, 2, 2), {"field": P}, (1, 5, 6, 7)),
        ],
        "MatDotCode": [
            ("(8,3)-real", (8, 3), {}, (2, 3, 6)),
            (f"(8,2)-GF({P})", (8, 2), {"field": P}, (0, 7)),
        ],
        "EntangledPolynomialCode": [
            ("(8,2,1,2)-real", (8, 2, 1, 2), {}, (3,)),
            (f"(8,2,1,2)-GF({P})", (8, 2, 1, 2), {"field": P}, (1, 2, 4)),
        ],
    }
    for name, cases in product_codes.items():
        cls = getattr(coded, name, None)
        if cls is None:  # written concurrently; run once it exists
            continue
        for suffix, args, kwargs, stragglers in cases:
            products.append(Product(name + suffix, cls(*args, **kwargs), stragglers))
    return products


PRODUCTS = _products()


@pytest.fixture(params=PRODUCTS, ids=[p.id for p in PRODUCTS])
def product(request) -> Product:
    return request.param
