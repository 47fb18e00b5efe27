"""Functions that change the garage's state. Each takes keyword arguments and runs in at
most one transaction (`accept_demande` without a key is a single INSERT, its own
transaction); the API, the intake, the pipeline, the admin and the commands all call these.
`make_orders` and `reserve` (reparations.py) are the exception on purpose: they run inside
their caller's transaction, so that the worker's batch and `create_reparation` share them.

- `catalogue`: parts, clients, cars;
- `reparations`: repair orders, their lines and money, their lifecycle, stock;
- `demandes`: repair requests as the intake records them;
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
from .demandes import accept_demande, check_demande, enregistrer_demandes, validate_duree
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
    "LienInvalide",
    "LigneProposee",
    "NotFound",
    "NouvelOrdre",
    "Reponse",
    "accept_demande",
    "add_ligne_main_oeuvre",
    "add_ligne_piece",
    "annuler_devis",
    "check_demande",
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
    "enregistrer_demandes",
    "envoyer_devis",
    "lock_pieces",
    "make_orders",
    "receive_stock",
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

# Invoicing (issue 11, part B).
from .factures import emettre_avoir, emettre_facture, travaux_refuses
from .paiements import enregistrer_paiement, montant_approuve, reste_du, statut_paiement
from .remboursements import enregistrer_remboursement, verifier_remboursement
from .remboursements import etat as etat_remboursement

__all__ += [
    "emettre_avoir",
    "emettre_facture",
    "enregistrer_paiement",
    "enregistrer_remboursement",
    "etat_remboursement",
    "montant_approuve",
    "reste_du",
    "statut_paiement",
    "travaux_refuses",
    "verifier_remboursement",
]
