"""comms_core: the reference science of the collective-communication lab.

Cost models (α-β), step-by-step AllReduce simulators, compression with error feedback,
gossip averaging, jitter Monte Carlo, the four tracks' scenarios, and the lab's figures.
Depends on numpy and matplotlib only; the course tooling (commslab) depends on it.
"""

from comms_core.cost_models import (
    crossover_message_size,
    double_binary_tree_allreduce_time,
    flat_ring_allreduce_time,
    hierarchical_allreduce_time,
    hierarchical_breakdown,
    optimal_accumulation_steps,
    recursive_halving_doubling_time,
    ring_allreduce_time,
    time_to_train,
    tree_allreduce_time,
)

__all__ = [
    "crossover_message_size",
    "double_binary_tree_allreduce_time",
    "flat_ring_allreduce_time",
    "hierarchical_allreduce_time",
    "hierarchical_breakdown",
    "optimal_accumulation_steps",
    "recursive_halving_doubling_time",
    "ring_allreduce_time",
    "time_to_train",
    "tree_allreduce_time",
]
