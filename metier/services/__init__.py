"""Functions that change the garage's state. Each takes keyword arguments and runs in at
most one transaction (`accept_demande` without a key is a single INSERT, its own
transaction); the API, the intake, the pipeline, the admin and the commands all call these.
`make_orders` and `reserve` (reparations.py) are the exception on purpose: they run inside
their caller's transaction, so that the worker's batch and `create_reparation` share them.

- `catalogue`: parts, clients, cars;
- `reparations`: repair orders, their lines and money, their lifecycle, stock;
- `demandes`: repair requests as the intake records them.
"""

from .catalogue import (
    create_client,
    create_piece,
    create_voiture,
    delete_client,
    delete_piece,
    delete_voiture,
    update_client,
    update_piece,
    update_voiture,
)
from .common import Conflict, NotFound
from .demandes import accept_demande, validate_duree
from .reparations import (
    ACTIONS,
    NouvelOrdre,
    add_ligne_main_oeuvre,
    add_ligne_piece,
    create_reparation,
    delete_ligne_main_oeuvre,
    delete_ligne_piece,
    delete_reparation,
    lock_pieces,
    make_orders,
    receive_stock,
    totals,
    transition,
    update_ligne_main_oeuvre,
    update_ligne_piece,
    update_reparation,
)

__all__ = [
    "ACTIONS",
    "Conflict",
    "NotFound",
    "NouvelOrdre",
    "accept_demande",
    "add_ligne_main_oeuvre",
    "add_ligne_piece",
    "create_client",
    "create_piece",
    "create_reparation",
    "create_voiture",
    "delete_client",
    "delete_ligne_main_oeuvre",
    "delete_ligne_piece",
    "delete_piece",
    "delete_reparation",
    "delete_voiture",
    "lock_pieces",
    "make_orders",
    "receive_stock",
    "totals",
    "transition",
    "update_client",
    "update_ligne_main_oeuvre",
    "update_ligne_piece",
    "update_piece",
    "update_reparation",
    "update_voiture",
    "validate_duree",
]
