"""The domain's bounds, each defined once. The models (fields, validators, check
constraints), the API's serializers and schema, the intake and the message decoder all read
them from here, so a bound changed here changes everywhere.

Constants, not settings: database check constraints and migrations are built from some of
them, and a bound that differs between two processes would make one accept what the other
refuses.
"""

from decimal import Decimal

# A repair's labour, in whole hours (`duree`); a labour line's hours are decimals from
# HEURES_MIN up to the same maximum.
DUREE_MIN = 1
DUREE_MAX = 1000
HEURES_MIN = Decimal("0.25")

# The customer's complaint (`description`), in characters.
DESCRIPTION_MAX = 2000

# An id sent by a client or another program (part, car): positive, and small enough for a
# 64-bit column with room to spare.
ID_MIN = 1
ID_MAX = 2**62 - 1

# Money and stock.
PRIX_MAX = Decimal("99999999.99")
QUANTITE_STOCK_MAX = 1_000_000  # initial stock of a part, or one delivery
STOCK_MAX = 1_000_000  # a part's stock on the shelf, whatever the deliveries (a check constraint)

# A registration plate, once written canonically (letters and digits only).
IMMATRICULATION_MAX = 15
