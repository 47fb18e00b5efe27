"""Functions that change the garage's state. Each runs in one transaction and takes keyword
arguments; the API, the intake, the worker, the admin and the commands all call these.

- `catalogue`: parts, clients, cars;
- `reparations`: repair orders, their lines and money, their lifecycle, stock;
- `demandes`: repair requests, from the intake to the worker's batches;
- `devis`: estimates, their approval link and the customer's answer.
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
from .demandes import (
    RepairRequest,
    Result,
    accept_demande,
    mark_published,
    mark_republished,
    process_demandes,
    reopen_demandes,
    validate_duree,
)
from .devis import (
    LienInvalide,
    LigneProposee,
    Reponse,
    annuler_devis,
    create_devis,
    devis_du_lien,
    envoyer_devis,
    repondre_devis,
)
from .reparations import (
    ACTIONS,
    add_ligne_main_oeuvre,
    add_ligne_piece,
    create_reparation,
    delete_ligne_main_oeuvre,
    delete_ligne_piece,
    delete_reparation,
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
    "LienInvalide",
    "LigneProposee",
    "NotFound",
    "RepairRequest",
    "Reponse",
    "Result",
    "accept_demande",
    "add_ligne_main_oeuvre",
    "add_ligne_piece",
    "annuler_devis",
    "create_client",
    "create_devis",
    "create_piece",
    "create_reparation",
    "create_voiture",
    "delete_client",
    "delete_ligne_main_oeuvre",
    "delete_ligne_piece",
    "delete_piece",
    "delete_reparation",
    "delete_voiture",
    "devis_du_lien",
    "envoyer_devis",
    "mark_published",
    "mark_republished",
    "process_demandes",
    "receive_stock",
    "reopen_demandes",
    "repondre_devis",
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
