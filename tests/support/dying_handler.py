"""The worker's batch handler for the fault suite: the real one, after which the process
kills itself, with the probability in GARAGE_TEST_DIE_AFTER_COMMIT, once the batch is
committed and before the consumer acks it: the window redeliveries come from.

Selected by GARAGE_BATCH_HANDLER=tests.support.dying_handler.handle_batch; production code
knows nothing of it.
"""

from __future__ import annotations

import os
import random
import signal

from messaging.consumer import Delivery, Outcome
from pipeline.handler import handle_batch as real_handle_batch

DIE_AFTER_COMMIT = float(os.environ.get("GARAGE_TEST_DIE_AFTER_COMMIT") or 0)


def handle_batch(batch: list[Delivery]) -> list[Outcome]:
    outcomes = real_handle_batch(batch)  # committed when it returns
    if random.random() < DIE_AFTER_COMMIT:
        os.kill(os.getpid(), signal.SIGKILL)
    return outcomes
