"""The asynchronous path from an accepted repair request to its repair order.

- `messages.py`: the message on the `garage` queue, both ways (encode, decode, RepairRequest);
- `outbox.py`: publishing accepted requests after their commit, and the relay that publishes
  what is left in the outbox;
- `demandes.py`: the request's states that only the pipeline sets, and the batch → orders
  transaction (`process_demandes`);
- `handler.py`: the worker's batch handler;
- `management/commands/`: `consume` (the worker), `relay`, `dlq`, `queues`.
"""
